package suite

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// hpkeScheme is HPKE in base mode (RFC 9180, Section 5.1.1) for one
// KEM/KDF/AEAD combination.
type hpkeScheme interface {
	kemID() uint16
	generate(rand io.Reader) (priv, pub []byte, err error)
	derive(ikm []byte) (priv, pub []byte, err error)
	publicKey(priv []byte) ([]byte, error)
	validatePublic(pub []byte) error
	// seal is SealBase with a single message (sequence number 0).
	seal(pub, info, aad, plaintext []byte) (enc, ct []byte, err error)
	// infoHash and sealHashed split seal so that the info hash, which does
	// not depend on the recipient, is computed once for many recipients.
	infoHash(info []byte) []byte
	sealHashed(pub, infoHash, aad, plaintext []byte) (enc, ct []byte, err error)
	open(priv, enc, info, aad, ct []byte) ([]byte, error)
	exportS(pub, info, exporterContext []byte, length int) (enc, secret []byte, err error)
	exportR(priv, enc, info, exporterContext []byte, length int) ([]byte, error)
}

// GenerateKeyPair returns a fresh HPKE key pair. The private key is derived
// with KEM.DeriveKeyPair from Nsk bytes (at least 32) read from rand, so a
// deterministic rand gives a deterministic key; pass crypto/rand.Reader in
// production.
func (s *Suite) GenerateKeyPair(rand io.Reader) (priv, pub []byte, err error) {
	priv, pub, err = s.hpke.generate(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: GenerateKeyPair: %w", err)
	}
	return priv, pub, nil
}

// DeriveKeyPair implements KEM.DeriveKeyPair (RFC 9180, Section 7.1.3; for
// X-Wing, draft-ietf-hpke-pq), returning SerializePrivateKey and
// SerializePublicKey outputs.
func (s *Suite) DeriveKeyPair(ikm []byte) (priv, pub []byte, err error) {
	priv, pub, err = s.hpke.derive(ikm)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: DeriveKeyPair: %w", err)
	}
	return priv, pub, nil
}

// HPKEPublicKey returns the public key of an HPKE private key.
func (s *Suite) HPKEPublicKey(priv []byte) ([]byte, error) {
	pub, err := s.hpke.publicKey(priv)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: HPKEPublicKey: %w", err)
	}
	return pub, nil
}

// ValidateHPKEPublicKey checks that pub is a valid encoded HPKE public key of
// the suite's KEM (length, point on curve), as DeserializePublicKey would.
func (s *Suite) ValidateHPKEPublicKey(pub []byte) error {
	if err := s.hpke.validatePublic(pub); err != nil {
		return fmt.Errorf("mls/suite: HPKE public key: %w", err)
	}
	return nil
}

// EncryptWithLabel implements EncryptWithLabel (RFC 9420, Section 5.1.3):
// SealBase(pub, EncryptContext{"MLS 1.0 " + label, context}, "", plaintext)
// with a fresh ephemeral key from crypto/rand.
func (s *Suite) EncryptWithLabel(pub []byte, label string, context, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	info, err := labeledContent(label, context)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: EncryptWithLabel: %w", err)
	}
	kemOutput, ciphertext, err = s.hpke.seal(pub, info, nil, plaintext)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: EncryptWithLabel: %w", err)
	}
	return kemOutput, ciphertext, nil
}

// SealContext is an EncryptWithLabel label and context prepared once for
// encryption to many recipients (PrepareEncryption).
type SealContext struct {
	suite    *Suite
	infoHash []byte
}

// PrepareEncryption prepares EncryptWithLabel(·, label, context, ·) for many
// recipients. HPKE's key schedule hashes its info (the EncryptContext, which
// for a Welcome holds the whole encrypted GroupInfo) independently of the
// recipient (RFC 9180, Section 5.1), so a Welcome to n joiners hashes the
// GroupInfo once instead of n times.
func (s *Suite) PrepareEncryption(label string, context []byte) (*SealContext, error) {
	info, err := labeledContent(label, context)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: PrepareEncryption: %w", err)
	}
	return &SealContext{suite: s, infoHash: s.hpke.infoHash(info)}, nil
}

// EncryptWithLabel is Suite.EncryptWithLabel with the prepared label and
// context: the output is the same as if they were passed directly.
func (c *SealContext) EncryptWithLabel(pub, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	kemOutput, ciphertext, err = c.suite.hpke.sealHashed(pub, c.infoHash, nil, plaintext)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: EncryptWithLabel: %w", err)
	}
	return kemOutput, ciphertext, nil
}

