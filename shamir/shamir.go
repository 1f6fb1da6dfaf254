// Package shamir implements k-of-n secret sharing (Shamir, "How to share a
// secret", CACM 1979) over GF(2^8) with the AES reduction polynomial
// x^8 + x^4 + x^3 + x + 1, byte by byte.
//
// The field arithmetic is constant time: multiplication is a fixed
// eight-round shift-and-add with masks, inversion is exponentiation to 254
// with a fixed chain, and no table is indexed by a secret value.
//
// A share of x-coordinate 0 would be the secret itself; x-coordinates are
// therefore 1..255 and a share's ID is its x-coordinate.
package shamir

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// Errors returned by Split and Combine.
var (
	ErrParams       = errors.New("shamir: invalid parameters")
	ErrShares       = errors.New("shamir: invalid shares")
	ErrDuplicateID  = errors.New("shamir: duplicate share id")
	ErrTooFewShares = errors.New("shamir: too few shares")
)

// MaxShares is the largest n: x-coordinates are the nonzero field elements.
const MaxShares = 255

// Share is one point of the sharing polynomials: ID is the x-coordinate
// (1..255), Value[j] is the j-th byte's polynomial evaluated at ID.
type Share struct {
	ID    byte
	Value []byte
}

// gfMul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1 in constant time.
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 8; i++ {
		// mask is 0xff when the low bit of b is set, 0 otherwise.
		p ^= a & -(b & 1)
		hi := -(a >> 7) // 0xff when the top bit of a is set
		a = (a << 1) ^ (0x1b & hi)
		b >>= 1
	}
	return p
}

// gfInv returns a^254 = a^-1 (and 0 for 0) with a fixed multiplication chain.
func gfInv(a byte) byte {
	// 254 = 0b11111110: square-and-multiply with a data-independent schedule.
	a2 := gfMul(a, a)    // a^2
	a3 := gfMul(a2, a)   // a^3
	a6 := gfMul(a3, a3)  // a^6
	a7 := gfMul(a6, a)   // a^7
	a14 := gfMul(a7, a7) // a^14
	a15 := gfMul(a14, a) // a^15
	a30 := gfMul(a15, a15)
	a31 := gfMul(a30, a)
	a62 := gfMul(a31, a31)
	a63 := gfMul(a62, a)
	a126 := gfMul(a63, a63)
	a127 := gfMul(a126, a)
	return gfMul(a127, a127) // a^254
}

// Split shares secret into n shares with IDs 1..n, any k of which recover it
// and any k-1 of which are independent of it. The polynomial coefficients are
// read from rand: k-1 bytes per secret byte, in the order coefficient 1..k-1
// of byte 0, then of byte 1, and so on. Passing a deterministic stream (as the
// escrow record does) makes the shares a function of secret and stream.
func Split(secret []byte, k, n int, rand io.Reader) ([]Share, error) {
	if k < 1 || n < k || n > MaxShares {
		return nil, fmt.Errorf("%w: k=%d n=%d (need 1 <= k <= n <= %d)", ErrParams, k, n, MaxShares)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: empty secret", ErrParams)
	}
	coeffs := make([]byte, len(secret)*(k-1))
	if _, err := io.ReadFull(rand, coeffs); err != nil {
		return nil, fmt.Errorf("shamir: reading coefficients: %w", err)
	}
	shares := make([]Share, n)
	for i := range shares {
		shares[i] = Share{ID: byte(i + 1), Value: make([]byte, len(secret))}
	}
	for j, s := range secret {
		c := coeffs[j*(k-1) : (j+1)*(k-1)]
		for i := range shares {
			x := shares[i].ID
			// Horner: ((c[k-2] x + c[k-3]) x + ... + c[0]) x + s
			var y byte
			for d := len(c) - 1; d >= 0; d-- {
				y = gfMul(y, x) ^ c[d]
			}
			shares[i].Value[j] = gfMul(y, x) ^ s
		}
	}
	clear(coeffs)
	return shares, nil
}

// Combine interpolates the polynomials at 0 from the given shares (Lagrange).
// It needs at least k shares of the original split to return the secret; it
// cannot tell whether it was given fewer, or a wrong share: callers that need
// to know authenticate the result (the escrow record does, with an AEAD).
// Shares must have distinct nonzero IDs and equal lengths.
func Combine(shares []Share) ([]byte, error) {
	if len(shares) == 0 {
		return nil, ErrTooFewShares
	}
	size := len(shares[0].Value)
	if size == 0 {
		return nil, fmt.Errorf("%w: empty share value", ErrShares)
	}
	var seen [256]bool // indexed by public share IDs only
	for i, s := range shares {
		if s.ID == 0 {
			return nil, fmt.Errorf("%w: share %d has id 0", ErrShares, i)
		}
		if len(s.Value) != size {
			return nil, fmt.Errorf("%w: share %d has %d bytes, want %d", ErrShares, i, len(s.Value), size)
		}
		if seen[s.ID] {
			return nil, fmt.Errorf("%w: %d", ErrDuplicateID, s.ID)
		}
		seen[s.ID] = true
	}
	// Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); in GF(2^8)
	// subtraction is XOR. The IDs are public, so the basis is too.
	basis := make([]byte, len(shares))
	for i := range shares {
		num, den := byte(1), byte(1)
		for j := range shares {
			if i == j {
				continue
			}
			num = gfMul(num, shares[j].ID)
			den = gfMul(den, shares[j].ID^shares[i].ID)
		}
		basis[i] = gfMul(num, gfInv(den))
	}
	out := make([]byte, size)
	for i, s := range shares {
		for b := range out {
			out[b] ^= gfMul(basis[i], s.Value[b])
		}
	}
	return out, nil
}

// Equal reports whether two shares are identical, in constant time in their
// values.
func Equal(a, b Share) bool {
	return a.ID == b.ID && subtle.ConstantTimeCompare(a.Value, b.Value) == 1
}
