package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"filippo.io/mldsa"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	f_note "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// FileStore keeps one file per log, named for the SHA-256 of its origin, in
// Dir. Save is atomic and durable: temp file, fsync, rename, fsync of the
// directory.
type FileStore struct{ Dir string }

func (s FileStore) path(origin string) string {
	return filepath.Join(s.Dir, "state-"+originHash(origin)+".checkpoint")
}

// Load returns the stored checkpoint for origin, or nil if none.
func (s FileStore) Load(origin string) ([]byte, error) {
	b, err := os.ReadFile(s.path(origin))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Save durably replaces the stored checkpoint for origin.
func (s FileStore) Save(origin string, cp []byte) error {
	return WriteFileAtomic(s.path(origin), cp, 0o644)
}

// WriteFileAtomic writes data to path so that after any crash the file holds
// either its previous content or data: temp file in the same directory,
// fsync, rename over path, fsync of the directory.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// KeyType selects the witness's cosignature algorithm (tlog-cosignature).
type KeyType string

const (
	// Ed25519 cosignature/v1 (signature type 0x04): what the public witness
	// network and most log clients accept today.
	Ed25519 KeyType = "ed25519"
	// MLDSA44 cosignature/v1 (signature type 0x06): post-quantum, the type
	// tlog-cosignature recommends for new deployments; ~2.4 kB per
	// cosignature.
	MLDSA44 KeyType = "mldsa44"
)

// LoadOrCreateKey is LoadOrCreateKeyOfType with Ed25519.
func LoadOrCreateKey(path, name string, rnd io.Reader) (note.Signer, string, error) {
	return LoadOrCreateKeyOfType(path, name, Ed25519, rnd)
}

// LoadOrCreateKeyOfType reads the witness's private key from path, or, on
// first start, generates one of type typ named name (randomness from rnd,
// crypto/rand if nil) and stores it with mode 0600. The type of an existing
// key is read from the key itself. It returns the cosignature/v1 signer and
// the verifier key (vkey) to give to logs and clients.
func LoadOrCreateKeyOfType(path, name string, typ KeyType, rnd io.Reader) (note.Signer, string, error) {
	skey, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if rnd == nil {
			rnd = rand.Reader
		}
		var sk string
		switch typ {
		case Ed25519, "":
			sk, _, err = note.GenerateKey(rnd, name)
		case MLDSA44:
			sk, err = generateMLDSA44(rnd, name)
		default:
			err = fmt.Errorf("witness: unknown key type %q (want %s or %s)", typ, Ed25519, MLDSA44)
		}
		if err != nil {
			return nil, "", err
		}
		if err := WriteFileAtomic(path, []byte(sk+"\n"), 0o600); err != nil {
			return nil, "", err
		}
		skey = []byte(sk)
	} else if err != nil {
		return nil, "", err
	}
	sk := strings.TrimSpace(string(skey))
	signer, err := f_note.NewSignerForCosignatureV1(sk)
	if err != nil {
		return nil, "", fmt.Errorf("witness: key %s: %w", path, err)
	}
	if signer.Name() != name && name != "" {
		return nil, "", fmt.Errorf("witness: key %s is for %q, not %q", path, signer.Name(), name)
	}
	vkey, err := CosignatureVKey(sk)
	if err != nil {
		return nil, "", err
	}
	return signer, vkey, nil
}

// generateMLDSA44 returns a signed-note style private key
// PRIVATE+KEY+name+id+base64(0x06 || 32-byte ML-DSA-44 seed).
func generateMLDSA44(rnd io.Reader, name string) (string, error) {
	seed := make([]byte, mldsa.PrivateKeySize)
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return "", err
	}
	pub, err := mldsaPublic(seed)
	if err != nil {
		return "", err
	}
	id := keyID(name, append([]byte{0x06}, pub...))
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(append([]byte{0x06}, seed...))), nil
}

func mldsaPublic(seed []byte) ([]byte, error) {
	k, err := mldsa.NewPrivateKey(mldsa.MLDSA44(), seed)
	if err != nil {
		return nil, err
	}
	return k.PublicKey().Bytes(), nil
}

// keyID implements the signed-note key ID: SHA-256(name || 0x0A || type ||
// public key)[:4] (signed-note "Signatures"; tlog-cosignature "Format").
func keyID(name string, material []byte) uint32 {
	h := sha256.Sum256(append(append([]byte(name), '\n'), material...))
	return binary.BigEndian.Uint32(h[:4])
}

// CosignatureVKey returns the cosignature/v1 verifier key for a witness
// private key: type 0x04 for an Ed25519 key (PRIVATE+KEY+name+id+
// base64(0x01 or 0x04 || seed)), type 0x06 for an ML-DSA-44 key
// (base64(0x06 || seed)).
func CosignatureVKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("witness: malformed private key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 33 {
		return "", errors.New("witness: malformed private key")
	}
	var material []byte
	switch key[0] {
	case 0x01, 0x04:
		pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
		material = append([]byte{0x04}, pub...)
	case 0x06:
		pub, err := mldsaPublic(key[1:])
		if err != nil {
			return "", err
		}
		material = append([]byte{0x06}, pub...)
	default:
		return "", fmt.Errorf("witness: private key type 0x%02x is not a cosignature key", key[0])
	}
	name := parts[2]
	return fmt.Sprintf("%s+%08x+%s", name, keyID(name, material), base64.StdEncoding.EncodeToString(material)), nil
}
