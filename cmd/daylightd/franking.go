package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
)

// frankingFile is the provider's stamping key in the data directory (secret,
// mode 0600). Replicas must share it: point --franking-key at one file.
const frankingFile = "franking.key"

// newFranking loads (or creates) the stamping key so the DS stamps every
// accepted application message that carries a franking commitment.
func newFranking(o *options) (ds.Franking, error) {
	path := o.frankingKey
	if path == "" {
		path = filepath.Join(o.data, frankingFile)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return ds.Franking{}, err
	}
	key, err := loadOrCreateKey(path, func() []byte {
		k := make([]byte, franking.KeySize)
		rand.Read(k)
		return k
	})
	if err != nil {
		return ds.Franking{}, fmt.Errorf("franking key: %w", err)
	}
	st, err := franking.NewStamper(key)
	if err != nil {
		return ds.Franking{}, err
	}
	return ds.Franking{Stamper: st}, nil
}
