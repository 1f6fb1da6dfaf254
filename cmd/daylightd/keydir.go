package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
)

// Key directory files in the data directory (secrets: mode 0600).
const (
	keydirSigningFile = "keydir-signing.key" // Ed25519 seed, 32 bytes
	keydirVRFFile     = "keydir-vrf.key"     // vrf-r255 secret scalar, 32 bytes
	keydirJournal     = "keydir.journal"
)

// loadOrCreateKey returns the 32-byte secret in path, generating it (mode
// 0600, atomically) on first start.
func loadOrCreateKey(path string, gen func() []byte) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = gen()
		if err := writeFileAtomic(path, b, 0o600); err != nil {
			return nil, err
		}
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%s: want 32 bytes, found %d", path, len(b))
	}
	return b, nil
}

// keyDirectory is the key-transparency directory daylightd runs next to the
// access log it publishes epoch heads to.
type keyDirectory struct {
	dir   *keydir.Directory
	store *keydir.FileStore
	note  string
	trust []byte // kdclient.Trust served at /keydir/v1/trust: clients pin it on first contact
}

func openKeyDirectory(ctx context.Context, o *options, al *tlog.Log, log *slog.Logger) (*keyDirectory, error) {
	seed, err := loadOrCreateKey(filepath.Join(o.data, keydirSigningFile), func() []byte {
		s := make([]byte, ed25519.SeedSize)
		rand.Read(s)
		return s
	})
	if err != nil {
		return nil, fmt.Errorf("key directory signing key: %w", err)
	}
	vrfKey, err := loadOrCreateKey(filepath.Join(o.data, keydirVRFFile), keydir.NewVRFKey)
	if err != nil {
		return nil, fmt.Errorf("key directory VRF key: %w", err)
	}
	proofs, err := tlog.NewClient(filepath.Join(o.data, "log"), al.Policy(), nil)
	if err != nil {
		return nil, fmt.Errorf("key directory: log client: %w", err)
	}
	store, err := keydir.OpenFileStore(filepath.Join(o.data, keydirJournal))
	if err != nil {
		return nil, fmt.Errorf("key directory store: %w", err)
	}
	signing := ed25519.NewKeyFromSeed(seed)
	dir, err := keydir.New(ctx, keydir.Config{
		Store: store, Log: &keydir.AccessLog{Log: al, Proofs: proofs, Policy: al.Policy()},
		SigningKey: signing, VRFKey: vrfKey, Logger: log,
	})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("key directory: %w", err)
	}
	ws, threshold, err := logWitnesses(o)
	if err != nil {
		store.Close()
		return nil, err
	}
	trust := &kdclient.Trust{Origin: al.Policy().Origin, LogVKey: al.VKey(), Threshold: threshold,
		DirectoryKey: signing.Public().(ed25519.PublicKey), VRFKey: dir.VRFPublicKey()}
	for _, w := range ws {
		trust.Witnesses = append(trust.Witnesses, w.VKey)
	}
	note := fmt.Sprintf("key directory at /keydir/ (directory key %s, VRF key %s; clients pin %s, published at %s)",
		hex.EncodeToString(signing.Public().(ed25519.PublicKey)), hex.EncodeToString(dir.VRFPublicKey()), trust.Fingerprint(), kdhttp.PathTrust)
	return &keyDirectory{dir: dir, store: store, note: note, trust: trust.Marshal()}, nil
}

func (k *keyDirectory) handler(log *slog.Logger) http.Handler {
	return kdhttp.WithTrust(kdhttp.Handler(k.dir, log), k.trust)
}

// publish closes an epoch every interval until ctx ends.
func (k *keyDirectory) publish(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := k.dir.Publish(ctx); err != nil && ctx.Err() == nil {
				log.Warn("key directory: publish", "err", err)
			}
		}
	}
}