// DecryptWithLabel implements DecryptWithLabel (RFC 9420, Section 5.1.3). A
// ciphertext that does not authenticate returns an error wrapping ErrDecrypt.
func (s *Suite) DecryptWithLabel(priv []byte, label string, context, kemOutput, ciphertext []byte) ([]byte, error) {
	info, err := labeledContent(label, context)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: DecryptWithLabel: %w", err)
	}
	pt, err := s.hpke.open(priv, kemOutput, info, nil, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: DecryptWithLabel: %w", err)
	}
	return pt, nil
}

// ExportSender runs SetupBaseS(pub, info) and returns the encapsulation and
// context.Export(exporterContext, length) (RFC 9180, Section 5.3), as used by
// ExternalInit (RFC 9420, Section 8.3).
func (s *Suite) ExportSender(pub, info, exporterContext []byte, length int) (kemOutput, secret []byte, err error) {
	kemOutput, secret, err = s.hpke.exportS(pub, info, exporterContext, length)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: ExportSender: %w", err)
	}
	return kemOutput, secret, nil
}

// ExportReceiver runs SetupBaseR(kemOutput, priv, info) and returns
// context.Export(exporterContext, length).
func (s *Suite) ExportReceiver(priv, kemOutput, info, exporterContext []byte, length int) ([]byte, error) {
	secret, err := s.hpke.exportR(priv, kemOutput, info, exporterContext, length)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: ExportReceiver: %w", err)
	}
	return secret, nil
}

// rfc9180 is HPKE base mode implemented directly over a DHKEM, HKDF and an
// AEAD (RFC 9180, Sections 4.1 and 5.1), without the allocation overhead of a
// general-purpose API. It is cross-checked against crypto/hpke in the tests.
type rfc9180 struct {
	kem       kem
	kdf       *kdf
	aead      aeadAlg
	suiteID   []byte // "HPKE" || kem_id || kdf_id || aead_id
	pskIDHash []byte // LabeledExtract("", "psk_id_hash", ""), fixed in base mode
}

// kem is a KEM under HPKE (RFC 9180, Section 4).
type kem interface {
	id() uint16
	generateKeyPair(r io.Reader) (priv, pub []byte, err error)
	deriveKeyPair(ikm []byte) (priv, pub []byte, err error)
	publicKey(priv []byte) ([]byte, error)
	validatePublic(pub []byte) error
	encap(r io.Reader, pub []byte) (sharedSecret, enc []byte, err error)
	decap(priv, enc []byte) ([]byte, error)
}

func newRFC9180(kem kem, k *kdf, a aeadAlg) *rfc9180 {
	h := &rfc9180{kem: kem, kdf: k, aead: a}
	kid := kem.id()
	h.suiteID = []byte{'H', 'P', 'K', 'E', byte(kid >> 8), byte(kid), byte(k.id >> 8), byte(k.id), byte(a.id >> 8), byte(a.id)}
	h.pskIDHash = labeledExtract(k, h.suiteID, nil, "psk_id_hash", nil)
	return h
}

const hpkeVersion = "HPKE-v1"

// labeledExtract implements LabeledExtract (RFC 9180, Section 4).
func labeledExtract(k *kdf, suiteID, salt []byte, label string, ikm []byte) []byte {
	b := make([]byte, 0, len(hpkeVersion)+len(suiteID)+len(label)+len(ikm))
	b = append(b, hpkeVersion...)
	b = append(b, suiteID...)
	b = append(b, label...)
	b = append(b, ikm...)
	return k.extract(salt, b)
}

// labeledExpand implements LabeledExpand (RFC 9180, Section 4).
func labeledExpand(k *kdf, suiteID, prk []byte, label string, info []byte, length int) []byte {
	b := make([]byte, 0, 2+len(hpkeVersion)+len(suiteID)+len(label)+len(info))
	b = append(b, byte(length>>8), byte(length))
	b = append(b, hpkeVersion...)
	b = append(b, suiteID...)
	b = append(b, label...)
	b = append(b, info...)
	return k.expand(prk, b, length)
}

// keySchedule implements KeySchedule for mode_base (RFC 9180, Section 5.1),
// returning key, base_nonce and exporter_secret.
func (h *rfc9180) keySchedule(sharedSecret, info []byte) (key, nonce, exporterSecret []byte) {
	return h.keyScheduleHashed(sharedSecret, h.infoHash(info))
}

// infoHash is LabeledExtract("", "info_hash", info) of the key schedule: it
// depends on info alone, so a sender encrypting one info to many recipients
// computes it once (see PrepareEncryption).
func (h *rfc9180) infoHash(info []byte) []byte {
	return labeledExtract(h.kdf, h.suiteID, nil, "info_hash", info)
}

