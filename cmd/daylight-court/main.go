// Command daylight-court is the court's tool for daylight's lawful access
// (docs/trustee.md): it makes the court's signing key, signs a structured
// warrant written as JSON (warrant.Sign), and verifies a signed warrant
// against the court's key or an access policy (warrant.Verify).
//
//	daylight-court keygen --out court.key [--json]
//	daylight-court sign --warrant warrant.json --key court.key --out warrant.signed [--json]
//	daylight-court verify --warrant warrant.signed (--policy policy.bin | --court-key KEY) [--now RFC3339] [--json]
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/daylight-im/daylight/internal/cli"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/warrant"
)

func main() { cli.Main("daylight-court", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Commands{Tool: "daylight-court", Hint: "daylight-court keygen --out court.key", List: map[string]cli.Command{
		"keygen": {Summary: "generate the court's Ed25519 signing key", Run: runKeygen},
		"sign":   {Summary: "sign a warrant written as JSON", Run: runSign},
		"verify": {Summary: "verify a signed warrant against the court key or a policy", Run: runVerify},
	}}.Run(ctx, args, stdin, stdout, stderr)
}

// keyPrefix starts a court key file; the rest of the line is the base64
// Ed25519 seed.
const keyPrefix = "daylight-court-key-v1:"

func encodeKey(k ed25519.PrivateKey) []byte {
	return []byte(keyPrefix + base64.StdEncoding.EncodeToString(k.Seed()) + "\n")
}

func readKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, keyPrefix) {
		return nil, fmt.Errorf("%s: not a court key (hint: make one with daylight-court keygen)", path)
	}
	seed, err := base64.StdEncoding.Strict().DecodeString(s[len(keyPrefix):])
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: malformed court key", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("daylight-court "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runKeygen(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	out := fs.String("out", "", "write the private key to this file (mode 0600; must not exist)")
	asJSON := fs.Bool("json", false, "print the public key as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("keygen: --out is required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keygen: %w (hint: the key file must not exist)", err)
	}
	if _, err := f.Write(encodeKey(priv)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pk := base64.StdEncoding.EncodeToString(pub)
	if *asJSON {
		return writeJSON(stdout, map[string]string{"public_key": pk})
	}
	fmt.Fprintln(stdout, pk)
	return nil
}

// warrantJSON is the warrant as the court writes it. Times are RFC 3339;
// keys and the policy id are base64 (policy id: hex).
type warrantJSON struct {
	PolicyID            string   `json:"policy_id"`
	Court               string   `json:"court"`
	Jurisdiction        string   `json:"jurisdiction"`
	CaseNumber          string   `json:"case_number"`
	LegalBasis          string   `json:"legal_basis"`
	Targets             []string `json:"targets"`
	Authority           string   `json:"authority"`
	AuthorityKEMKey     []byte   `json:"authority_kem_key"`
	AuthoritySigningKey []byte   `json:"authority_signing_key"`
	WindowStart         string   `json:"window_start"`
	WindowEnd           string   `json:"window_end"`
	EmbargoEnd          string   `json:"embargo_end"`
	Issued              string   `json:"issued"`
	Expiry              string   `json:"expiry"`
}

func parseTime(field, s string) (uint64, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w (hint: RFC 3339, e.g. 2026-03-01T00:00:00Z)", field, err)
	}
	if t.Unix() < 0 {
		return 0, fmt.Errorf("%s: before 1970", field)
	}
	return uint64(t.Unix()), nil
}

func fmtTime(u uint64) string { return time.Unix(int64(u), 0).UTC().Format(time.RFC3339) }

// parseWarrantJSON decodes the court's JSON strictly (unknown fields and
// trailing data are refused) into a warrant.
func parseWarrantJSON(data []byte) (*warrant.Warrant, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var j warrantJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("warrant JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("warrant JSON: trailing data")
	}
	w := &warrant.Warrant{Court: j.Court, Jurisdiction: j.Jurisdiction, CaseNumber: j.CaseNumber, LegalBasis: j.LegalBasis,
		Targets: j.Targets, Authority: j.Authority, AuthorityKEMKey: j.AuthorityKEMKey, AuthoritySigningKey: j.AuthoritySigningKey}
	id, err := hex.DecodeString(j.PolicyID)
	if err != nil || len(id) != len(w.PolicyID) {
		return nil, errors.New("warrant JSON: policy_id: want 64 hex digits")
	}
	copy(w.PolicyID[:], id)
	for _, f := range []struct {
		name string
		s    string
		dst  *uint64
	}{{"window_start", j.WindowStart, &w.WindowStart}, {"window_end", j.WindowEnd, &w.WindowEnd},
		{"embargo_end", j.EmbargoEnd, &w.EmbargoEnd}, {"issued", j.Issued, &w.Issued}, {"expiry", j.Expiry, &w.Expiry}} {
		if *f.dst, err = parseTime("warrant JSON: "+f.name, f.s); err != nil {
			return nil, err
		}
	}
	if _, err := w.Marshal(); err != nil { // validates every field
		return nil, err
	}
	return w, nil
}

