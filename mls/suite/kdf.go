package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// kdf is HKDF (RFC 5869) over one hash function, with its RFC 9180 id.
type kdf struct {
	id      uint16
	nh      int
	newHash func() hash.Hash
}

var (
	hkdfSHA256 = &kdf{id: 0x0001, nh: 32, newHash: sha256.New}
	hkdfSHA384 = &kdf{id: 0x0002, nh: 48, newHash: sha512.New384}
	hkdfSHA512 = &kdf{id: 0x0003, nh: 64, newHash: sha512.New}
)

// extract implements HKDF-Extract(salt, ikm). An empty salt is equivalent to
// Nh zero bytes, because HMAC zero-pads its key.
func (k *kdf) extract(salt, ikm []byte) []byte {
	m := hmac.New(k.newHash, salt)
	m.Write(ikm)
	return m.Sum(nil)
}

// expand implements HKDF-Expand(prk, info, length).
func (k *kdf) expand(prk, info []byte, length int) []byte {
	if length < 0 || length > 255*k.nh {
		panic(fmt.Sprintf("mls/suite: HKDF-Expand length %d out of range", length))
	}
	out := make([]byte, 0, length+k.nh)
	m := hmac.New(k.newHash, prk)
	var t []byte
	for ctr := byte(1); len(out) < length; ctr++ {
		m.Reset()
		m.Write(t)
		m.Write(info)
		m.Write([]byte{ctr})
		n := len(out)
		out = m.Sum(out)
		t = out[n:]
	}
	return out[:length:length]
}

// aeadAlg is an AEAD with its RFC 9180 id and sizes.
type aeadAlg struct {
	id     uint16
	nk, nn int
	newFn  func(key []byte) (cipher.AEAD, error)
}

func (a aeadAlg) new(key []byte) (cipher.AEAD, error) {
	if len(key) != a.nk {
		return nil, fmt.Errorf("AEAD key is %d bytes, want %d", len(key), a.nk)
	}
	return a.newFn(key)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var (
	aes128GCM        = aeadAlg{id: 0x0001, nk: 16, nn: 12, newFn: newGCM}
	aes256GCM        = aeadAlg{id: 0x0002, nk: 32, nn: 12, newFn: newGCM}
	chacha20Poly1305 = aeadAlg{id: 0x0003, nk: 32, nn: 12, newFn: chacha20poly1305.New}
)
