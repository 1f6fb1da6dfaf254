package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
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

// LoadOrCreateKey reads the witness's signed-note private key from path, or
// generates one named name (with randomness from rand, crypto/rand if nil)
// and stores it with mode 0600 on first start. It returns the cosignature/v1
// signer and the verifier key (vkey, type 0x04) to give to logs and clients.
func LoadOrCreateKey(path, name string, rnd io.Reader) (note.Signer, string, error) {
	skey, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if rnd == nil {
			rnd = rand.Reader
		}
		sk, _, gerr := note.GenerateKey(rnd, name)
		if gerr != nil {
			return nil, "", gerr
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

// CosignatureVKey returns the cosignature/v1 verifier key (tlog-cosignature:
// type 0x04, key ID SHA-256(name || 0x0A || 0x04 || public key)[:4]) for an
// Ed25519 signed-note private key (PRIVATE+KEY+name+id+base64(0x01||seed)).
func CosignatureVKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("witness: malformed private key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || (key[0] != 0x01 && key[0] != 0x04) {
		return "", errors.New("witness: private key is not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	name := parts[2]
	material := append([]byte{0x04}, pub...)
	h := sha256.Sum256(append(append([]byte(name), '\n'), material...))
	return fmt.Sprintf("%s+%08x+%s", name, binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(material)), nil
}
