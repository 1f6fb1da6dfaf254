package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"testing"
)

// refMul is a textbook (variable-time) GF(2^8) multiplication used only to
// check the constant-time one.
func refMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		carry := a & 0x80
		a <<= 1
		if carry != 0 {
			a ^= 0x1b
		}
		b >>= 1
	}
	return p
}

func TestFieldArithmetic(t *testing.T) {
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			if got, want := gfMul(byte(a), byte(b)), refMul(byte(a), byte(b)); got != want {
				t.Fatalf("gfMul(%#x,%#x) = %#x, want %#x", a, b, got, want)
			}
		}
	}
	// Known AES field fact: {57} x {83} = {c1} (FIPS 197, Section 4.2).
	if got := gfMul(0x57, 0x83); got != 0xc1 {
		t.Fatalf("gfMul(0x57,0x83) = %#x, want 0xc1", got)
	}
	if gfInv(0) != 0 {
		t.Fatal("gfInv(0) != 0")
	}
	for a := 1; a < 256; a++ {
		if p := gfMul(byte(a), gfInv(byte(a))); p != 1 {
			t.Fatalf("a * a^-1 = %#x for a=%#x", p, a)
		}
	}
}

// evalAt interpolates the polynomial through pts and evaluates it at x.
func evalAt(ids, ys []byte, x byte) byte {
	var out byte
	for i := range ids {
		num, den := byte(1), byte(1)
		for j := range ids {
			if i == j {
				continue
			}
			num = gfMul(num, x^ids[j])
			den = gfMul(den, ids[i]^ids[j])
		}
		out ^= gfMul(ys[i], gfMul(num, gfInv(den)))
	}
	return out
}

func TestSplitCombineAllSubsets(t *testing.T) {
	for _, kn := range [][2]int{{1, 1}, {1, 3}, {2, 2}, {2, 5}, {3, 5}, {5, 5}, {4, 7}} {
		k, n := kn[0], kn[1]
		secret := make([]byte, 32)
		rand.Read(secret)
		shares, err := Split(secret, k, n, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for mask := 1; mask < 1<<n; mask++ {
			var sub []Share
			for i := 0; i < n; i++ {
				if mask&(1<<i) != 0 {
					sub = append(sub, shares[i])
				}
			}
			got, err := Combine(sub)
			if err != nil {
				t.Fatal(err)
			}
			if len(sub) >= k && !bytes.Equal(got, secret) {
				t.Fatalf("k=%d n=%d subset %b: wrong secret", k, n, mask)
			}
		}
	}
}

// TestProperties: random parameters, random subsets of size >= k recover
// the secret; a changed share changes the result.
func TestProperties(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		n := 1 + r.IntN(20)
		k := 1 + r.IntN(n)
		secret := make([]byte, 1+r.IntN(64))
		rand.Read(secret)
		shares, err := Split(secret, k, n, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		perm := r.Perm(n)
		m := k + r.IntN(n-k+1)
		sub := make([]Share, m)
		for i := range sub {
			sub[i] = shares[perm[i]]
		}
		got, err := Combine(sub)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("iter %d k=%d n=%d m=%d: recovery failed (%v)", iter, k, n, m, err)
		}
		bad := append([]Share(nil), sub...)
		bad[0] = Share{ID: bad[0].ID, Value: bytes.Clone(bad[0].Value)}
		bad[0].Value[0] ^= 1
		if got, _ := Combine(bad); bytes.Equal(got, secret) && m == k {
			t.Fatalf("iter %d: altered share still gave the secret", iter)
		}
	}
}