func (h *rfc9180) keyScheduleHashed(sharedSecret, infoHash []byte) (key, nonce, exporterSecret []byte) {
	ctx := make([]byte, 0, 1+len(h.pskIDHash)+len(infoHash))
	ctx = append(ctx, 0x00) // mode_base
	ctx = append(ctx, h.pskIDHash...)
	ctx = append(ctx, infoHash...)
	secret := labeledExtract(h.kdf, h.suiteID, sharedSecret, "secret", nil)
	key = labeledExpand(h.kdf, h.suiteID, secret, "key", ctx, h.aead.nk)
	nonce = labeledExpand(h.kdf, h.suiteID, secret, "base_nonce", ctx, h.aead.nn)
	exporterSecret = labeledExpand(h.kdf, h.suiteID, secret, "exp", ctx, h.kdf.nh)
	clear(secret)
	return key, nonce, exporterSecret
}

func (h *rfc9180) kemID() uint16 { return h.kem.id() }

func (h *rfc9180) generate(r io.Reader) (priv, pub []byte, err error) {
	return h.kem.generateKeyPair(r)
}

func (h *rfc9180) derive(ikm []byte) (priv, pub []byte, err error) {
	return h.kem.deriveKeyPair(ikm)
}

func (h *rfc9180) publicKey(priv []byte) ([]byte, error) { return h.kem.publicKey(priv) }

func (h *rfc9180) validatePublic(pub []byte) error { return h.kem.validatePublic(pub) }

func (h *rfc9180) seal(pub, info, aad, plaintext []byte) (enc, ct []byte, err error) {
	return h.sealHashed(pub, h.infoHash(info), aad, plaintext)
}

func (h *rfc9180) sealHashed(pub, infoHash, aad, plaintext []byte) (enc, ct []byte, err error) {
	ss, enc, err := h.kem.encap(rand.Reader, pub)
	if err != nil {
		return nil, nil, err
	}
	key, nonce, exp := h.keyScheduleHashed(ss, infoHash)
	clear(ss)
	clear(exp)
	a, err := h.aead.new(key)
	clear(key)
	if err != nil {
		return nil, nil, err
	}
	return enc, a.Seal(nil, nonce, plaintext, aad), nil
}

