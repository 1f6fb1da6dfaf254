package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/keydir/kdclient"
)

// parseKeyDirTrust reads a key-directory trust file (--keydir-trust): what
// the client pins about the provider's key directory and the access log
// whose witnessed checkpoints anchor it. One setting per line:
//
//	origin <access log checkpoint origin>
//	log-vkey <signed-note verifier key of the access log>
//	witness <cosignature verifier key>        (repeated)
//	threshold <witness cosignatures required> (default: all witnesses)
//	directory-key <hex Ed25519 key signing epoch heads>
//	vrf-key <hex vrf-r255 public key>
//
// Blank lines and lines starting with # are ignored; unknown keys are errors.
func parseKeyDirTrust(data []byte) (*kdclient.Config, error) {
	var p kdclient.WitnessPolicy
	cfg := &kdclient.Config{}
	threshold := -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, fmt.Errorf("keydir trust line %d: want \"key value\"", n)
		}
		var err error
		switch k {
		case "origin":
			p.Origin = v
		case "log-vkey":
			p.Log, err = note.NewVerifier(v)
		case "witness":
			var w note.Verifier
			if w, err = note.NewVerifier(v); err == nil {
				p.Witnesses = append(p.Witnesses, w)
			}
		case "threshold":
			threshold, err = strconv.Atoi(v)
		case "directory-key":
			var b []byte
			if b, err = hex.DecodeString(v); err == nil && len(b) != ed25519.PublicKeySize {
				err = fmt.Errorf("want %d bytes", ed25519.PublicKeySize)
			}
			cfg.DirectoryKey = b
		case "vrf-key":
			cfg.VRFKey, err = hex.DecodeString(v)
		default:
			return nil, fmt.Errorf("keydir trust line %d: unknown key %q", n, k)
		}
		if err != nil {
			return nil, fmt.Errorf("keydir trust line %d (%s): %w", n, k, err)
		}
	}
	if p.Origin == "" || p.Log == nil || cfg.DirectoryKey == nil || cfg.VRFKey == nil {
		return nil, fmt.Errorf("keydir trust: origin, log-vkey, directory-key and vrf-key are required")
	}
	if threshold < 0 {
		threshold = len(p.Witnesses)
	}
	p.Threshold = threshold
	cfg.Checkpoints = &p
	return cfg, nil
}
