// Package escrow builds and checks the per-(group, epoch) escrow record of
// daylight's lawful-access design (docs/lawful-access.md).
//
// The record is a deterministic function of the epoch's secrets
// P = encryption_secret || sender_data_secret (RFC 9420, Section 8) and the
// context C = (policy id, trustee key period, group id, epoch):
//
//	seed   = HKDF-Expand(HKDF-Extract(salt="daylight escrow v1", P), "daylight escrow v1 seed" || header, 32)
//	K      = HKDF-Expand(seed, "dem key", 32)
//	shares = Shamir(K, k, n) with coefficients HKDF-Expand(seed, "shamir coefficients", 32(k-1))
//	for each trustee i: (ss_i, kem_i) = X-Wing.Encapsulate(pk_i, HKDF-Expand(seed, "kem" || i, 64))
//	                    ct_i = ChaCha20-Poly1305(HKDF(ss_i, "daylight escrow share v1" || header || i), 0, share_i, aad = header || i)
//	payload = ChaCha20-Poly1305(K, 0, P, aad = header)
//
// where header is the encoded context plus k and n. Every member that knows P
// recomputes the record byte for byte (Verify); after recovery the authority
// does the same and so learns which trustee released a wrong share.
package escrow

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"

	"github.com/daylight-im/daylight/shamir"
)

// Version is the record format version.
const Version = 1

// Sizes of the fixed parts of a record.
const (
	KeySize           = 32                   // DEM key K and each share value
	KEMCiphertextSize = xwing.CiphertextSize // 1120
	ShareCTSize       = KeySize + chacha20poly1305.Overhead
	PublicKeySize     = xwing.PublicKeySize  // trustee period key
	PrivateKeySize    = xwing.PrivateKeySize // trustee period key seed
	maxGroupID        = 255
)

// Sentinel errors; wrapped errors name the field or part.
var (
	ErrParams      = errors.New("escrow: invalid parameters")
	ErrMalformed   = errors.New("escrow: malformed record")
	ErrMismatch    = errors.New("escrow: record differs from the recomputed one")
	ErrDecrypt     = errors.New("escrow: decryption failed")
	ErrWrongRecord = errors.New("escrow: share belongs to another record")
	ErrRecovery    = errors.New("escrow: recovery failed")
)

// Context is C = (policy id, trustee key period, group id, epoch).
type Context struct {
	PolicyID  [32]byte
	KeyPeriod uint32
	GroupID   []byte
	Epoch     uint64
}

// Secrets is P, the epoch secrets that read every PrivateMessage of the
// epoch (RFC 9420, Sections 8 and 9) but cannot forge any.
type Secrets struct {
	EncryptionSecret []byte
	SenderDataSecret []byte
}

// Params are the policy's escrow parameters for the record's key period: the
// threshold k and the trustees' X-Wing period public keys, in policy order
// (trustee i has share ID i+1).
type Params struct {
	K           int
	TrusteeKeys [][]byte
}

// EncryptedShare is one trustee's share, X-Wing KEM-DEM encrypted.
type EncryptedShare struct {
	KEMCiphertext []byte // X-Wing ciphertext, 1120 bytes
	Ciphertext    []byte // ChaCha20-Poly1305 of the share value, 48 bytes
}

// Record is a parsed or built escrow record. Its fields must not be modified;
// Bytes returns the encoding it was parsed from or built as.
type Record struct {
	Context Context
	K, N    int
	Shares  []EncryptedShare
	Payload []byte

	raw    []byte
	header []byte
}

// Bytes returns the record's canonical encoding.
func (r *Record) Bytes() []byte { return r.raw }

// ID returns SHA-256("daylight escrow record id v1" || encoding): the name
// under which trustees release shares (and which shares are bound to).
func (r *Record) ID() [32]byte { return RecordID(r.raw) }

// RecordID hashes an encoded record.
func RecordID(encoded []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("daylight escrow record id v1"))
	h.Write(encoded)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

func (c Context) check() error {
	if len(c.GroupID) == 0 || len(c.GroupID) > maxGroupID {
		return fmt.Errorf("%w: group id length %d (need 1..%d)", ErrParams, len(c.GroupID), maxGroupID)
	}
	return nil
}

