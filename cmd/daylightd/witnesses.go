package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"golang.org/x/mod/sumdb/note"
)

// logVKeyFile is where daylightd writes the access log's checkpoint verifier
// key (public) at every start, so clients, trustees, witnesses and
// daylight-verify can pin it.
const logVKeyFile = "log.vkey"

// witnessList is the repeatable --log-witness flag: URL=vkey, one per
// flag, or several separated by commas (the environment and config-file
// form).
type witnessList []tlog.Witness

func (w *witnessList) String() string {
	if w == nil {
		return ""
	}
	var s []string
	for _, x := range *w {
		s = append(s, x.URL+"="+x.VKey)
	}
	return strings.Join(s, ",")
}

func (w *witnessList) Set(v string) error {
	for _, item := range splitList(v) {
		x, err := tlog.ParseWitness(item)
		if err != nil {
			return fmt.Errorf("%q: %w (hint: URL=vkey, the vkey from the witness's witness.vkey)", item, err)
		}
		*w = append(*w, x)
	}
	return nil
}

// logWitnesses returns the access log's witnesses and the threshold w:
// --log-witness-threshold, or all of them when it is negative (the default).
func logWitnesses(o *options) ([]tlog.Witness, int, error) {
	ws := []tlog.Witness(o.logWitnesses)
	w := o.logWitnessThreshold
	if w < 0 {
		w = len(ws)
	}
	if w > len(ws) {
		return nil, 0, fmt.Errorf("--log-witness-threshold %d: only %d --log-witness given", w, len(ws))
	}
	if len(ws) > 0 && w == 0 {
		return nil, 0, errors.New("--log-witness-threshold 0 with witnesses configured would publish unwitnessed checkpoints (hint: at least 1)")
	}
	seen := map[string]bool{}
	for _, x := range ws {
		if seen[x.VKey] {
			return nil, 0, fmt.Errorf("--log-witness: the witness key %s is given twice (a witness counts once towards the threshold)", x.VKey)
		}
		seen[x.VKey] = true
	}
	return ws, w, nil
}

// describeLog is the start-up line describing the access log.
func describeLog(vkey string, ws []tlog.Witness, w int) string {
	s := "access log at /log/ (verifier key " + vkey + ", written to <data>/" + logVKeyFile + ")"
	if len(ws) == 0 {
		return s + "; UNWITNESSED (no --log-witness): checkpoints are published without cosignatures"
	}
	var names []string
	for _, x := range ws {
		names = append(names, x.URL)
	}
	return fmt.Sprintf("%s; witnessed: %d of %d cosignatures required (%s)", s, w, len(ws), strings.Join(names, ", "))
}

// writeLogVKey writes the log's verifier key to <data>/log.vkey.
func writeLogVKey(o *options, vkey string) error {
	if vkey == "" {
		return nil
	}
	return writeFileAtomic(filepath.Join(o.data, logVKeyFile), []byte(vkey+"\n"), 0o644)
}

// logKeyPath is where tlog keeps the log's signing key (tlog.Config.Signer
// nil): Dir/.daylight/log.key with Dir = <data>/log.
func logKeyPath(o *options) string { return filepath.Join(o.data, "log", ".daylight", "log.key") }

// logKey implements `daylightd log-key`: it creates the access log's
// signing key if missing (exactly where and how the log would on its first
// start), writes <data>/log.vkey and prints the verifier key. Witnesses must
// be configured with this key before daylightd can start with them, so a
// deployment runs this first.
func logKey(o *options, stdout io.Writer) error {
	path := logKeyPath(o)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, _, gerr := note.GenerateKey(rand.Reader, o.logOrigin)
		if gerr != nil {
			return gerr
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := writeFileAtomic(path, []byte(skey+"\n"), 0o600); err != nil {
			return fmt.Errorf("log key: %w", err)
		}
		b, err = []byte(skey), nil
	}
	if err != nil {
		return fmt.Errorf("log key: %w", err)
	}
	vkey, name, err := noteVKey(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("log key %s: %w", path, err)
	}
	if name != o.logOrigin {
		return fmt.Errorf("log key %s is for origin %q, not --log-origin %q", path, name, o.logOrigin)
	}
	if err := writeLogVKey(o, vkey); err != nil {
		return err
	}
	fmt.Fprintln(stdout, vkey)
	return nil
}

// noteVKey derives the signed-note verifier key (C2SP signed-note, Ed25519
// type 0x01) of a private key PRIVATE+KEY+<name>+<id>+base64(0x01||seed).
func noteVKey(skey string) (vkey, name string, err error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", "", err
	}
	parts := strings.SplitN(skey, "+", 5)
	k, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 0x01 {
		return "", "", errors.New("not an Ed25519 signed-note key")
	}
	pub := ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey)
	material := append([]byte{0x01}, pub...)
	h := sha256.Sum256(append(append([]byte(parts[2]), '\n'), material...))
	vkey = fmt.Sprintf("%s+%08x+%s", parts[2], binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(material))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", "", err
	}
	return vkey, parts[2], nil
}