// TestAttackT2_KMinus1SharesRevealNothing: k-1 trustees pooling their shares
// learn nothing. For k=3 and share IDs {1,4}, over all 65536 choices of the
// random coefficients, the pair of share values takes every value exactly
// once whatever the secret byte is: the shares are uniformly distributed and
// independent of the secret. And given any two actual shares, every candidate
// secret byte 0..255 is consistent with exactly one polynomial of degree < k.
func TestAttackT2_KMinus1SharesRevealNothing(t *testing.T) {
	ids := []byte{1, 4}
	for _, s := range []byte{0x00, 0x01, 0x5a, 0xff} {
		var hist [65536]uint8
		for c1 := 0; c1 < 256; c1++ {
			for c2 := 0; c2 < 256; c2++ {
				coeffs := bytes.NewReader([]byte{byte(c1), byte(c2)})
				sh, err := Split([]byte{s}, 3, 4, coeffs)
				if err != nil {
					t.Fatal(err)
				}
				y1, y2 := sh[ids[0]-1].Value[0], sh[ids[1]-1].Value[0]
				hist[int(y1)<<8|int(y2)]++
			}
		}
		for v, c := range hist {
			if c != 1 {
				t.Fatalf("secret %#x: share pair %#04x seen %d times; want exactly 1 (uniform)", s, v, c)
			}
		}
	}

	secret := []byte("attack at dawn, bring coffee....")
	shares, err := Split(secret, 3, 5, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pooled := shares[1:3] // two of five colluding trustees
	for b := range secret {
		for cand := 0; cand < 256; cand++ {
			// The unique polynomial through (0,cand) and the pooled points.
			pid := []byte{0, pooled[0].ID, pooled[1].ID}
			py := []byte{byte(cand), pooled[0].Value[b], pooled[1].Value[b]}
			for i, sh := range pooled {
				if evalAt(pid, py, sh.ID) != sh.Value[b] {
					t.Fatalf("candidate %#x inconsistent with share %d", cand, i)
				}
			}
			if evalAt(pid, py, 0) != byte(cand) {
				t.Fatalf("candidate %#x: interpolation broken", cand)
			}
		}
	}
	// And the pooled shares alone interpolate to something unrelated: the
	// degree-1 guess is not the secret (with overwhelming probability).
	guess, _ := Combine(pooled)
	if bytes.Equal(guess, secret) {
		t.Fatal("k-1 shares recovered the secret")
	}
}

func TestDeterministicSplit(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 64)
	a, _ := Split([]byte("0123456789abcdef0123456789abcdef"), 3, 5, bytes.NewReader(seed))
	b, _ := Split([]byte("0123456789abcdef0123456789abcdef"), 3, 5, bytes.NewReader(seed))
	for i := range a {
		if !Equal(a[i], b[i]) || a[i].ID != byte(i+1) {
			t.Fatalf("share %d differs between identical splits", i)
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Split([]byte{1}, 0, 3, rand.Reader); !errors.Is(err, ErrParams) {
		t.Errorf("k=0: %v", err)
	}
	if _, err := Split([]byte{1}, 4, 3, rand.Reader); !errors.Is(err, ErrParams) {
		t.Errorf("k>n: %v", err)
	}
	if _, err := Split([]byte{1}, 2, 256, rand.Reader); !errors.Is(err, ErrParams) {
		t.Errorf("n=256: %v", err)
	}
	if _, err := Split(nil, 2, 3, rand.Reader); !errors.Is(err, ErrParams) {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := Split([]byte{1, 2}, 3, 3, bytes.NewReader([]byte{1})); err == nil {
		t.Error("short randomness accepted")
	}
	sh, _ := Split([]byte{1, 2}, 2, 3, rand.Reader)
	if _, err := Combine([]Share{sh[0], sh[0]}); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := Combine([]Share{{ID: 0, Value: []byte{1, 2}}, sh[1]}); !errors.Is(err, ErrShares) {
		t.Errorf("id 0: %v", err)
	}
	if _, err := Combine([]Share{{ID: 9, Value: []byte{1}}, sh[1]}); !errors.Is(err, ErrShares) {
		t.Errorf("length mismatch: %v", err)
	}
	if _, err := Combine(nil); !errors.Is(err, ErrTooFewShares) {
		t.Errorf("none: %v", err)
	}
}

func BenchmarkSplit32x3of5(b *testing.B) {
	secret := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		Split(secret, 3, 5, rand.Reader)
	}
}

func BenchmarkCombine32x3(b *testing.B) {
	secret := make([]byte, 32)
	sh, _ := Split(secret, 3, 5, rand.Reader)
	b.ReportAllocs()
	for b.Loop() {
		Combine(sh[:3])
	}
}
