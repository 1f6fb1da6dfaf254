package authority

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cloudflare/circl/kem/xwing"
)

// Keys are a requesting authority's keys: the X-Wing key trustees seal
// shares to and the Ed25519 key that signs evidence bundles. The court
// names both public keys in the warrant.
type Keys struct {
	Name    string
	KEMPriv []byte // X-Wing private key seed (32 bytes)
	KEMPub  []byte // X-Wing public key (1216 bytes)
	Sign    ed25519.PrivateKey
}

// PublicKeys are what the court copies into a warrant.
type PublicKeys struct {
	Name       string `json:"authority"`
	KEMKey     []byte `json:"authority_kem_key"`
	SigningKey []byte `json:"authority_signing_key"`
}

// GenerateKeys makes fresh keys for the authority called name.
func GenerateKeys(name string, rand io.Reader) (*Keys, error) {
	if name == "" {
		return nil, errors.New("authority: keys need a name")
	}
	priv, pub, err := xwing.GenerateKeyPairPacked(rand)
	if err != nil {
		return nil, err
	}
	_, sk, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	return &Keys{Name: name, KEMPriv: priv, KEMPub: pub, Sign: sk}, nil
}

// Public returns the public keys.
func (k *Keys) Public() PublicKeys {
	return PublicKeys{Name: k.Name, KEMKey: k.KEMPub, SigningKey: k.Sign.Public().(ed25519.PublicKey)}
}

type keysFile struct {
	Format  string `json:"format"`
	Name    string `json:"name"`
	KEMSeed []byte `json:"kem_seed"`
	Sign    []byte `json:"signing_seed"`
}

const keysFormat = "daylight-authority-keys/1"

// Marshal encodes the private keys (store with mode 0600).
func (k *Keys) Marshal() ([]byte, error) {
	return json.MarshalIndent(keysFile{Format: keysFormat, Name: k.Name, KEMSeed: k.KEMPriv, Sign: k.Sign.Seed()}, "", "  ")
}

// ParseKeys decodes keys written by Marshal strictly.
func ParseKeys(data []byte) (*Keys, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var f keysFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("authority: keys: %w", err)
	}
	if f.Format != keysFormat {
		return nil, fmt.Errorf("authority: keys: format %q, want %q", f.Format, keysFormat)
	}
	if len(f.KEMSeed) != xwing.SeedSize || len(f.Sign) != ed25519.SeedSize || f.Name == "" {
		return nil, errors.New("authority: keys: malformed")
	}
	_, pub := xwing.DeriveKeyPairPacked(f.KEMSeed)
	return &Keys{Name: f.Name, KEMPriv: f.KEMSeed, KEMPub: pub, Sign: ed25519.NewKeyFromSeed(f.Sign)}, nil
}