func toJSON(w *warrant.Warrant) warrantJSON {
	return warrantJSON{PolicyID: hex.EncodeToString(w.PolicyID[:]), Court: w.Court, Jurisdiction: w.Jurisdiction,
		CaseNumber: w.CaseNumber, LegalBasis: w.LegalBasis, Targets: w.Targets, Authority: w.Authority,
		AuthorityKEMKey: w.AuthorityKEMKey, AuthoritySigningKey: w.AuthoritySigningKey,
		WindowStart: fmtTime(w.WindowStart), WindowEnd: fmtTime(w.WindowEnd), EmbargoEnd: fmtTime(w.EmbargoEnd),
		Issued: fmtTime(w.Issued), Expiry: fmtTime(w.Expiry)}
}

func runSign(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("sign", stderr)
	in := fs.String("warrant", "", "the warrant as JSON")
	keyPath := fs.String("key", "", "the court's key file (daylight-court keygen)")
	out := fs.String("out", "", "write the signed warrant (binary) here")
	asJSON := fs.Bool("json", false, "print a JSON summary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *keyPath == "" || *out == "" {
		return errors.New("sign: --warrant, --key and --out are required")
	}
	key, err := readKey(*keyPath)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	w, err := parseWarrantJSON(data)
	if err != nil {
		return fmt.Errorf("sign: %s: %w", *in, err)
	}
	s, err := warrant.Sign(w, key)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := writeFileAtomic(*out, s.Marshal()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"signed": *out, "court": w.Court, "case_number": w.CaseNumber, "targets": len(w.Targets)})
	}
	fmt.Fprintf(stdout, "signed warrant %s (court %s, case %s, %d targets) -> %s\n", *in, w.Court, w.CaseNumber, len(w.Targets), *out)
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func runVerify(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stderr)
	in := fs.String("warrant", "", "the signed warrant")
	polPath := fs.String("policy", "", "the signed access policy: full check (court in policy, validity, bounds)")
	courtKey := fs.String("court-key", "", "the court's public key (base64): signature check only")
	nowFlag := fs.String("now", "", "check validity at this time (RFC 3339; default: now)")
	asJSON := fs.Bool("json", false, "print the warrant as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || (*polPath == "") == (*courtKey == "") {
		return errors.New("verify: --warrant and exactly one of --policy or --court-key are required")
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	s, err := warrant.ParseSigned(data)
	if err != nil {
		return fmt.Errorf("verify: %s: %w", *in, err)
	}
	w, err := warrant.Parse(s.Body)
	if err != nil {
		return fmt.Errorf("verify: %s: %w", *in, err)
	}
	now := uint64(time.Now().Unix())
	if *nowFlag != "" {
		if now, err = parseTime("--now", *nowFlag); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	if *polPath != "" {
		pb, err := os.ReadFile(*polPath)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		ps, err := policy.ParseSigned(pb)
		if err != nil {
			return fmt.Errorf("verify: %s: %w", *polPath, err)
		}
		pol, err := policy.Verify(ps)
		if err != nil {
			return fmt.Errorf("verify: %s: %w", *polPath, err)
		}
		if _, err := warrant.Verify(s, pol, now); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	} else {
		pk, err := base64.StdEncoding.Strict().DecodeString(*courtKey)
		if err != nil || len(pk) != ed25519.PublicKeySize {
			return errors.New("verify: --court-key: want a base64 Ed25519 public key")
		}
		// Same message as warrant.Sign: "daylight warrant v1\x00" || body.
		msg := append([]byte("daylight warrant v1\x00"), s.Body...)
		if !ed25519.Verify(pk, msg, s.Signature) {
			return fmt.Errorf("verify: %w: not signed by this court key", warrant.ErrSignature)
		}
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"ok": true, "warrant": toJSON(w)})
	}
	fmt.Fprintf(stdout, "OK: warrant of court %s, case %s, %d targets, window %s .. %s\n", w.Court, w.CaseNumber, len(w.Targets), fmtTime(w.WindowStart), fmtTime(w.WindowEnd))
	return nil
}