// encodeHeader encodes version, C, k and n; it is the AEAD associated data.
func encodeHeader(c Context, k, n int) []byte {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 2+32+4+1+len(c.GroupID)+8+2))
	b.AddUint16(Version)
	b.AddBytes(c.PolicyID[:])
	b.AddUint32(c.KeyPeriod)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.GroupID) })
	b.AddUint64(c.Epoch)
	b.AddUint8(uint8(k))
	b.AddUint8(uint8(n))
	return b.BytesOrPanic()
}

func encodeSecrets(p Secrets) ([]byte, error) {
	if len(p.EncryptionSecret) == 0 || len(p.EncryptionSecret) > 255 || len(p.SenderDataSecret) == 0 || len(p.SenderDataSecret) > 255 {
		return nil, fmt.Errorf("%w: secrets must be 1..255 bytes", ErrParams)
	}
	var b cryptobyte.Builder
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.EncryptionSecret) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.SenderDataSecret) })
	return b.Bytes()
}

func decodeSecrets(b []byte) (Secrets, error) {
	s := cryptobyte.String(b)
	var e, d cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&e) || !s.ReadUint8LengthPrefixed(&d) || !s.Empty() || len(e) == 0 || len(d) == 0 {
		return Secrets{}, fmt.Errorf("%w: payload plaintext", ErrMalformed)
	}
	return Secrets{EncryptionSecret: bytes.Clone(e), SenderDataSecret: bytes.Clone(d)}, nil
}

func expand(prk []byte, info string, n int) []byte {
	out, err := hkdf.Expand(sha256.New, prk, info, n)
	if err != nil {
		panic("escrow: hkdf: " + err.Error()) // lengths are bounded by construction
	}
	return out
}

// derivation holds everything derived from the seed.
type derivation struct {
	key    []byte
	shares []shamir.Share
	seed   []byte
}

func derive(pEnc, header []byte, k, n int) (*derivation, error) {
	prk, err := hkdf.Extract(sha256.New, pEnc, []byte("daylight escrow v1"))
	if err != nil {
		return nil, err
	}
	seed := expand(prk, "daylight escrow v1 seed"+string(header), 32)
	key := expand(seed, "dem key", KeySize)
	var coeffs []byte
	if k > 1 {
		coeffs = expand(seed, "shamir coefficients", KeySize*(k-1))
	}
	shares, err := shamir.Split(key, k, n, bytes.NewReader(coeffs))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrParams, err)
	}
	return &derivation{key: key, shares: shares, seed: seed}, nil
}

// wipe zeroes the derived secrets once a record is built or checked.
func (d *derivation) wipe() {
	clear(d.key)
	clear(d.seed)
	for _, s := range d.shares {
		clear(s.Value)
	}
}

func shareKey(ss, header []byte, i int) []byte {
	return expand(ss, "daylight escrow share v1"+string(header)+string([]byte{byte(i)}), chacha20poly1305.KeySize)
}

func shareAAD(header []byte, i int) []byte { return append(bytes.Clone(header), byte(i)) }

var zeroNonce [chacha20poly1305.NonceSize]byte

func (p Params) check() error {
	n := len(p.TrusteeKeys)
	if p.K < 1 || n < p.K || n > shamir.MaxShares {
		return fmt.Errorf("%w: k=%d n=%d", ErrParams, p.K, n)
	}
	for i, pk := range p.TrusteeKeys {
		if len(pk) != PublicKeySize {
			return fmt.Errorf("%w: trustee %d key is %d bytes, want %d", ErrParams, i, len(pk), PublicKeySize)
		}
	}
	return nil
}

