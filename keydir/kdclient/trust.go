package kdclient

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Trust is what a client pins about a provider's key directory: the access
// log whose witnessed checkpoints anchor every answer (origin, log key,
// witness keys, threshold w) and the directory's own keys. A provider
// publishes it (kdhttp: GET /keydir/v1/trust); a client pins it on first
// contact (trust on first use, shown with Fingerprint) or reads it from a
// file given out of band. Its text form, one setting per line:
//
//	origin <access log checkpoint origin>
//	log-vkey <signed-note verifier key of the access log>
//	witness <cosignature verifier key>        (repeated)
//	threshold <witness cosignatures required> (default: all witnesses)
//	directory-key <hex Ed25519 key signing epoch heads>
//	vrf-key <hex vrf-r255 public key>
//
// Blank lines and lines starting with # are ignored; unknown keys are errors.
type Trust struct {
	Origin       string
	LogVKey      string
	Witnesses    []string
	Threshold    int
	DirectoryKey ed25519.PublicKey
	VRFKey       []byte
}

// ParseTrust parses and checks the text form of a Trust.
func ParseTrust(data []byte) (*Trust, error) {
	t := &Trust{Threshold: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, fmt.Errorf("kdclient: trust line %d: want \"key value\"", n)
		}
		var err error
		switch k {
		case "origin":
			t.Origin = v
		case "log-vkey":
			if _, err = note.NewVerifier(v); err == nil {
				t.LogVKey = v
			}
		case "witness":
			if _, err = fnote.NewVerifierForCosignatureV1(v); err == nil {
				t.Witnesses = append(t.Witnesses, v)
			}
		case "threshold":
			if t.Threshold, err = strconv.Atoi(v); err == nil && t.Threshold < 0 {
				err = fmt.Errorf("negative")
			}
		case "directory-key":
			var b []byte
			if b, err = hex.DecodeString(v); err == nil && len(b) != ed25519.PublicKeySize {
				err = fmt.Errorf("want %d bytes", ed25519.PublicKeySize)
			}
			t.DirectoryKey = b
		case "vrf-key":
			t.VRFKey, err = hex.DecodeString(v)
		default:
			return nil, fmt.Errorf("kdclient: trust line %d: unknown key %q", n, k)
		}
		if err != nil {
			return nil, fmt.Errorf("kdclient: trust line %d (%s): %w", n, k, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kdclient: trust: %w", err)
	}
	if t.Origin == "" || t.LogVKey == "" || t.DirectoryKey == nil || t.VRFKey == nil {
		return nil, fmt.Errorf("kdclient: trust: origin, log-vkey, directory-key and vrf-key are required")
	}
	if t.Threshold < 0 {
		t.Threshold = len(t.Witnesses)
	}
	if t.Threshold > len(t.Witnesses) {
		return nil, fmt.Errorf("kdclient: trust: threshold %d of %d witnesses", t.Threshold, len(t.Witnesses))
	}
	if len(t.Witnesses) > 0 && t.Threshold == 0 {
		return nil, fmt.Errorf("kdclient: trust: threshold 0 with %d witnesses would accept unwitnessed checkpoints", len(t.Witnesses))
	}
	return t, nil
}

// Marshal returns the canonical text form (ParseTrust reads it back).
func (t *Trust) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "origin %s\nlog-vkey %s\n", t.Origin, t.LogVKey)
	for _, w := range t.Witnesses {
		fmt.Fprintf(&b, "witness %s\n", w)
	}
	fmt.Fprintf(&b, "threshold %d\ndirectory-key %x\nvrf-key %x\n", t.Threshold, []byte(t.DirectoryKey), t.VRFKey)
	return b.Bytes()
}

// Fingerprint is "SHA256:" and the unpadded base64 of SHA-256 over the
// canonical text form with the witnesses sorted: what a user compares with
// the fingerprint the provider publishes out of band (like an SSH host key).
func (t *Trust) Fingerprint() string {
	c := *t
	c.Witnesses = slices.Clone(t.Witnesses)
	slices.Sort(c.Witnesses)
	h := sha256.Sum256(c.Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(h[:])
}

// Diff names what differs between a pinned Trust and t (nil: the same pins).
func (t *Trust) Diff(pinned *Trust) []string {
	var d []string
	if t.Origin != pinned.Origin {
		d = append(d, "log origin")
	}
	if t.LogVKey != pinned.LogVKey {
		d = append(d, "log key")
	}
	a, b := slices.Clone(t.Witnesses), slices.Clone(pinned.Witnesses)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		d = append(d, "witness keys")
	}
	if t.Threshold != pinned.Threshold {
		d = append(d, "witness threshold")
	}
	if !bytes.Equal(t.DirectoryKey, pinned.DirectoryKey) {
		d = append(d, "key directory key")
	}
	if !bytes.Equal(t.VRFKey, pinned.VRFKey) {
		d = append(d, "VRF key")
	}
	return d
}

// Config returns the verification configuration for these pins. A Trust
// with no witnesses (threshold 0) accepts checkpoints signed by the log key
// alone: say so to the user (Unwitnessed).
func (t *Trust) Config() (*Config, error) {
	lv, err := note.NewVerifier(t.LogVKey)
	if err != nil {
		return nil, fmt.Errorf("kdclient: trust: log-vkey: %w", err)
	}
	p := &WitnessPolicy{Origin: t.Origin, Log: lv, Threshold: t.Threshold, AllowUnwitnessed: len(t.Witnesses) == 0}
	for _, w := range t.Witnesses {
		v, err := fnote.NewVerifierForCosignatureV1(w)
		if err != nil {
			return nil, fmt.Errorf("kdclient: trust: witness: %w", err)
		}
		p.Witnesses = append(p.Witnesses, v)
	}
	return &Config{DirectoryKey: slices.Clone(t.DirectoryKey), VRFKey: slices.Clone(t.VRFKey), Checkpoints: p}, nil
}

// Unwitnessed reports pins that accept checkpoints no witness cosigned: the
// log's key alone then stands between the provider and a split view.
func (t *Trust) Unwitnessed() bool { return len(t.Witnesses) == 0 }
