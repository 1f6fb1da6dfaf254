package suite

import (
	"crypto/hpke"
	"io"
)

// xwingHPKE is HPKE with the MLKEM768-X25519 (X-Wing) KEM (KEM id 0x647a,
// draft-ietf-hpke-pq), implemented by crypto/hpke. Private keys are the
// 32-byte X-Wing seed, public keys the 1216-byte encapsulation key.
type xwingHPKE struct {
	kem  hpke.KEM
	kdf  hpke.KDF
	aead hpke.AEAD
}

func newXWing(k *kdf, a aeadAlg) *xwingHPKE {
	h := &xwingHPKE{kem: hpke.MLKEM768X25519()}
	var err error
	if h.kdf, err = hpke.NewKDF(k.id); err != nil {
		panic("mls/suite: crypto/hpke lacks KDF " + err.Error())
	}
	if h.aead, err = hpke.NewAEAD(a.id); err != nil {
		panic("mls/suite: crypto/hpke lacks AEAD " + err.Error())
	}
	return h
}

const xwingSeedSize = 32

func (h *xwingHPKE) kemID() uint16 { return h.kem.ID() }

func (h *xwingHPKE) keyPair(sk hpke.PrivateKey) (priv, pub []byte, err error) {
	priv, err = sk.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return priv, sk.PublicKey().Bytes(), nil
}

func (h *xwingHPKE) generate(r io.Reader) (priv, pub []byte, err error) {
	seed := make([]byte, xwingSeedSize)
	defer clear(seed)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, nil, err
	}
	sk, err := h.kem.NewPrivateKey(seed)
	if err != nil {
		return nil, nil, err
	}
	return h.keyPair(sk)
}

func (h *xwingHPKE) derive(ikm []byte) (priv, pub []byte, err error) {
	sk, err := h.kem.DeriveKeyPair(ikm)
	if err != nil {
		return nil, nil, err
	}
	return h.keyPair(sk)
}

func (h *xwingHPKE) publicKey(priv []byte) ([]byte, error) {
	sk, err := h.kem.NewPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return sk.PublicKey().Bytes(), nil
}

func (h *xwingHPKE) validatePublic(pub []byte) error {
	_, err := h.kem.NewPublicKey(pub)
	return err
}

func (h *xwingHPKE) sender(pub, info []byte) ([]byte, *hpke.Sender, error) {
	pk, err := h.kem.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return hpke.NewSender(pk, h.kdf, h.aead, info)
}

func (h *xwingHPKE) recipient(priv, enc, info []byte) (*hpke.Recipient, error) {
	sk, err := h.kem.NewPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return hpke.NewRecipient(enc, sk, h.kdf, h.aead, info)
}

func (h *xwingHPKE) seal(pub, info, aad, plaintext []byte) (enc, ct []byte, err error) {
	enc, s, err := h.sender(pub, info)
	if err != nil {
		return nil, nil, err
	}
	ct, err = s.Seal(aad, plaintext)
	if err != nil {
		return nil, nil, err
	}
	return enc, ct, nil
}

func (h *xwingHPKE) open(priv, enc, info, aad, ct []byte) ([]byte, error) {
	r, err := h.recipient(priv, enc, info)
	if err != nil {
		return nil, err
	}
	pt, err := r.Open(aad, ct)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (h *xwingHPKE) exportS(pub, info, exporterContext []byte, length int) (enc, secret []byte, err error) {
	enc, s, err := h.sender(pub, info)
	if err != nil {
		return nil, nil, err
	}
	secret, err = s.Export(string(exporterContext), length)
	if err != nil {
		return nil, nil, err
	}
	return enc, secret, nil
}

func (h *xwingHPKE) exportR(priv, enc, info, exporterContext []byte, length int) ([]byte, error) {
	r, err := h.recipient(priv, enc, info)
	if err != nil {
		return nil, err
	}
	return r.Export(string(exporterContext), length)
}