// Build computes the escrow record of (c, p) for the trustees in params. It is
// deterministic: every member with the same inputs gets the same bytes.
func Build(c Context, p Secrets, params Params) (*Record, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := params.check(); err != nil {
		return nil, err
	}
	pEnc, err := encodeSecrets(p)
	if err != nil {
		return nil, err
	}
	n := len(params.TrusteeKeys)
	header := encodeHeader(c, params.K, n)
	d, err := derive(pEnc, header, params.K, n)
	if err != nil {
		return nil, err
	}
	rec := &Record{Context: cloneContext(c), K: params.K, N: n, header: header}
	for i, pk := range params.TrusteeKeys {
		ss, kemCT, err := xwing.Encapsulate(pk, expand(d.seed, "kem"+string([]byte{byte(i)}), xwing.EncapsulationSeedSize))
		if err != nil {
			return nil, fmt.Errorf("%w: trustee %d key: %v", ErrParams, i, err)
		}
		aead, _ := chacha20poly1305.New(shareKey(ss, header, i))
		ct := aead.Seal(nil, zeroNonce[:], d.shares[i].Value, shareAAD(header, i))
		rec.Shares = append(rec.Shares, EncryptedShare{KEMCiphertext: kemCT, Ciphertext: ct})
	}
	aead, _ := chacha20poly1305.New(d.key)
	rec.Payload = aead.Seal(nil, zeroNonce[:], pEnc, header)
	rec.raw = rec.marshal()
	d.wipe()
	clear(pEnc)
	return rec, nil
}

func cloneContext(c Context) Context {
	c.GroupID = bytes.Clone(c.GroupID)
	return c
}

func (r *Record) marshal() []byte {
	b := cryptobyte.NewBuilder(make([]byte, 0, len(r.header)+r.N*(KEMCiphertextSize+ShareCTSize)+2+len(r.Payload)))
	b.AddBytes(r.header)
	for _, s := range r.Shares {
		b.AddBytes(s.KEMCiphertext)
		b.AddBytes(s.Ciphertext)
	}
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Payload) })
	return b.BytesOrPanic()
}

// Parse decodes a record strictly: known version, 1 <= k <= n, fixed-size
// share fields, a payload of plausible size, and no trailing bytes.
func Parse(data []byte) (*Record, error) {
	s := cryptobyte.String(data)
	var (
		ver  uint16
		r    Record
		pid  []byte
		gid  cryptobyte.String
		k, n uint8
		pay  cryptobyte.String
	)
	if !s.ReadUint16(&ver) {
		return nil, fmt.Errorf("%w: version: truncated", ErrMalformed)
	}
	if ver != Version {
		return nil, fmt.Errorf("%w: version: unknown %d", ErrMalformed, ver)
	}
	if !s.ReadBytes(&pid, 32) {
		return nil, fmt.Errorf("%w: policy_id: truncated", ErrMalformed)
	}
	copy(r.Context.PolicyID[:], pid)
	if !s.ReadUint32(&r.Context.KeyPeriod) {
		return nil, fmt.Errorf("%w: key_period: truncated", ErrMalformed)
	}
	if !s.ReadUint8LengthPrefixed(&gid) || len(gid) == 0 {
		return nil, fmt.Errorf("%w: group_id: truncated or empty", ErrMalformed)
	}
	r.Context.GroupID = bytes.Clone(gid)
	if !s.ReadUint64(&r.Context.Epoch) {
		return nil, fmt.Errorf("%w: epoch: truncated", ErrMalformed)
	}
	if !s.ReadUint8(&k) || !s.ReadUint8(&n) {
		return nil, fmt.Errorf("%w: k/n: truncated", ErrMalformed)
	}
	if k < 1 || n < k {
		return nil, fmt.Errorf("%w: k/n: k=%d n=%d", ErrMalformed, k, n)
	}
	r.K, r.N = int(k), int(n)
	for i := 0; i < r.N; i++ {
		var kc, sc []byte
		if !s.ReadBytes(&kc, KEMCiphertextSize) || !s.ReadBytes(&sc, ShareCTSize) {
			return nil, fmt.Errorf("%w: shares[%d]: truncated", ErrMalformed, i)
		}
		r.Shares = append(r.Shares, EncryptedShare{KEMCiphertext: bytes.Clone(kc), Ciphertext: bytes.Clone(sc)})
	}
	if !s.ReadUint16LengthPrefixed(&pay) {
		return nil, fmt.Errorf("%w: payload: truncated", ErrMalformed)
	}
	// Plaintext is two u8-prefixed non-empty secrets: 4..512 bytes.
	if len(pay) < 4+chacha20poly1305.Overhead || len(pay) > 512+chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: payload: %d bytes", ErrMalformed, len(pay))
	}
	r.Payload = bytes.Clone(pay)
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	r.header = encodeHeader(r.Context, r.K, r.N)
	r.raw = bytes.Clone(data)
	return &r, nil
}