func (h *rfc9180) open(priv, enc, info, aad, ct []byte) ([]byte, error) {
	ss, err := h.kem.decap(priv, enc)
	if err != nil {
		return nil, err
	}
	key, nonce, exp := h.keySchedule(ss, info)
	clear(ss)
	clear(exp)
	a, err := h.aead.new(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (h *rfc9180) export(exporterSecret, exporterContext []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*h.kdf.nh {
		return nil, fmt.Errorf("export length %d out of range", length)
	}
	return labeledExpand(h.kdf, h.suiteID, exporterSecret, "sec", exporterContext, length), nil
}

func (h *rfc9180) exportS(pub, info, exporterContext []byte, length int) (enc, secret []byte, err error) {
	return h.exportSWith(rand.Reader, pub, info, exporterContext, length)
}

func (h *rfc9180) exportSWith(r io.Reader, pub, info, exporterContext []byte, length int) (enc, secret []byte, err error) {
	ss, enc, err := h.kem.encap(r, pub)
	if err != nil {
		return nil, nil, err
	}
	key, nonce, exp := h.keySchedule(ss, info)
	clear(ss)
	clear(key)
	clear(nonce)
	defer clear(exp)
	secret, err = h.export(exp, exporterContext, length)
	if err != nil {
		return nil, nil, err
	}
	return enc, secret, nil
}

func (h *rfc9180) exportR(priv, enc, info, exporterContext []byte, length int) ([]byte, error) {
	ss, err := h.kem.decap(priv, enc)
	if err != nil {
		return nil, err
	}
	key, nonce, exp := h.keySchedule(ss, info)
	clear(ss)
	clear(key)
	clear(nonce)
	defer clear(exp)
	return h.export(exp, exporterContext, length)
}

// dhkem implements DHKEM(Group, KDF) (RFC 9180, Section 4.1).
type dhkem struct {
	code    uint16
	kdf     *kdf
	group   dhGroup
	nsecret int
	suiteID []byte // "KEM" || kem_id
}

func newDHKEM(id uint16, k *kdf, g dhGroup, nsecret int) *dhkem {
	return &dhkem{code: id, kdf: k, group: g, nsecret: nsecret, suiteID: []byte{'K', 'E', 'M', byte(id >> 8), byte(id)}}
}

func dhkemX25519() *dhkem { return newDHKEM(0x0020, hkdfSHA256, x25519Group{}, 32) }
func dhkemX448() *dhkem   { return newDHKEM(0x0021, hkdfSHA512, x448Group{}, 64) }
func dhkemP256() *dhkem   { return newDHKEM(0x0010, hkdfSHA256, p256Group, 32) }
func dhkemP384() *dhkem   { return newDHKEM(0x0011, hkdfSHA384, p384Group, 48) }
func dhkemP521() *dhkem   { return newDHKEM(0x0012, hkdfSHA512, p521Group, 64) }

// dhGroup is the Diffie-Hellman group under a DHKEM. Private keys are
// SerializePrivateKey outputs, public keys SerializePublicKey outputs.
type dhGroup interface {
	nsk() int
	npk() int
	// privateFromCandidate turns LabeledExpand output into a private key,
	// or reports that the candidate must be rejected (P-curves).
	deriveCandidate(k *kdf, suiteID, dkpPRK []byte) ([]byte, error)
	public(priv []byte) ([]byte, error)
	validatePublic(pub []byte) error
	// generateEphemeral returns a fresh key pair for Encap.
	generateEphemeral(r io.Reader) (priv, pub []byte, err error)
	// dh returns DH(priv, pub), failing on an all-zero result.
	dh(priv, pub []byte) ([]byte, error)
}

var errZeroDH = errors.New("DH output is the identity (low-order public key)")

func (k *dhkem) id() uint16 { return k.code }

// generateKeyPair derives a key pair from max(32, Nsk) bytes of r.
func (k *dhkem) generateKeyPair(r io.Reader) (priv, pub []byte, err error) {
	ikm := make([]byte, max(32, k.group.nsk()))
	defer clear(ikm)
	if _, err := io.ReadFull(r, ikm); err != nil {
		return nil, nil, err
	}
	return k.deriveKeyPair(ikm)
}

func (k *dhkem) publicKey(priv []byte) ([]byte, error) { return k.group.public(priv) }

func (k *dhkem) validatePublic(pub []byte) error { return k.group.validatePublic(pub) }

// deriveKeyPair implements DeriveKeyPair (RFC 9180, Section 7.1.3).
func (k *dhkem) deriveKeyPair(ikm []byte) (priv, pub []byte, err error) {
	dkpPRK := labeledExtract(k.kdf, k.suiteID, nil, "dkp_prk", ikm)
	defer clear(dkpPRK)
	priv, err = k.group.deriveCandidate(k.kdf, k.suiteID, dkpPRK)
	if err != nil {
		return nil, nil, err
	}
	pub, err = k.group.public(priv)
	if err != nil {
		return nil, nil, err
	}
	return priv, pub, nil
}

// extractAndExpand implements ExtractAndExpand (RFC 9180, Section 4.1).
func (k *dhkem) extractAndExpand(dh, kemContext []byte) []byte {
	prk := labeledExtract(k.kdf, k.suiteID, nil, "eae_prk", dh)
	defer clear(prk)
	return labeledExpand(k.kdf, k.suiteID, prk, "shared_secret", kemContext, k.nsecret)
}

// encap implements Encap(pkR) (RFC 9180, Section 4.1).
func (k *dhkem) encap(r io.Reader, pkR []byte) (sharedSecret, enc []byte, err error) {
	if err := k.group.validatePublic(pkR); err != nil {
		return nil, nil, fmt.Errorf("recipient public key: %w", err)
	}
	skE, pkE, err := k.group.generateEphemeral(r)
	if err != nil {
		return nil, nil, err
	}
	defer clear(skE)
	dh, err := k.group.dh(skE, pkR)
	if err != nil {
		return nil, nil, err
	}
	defer clear(dh)
	kemContext := make([]byte, 0, len(pkE)+len(pkR))
	kemContext = append(append(kemContext, pkE...), pkR...)
	return k.extractAndExpand(dh, kemContext), pkE, nil
}

// decap implements Decap(enc, skR) (RFC 9180, Section 4.1).
func (k *dhkem) decap(skR, enc []byte) ([]byte, error) {
	if len(skR) > k.group.nsk() || len(skR) == 0 {
		return nil, fmt.Errorf("private key is %d bytes, want %d", len(skR), k.group.nsk())
	}
	if err := k.group.validatePublic(enc); err != nil {
		return nil, fmt.Errorf("kem_output: %w", err)
	}
	dh, err := k.group.dh(skR, enc)
	if err != nil {
		return nil, err
	}
	defer clear(dh)
	pkR, err := k.group.public(skR)
	if err != nil {
		return nil, err
	}
	kemContext := make([]byte, 0, len(enc)+len(pkR))
	kemContext = append(append(kemContext, enc...), pkR...)
	return k.extractAndExpand(dh, kemContext), nil
}

// isZero reports in constant time whether b is all zero.
func isZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return subtle.ConstantTimeByteEq(acc, 0) == 1
}