// MismatchError says which part of a record differs from the recomputed one.
type MismatchError struct {
	Part    string // "context", "threshold", "share", "payload"
	Trustee int    // trustee index for Part "share", else -1
}

func (e *MismatchError) Error() string {
	if e.Part == "share" {
		return fmt.Sprintf("escrow: record differs from the recomputed one in share %d (trustee index %d)", e.Trustee, e.Trustee)
	}
	return "escrow: record differs from the recomputed one in " + e.Part
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Verify recomputes the record of context c from p and params and compares
// it byte for byte with rec; on a difference it returns a *MismatchError
// (wrapping ErrMismatch) naming the first differing part. A member calls this
// on the record the DS holds for its epoch, with the context it knows, and
// uploads its own record on a mismatch.
func Verify(rec *Record, c Context, p Secrets, params Params) error {
	want, err := Build(c, p, params)
	if err != nil {
		return err
	}
	return compare(rec, want)
}

func compare(got, want *Record) error {
	if bytes.Equal(got.raw, want.raw) {
		return nil
	}
	if !bytes.Equal(got.header[:len(got.header)-2], want.header[:len(want.header)-2]) {
		return &MismatchError{Part: "context", Trustee: -1}
	}
	if got.K != want.K || got.N != want.N {
		return &MismatchError{Part: "threshold", Trustee: -1}
	}
	for i := range want.Shares {
		if !bytes.Equal(got.Shares[i].KEMCiphertext, want.Shares[i].KEMCiphertext) || !bytes.Equal(got.Shares[i].Ciphertext, want.Shares[i].Ciphertext) {
			return &MismatchError{Part: "share", Trustee: i}
		}
	}
	return &MismatchError{Part: "payload", Trustee: -1}
}

// ReleasedShare is a decrypted share as a trustee releases it: bound to the
// record it opens (RecordID), so it is useless on any other record (T14).
type ReleasedShare struct {
	RecordID [32]byte
	Trustee  uint8 // trustee index; the Shamir share ID is Trustee+1
	Value    [KeySize]byte
}

const releasedShareSize = 32 + 1 + KeySize

// Marshal encodes the share: record_id[32] || trustee u8 || value[32].
func (s *ReleasedShare) Marshal() []byte {
	b := make([]byte, 0, releasedShareSize)
	b = append(b, s.RecordID[:]...)
	b = append(b, s.Trustee)
	return append(b, s.Value[:]...)
}

// ParseReleasedShare decodes a ReleasedShare strictly.
func ParseReleasedShare(b []byte) (*ReleasedShare, error) {
	if len(b) != releasedShareSize {
		return nil, fmt.Errorf("%w: released share: %d bytes, want %d", ErrMalformed, len(b), releasedShareSize)
	}
	var s ReleasedShare
	copy(s.RecordID[:], b[:32])
	s.Trustee = b[32]
	copy(s.Value[:], b[33:])
	return &s, nil
}

// DecryptShare opens trustee index i's share of rec with its period private
// key (the 32-byte X-Wing seed).
func DecryptShare(rec *Record, i int, priv []byte) (*ReleasedShare, error) {
	if i < 0 || i >= rec.N {
		return nil, fmt.Errorf("%w: trustee index %d of %d", ErrParams, i, rec.N)
	}
	if len(priv) != PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes", ErrParams, len(priv))
	}
	ss := xwing.Decapsulate(rec.Shares[i].KEMCiphertext, priv)
	aead, _ := chacha20poly1305.New(shareKey(ss, rec.header, i))
	v, err := aead.Open(nil, zeroNonce[:], rec.Shares[i].Ciphertext, shareAAD(rec.header, i))
	if err != nil {
		return nil, fmt.Errorf("%w: share %d", ErrDecrypt, i)
	}
	out := &ReleasedShare{RecordID: rec.ID(), Trustee: uint8(i)}
	copy(out.Value[:], v)
	return out, nil
}

// Recovery is the result of Recover.
type Recovery struct {
	Secrets Secrets
	// Liars lists the trustee indices whose released share differs from the
	// share the record commits them to (A12, T10).
	Liars []int
}

// maxAttempts bounds the subsets Recover tries when shares are wrong.
const maxAttempts = 1 << 14

// Recover recovers P from at least k released shares of rec. Shares for
// another record are refused (ErrWrongRecord). If some shares are wrong it
// tries other k-subsets until the payload opens, then recomputes the record
// from P and params: the record must match byte for byte, and every released
// share that differs from the recomputed one names a liar.
func Recover(rec *Record, params Params, released []*ReleasedShare) (*Recovery, error) {
	id := rec.ID()
	seen := map[uint8]bool{}
	var shares []shamir.Share
	for j, s := range released {
		if s.RecordID != id {
			return nil, fmt.Errorf("%w: released share %d (trustee %d)", ErrWrongRecord, j, s.Trustee)
		}
		if int(s.Trustee) >= rec.N || seen[s.Trustee] {
			return nil, fmt.Errorf("%w: released share %d: trustee index %d invalid or repeated", ErrParams, j, s.Trustee)
		}
		seen[s.Trustee] = true
		shares = append(shares, shamir.Share{ID: s.Trustee + 1, Value: bytes.Clone(s.Value[:])})
	}
	if len(shares) < rec.K {
		return nil, fmt.Errorf("%w: %d shares, need %d", ErrRecovery, len(shares), rec.K)
	}
	var pEnc []byte
	attempts := 0
	combos(len(shares), rec.K, func(idx []int) bool {
		attempts++
		sub := make([]shamir.Share, len(idx))
		for i, x := range idx {
			sub[i] = shares[x]
		}
		key, err := shamir.Combine(sub)
		if err != nil {
			return attempts < maxAttempts
		}
		aead, _ := chacha20poly1305.New(key)
		clear(key)
		if pt, err := aead.Open(nil, zeroNonce[:], rec.Payload, rec.header); err == nil {
			pEnc = pt
			return false
		}
		return attempts < maxAttempts
	})
	if pEnc == nil {
		return nil, fmt.Errorf("%w: no %d of the %d shares open the record", ErrRecovery, rec.K, len(shares))
	}
	p, err := decodeSecrets(pEnc)
	if err != nil {
		return nil, err
	}
	want, err := Build(rec.Context, p, params)
	if err != nil {
		return nil, err
	}
	if err := compare(rec, want); err != nil {
		return nil, fmt.Errorf("%w: recovered secrets do not reproduce the record: %w", ErrRecovery, err)
	}
	d, err := derive(pEnc, rec.header, rec.K, rec.N)
	if err != nil {
		return nil, err
	}
	out := &Recovery{Secrets: p}
	for _, s := range released {
		if subtle.ConstantTimeCompare(s.Value[:], d.shares[s.Trustee].Value) != 1 {
			out.Liars = append(out.Liars, int(s.Trustee))
		}
	}
	d.wipe()
	clear(pEnc)
	return out, nil
}

// combos calls f with every k-subset of 0..n-1 in lexicographic order until
// f returns false.
func combos(n, k int, f func([]int) bool) {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	for {
		if !f(idx) {
			return
		}
		i := k - 1
		for i >= 0 && idx[i] == n-k+i {
			i--
		}
		if i < 0 {
			return
		}
		idx[i]++
		for j := i + 1; j < k; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}

// RecordsHash is the RecordsHash of an access-log Release entry: SHA-256 of
// "daylight release records v1\x00" and the record ids, sorted. Trustees
// compute it when releasing; verifiers recompute it from the record ids.
func RecordsHash(ids [][32]byte) [32]byte {
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	h.Write([]byte("daylight release records v1\x00"))
	for _, id := range sorted {
		h.Write(id[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
