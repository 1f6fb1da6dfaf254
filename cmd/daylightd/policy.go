package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/policy"
)

// providerKey loads (creating on first use, mode 0600) the provider's
// Ed25519 signing key: it signs the access policy (policy.ProviderSigner)
// and non-content intake answers. Its public key is written to
// <data>/provider.pub (base64).
func providerKey(o *options) (ed25519.PrivateKey, string, error) {
	path := providerKeyPath(o)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", err
	}
	seed, err := loadOrCreateKey(path, func() []byte {
		s := make([]byte, ed25519.SeedSize)
		rand.Read(s)
		return s
	})
	if err != nil {
		return nil, "", fmt.Errorf("provider signing key: %w", err)
	}
	k := ed25519.NewKeyFromSeed(seed)
	pub := base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	if err := writeFileAtomic(filepath.Join(o.data, providerPubFile), []byte(pub+"\n"), 0o644); err != nil {
		return nil, "", err
	}
	return k, pub, nil
}

// providerKeyCommand implements `daylightd provider-key`: print the
// provider's public key (base64), creating the key if needed, so a policy
// body can name it before the server first starts.
func providerKeyCommand(o *options, stdout io.Writer) error {
	_, pub, err := providerKey(o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pub)
	return nil
}

// signPolicyCommand implements `daylightd sign-policy --body FILE [--json]`:
// the provider's signature over a policy body, given only if the body
// parses, is valid, names this provider key and this access log (origin and
// key). Output: "provider <base64 signature>", or JSON {signer, signature}
// as daylight-trustee sign-policy prints.
func signPolicyCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Its own flags (--body, --json) first, then daylightd's (--data, ...).
	var own, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--body" || a == "-body":
			own = append(own, a)
			if i+1 < len(args) {
				own = append(own, args[i+1])
				i++
			}
		case strings.HasPrefix(a, "--body=") || strings.HasPrefix(a, "-body=") || a == "--json" || a == "-json":
			own = append(own, a)
		default:
			rest = append(rest, a)
		}
	}
	o, extra, err := parseOptions("daylightd sign-policy", rest, getenv, stderr)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("daylightd sign-policy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bodyPath := fs.String("body", "", "the proposed policy body (policy.Policy encoding)")
	asJSON := fs.Bool("json", false, "print the signature as JSON")
	if err := fs.Parse(own); err != nil {
		return err
	}
	if *bodyPath == "" || len(extra) != 0 {
		return errors.New("usage: daylightd sign-policy [--data D] --body policy.body [--json]")
	}
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		return err
	}
	p, err := policy.Parse(body)
	if err != nil {
		return fmt.Errorf("sign-policy: %s: %w", *bodyPath, err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("sign-policy: %s: %w", *bodyPath, err)
	}
	key, _, err := providerKey(o)
	if err != nil {
		return err
	}
	if !p.Provider.Equal(key.Public()) {
		return errors.New("sign-policy: the policy names another provider key (hint: daylightd provider-key prints this one)")
	}
	if !p.NoEscrow || p.Log.VerifierKey != "" {
		if err := checkPolicyLog(o, p); err != nil {
			return fmt.Errorf("sign-policy: %w", err)
		}
	}
	sig := policy.Sign(body, policy.ProviderSigner, key)
	fmt.Fprintf(stderr, "signing policy %x: %q, k=%d of %d trustees, %d courts, w=%d of %d witnesses\n",
		policy.IDOf(body), p.Name, p.K, len(p.Trustees), len(p.Courts), p.W, len(p.Witnesses))
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"signer": sig.Signer, "signature": sig.Sig})
	}
	fmt.Fprintf(stdout, "%s %s\n", sig.Signer, base64.StdEncoding.EncodeToString(sig.Sig))
	return nil
}

// checkPolicyLog checks that a policy names this daylightd's access log:
// its origin and verifier key (from the log key file).
func checkPolicyLog(o *options, p *policy.Policy) error {
	b, err := os.ReadFile(logKeyPath(o))
	if err != nil {
		return fmt.Errorf("the access log key: %w (hint: daylightd log-key first)", err)
	}
	vkey, name, err := noteVKey(trimSpace(b))
	if err != nil {
		return err
	}
	if p.Log.Origin != name || p.Log.VerifierKey != vkey {
		return fmt.Errorf("the policy names the log %q (%s), not this one %q (%s)", p.Log.Origin, p.Log.VerifierKey, name, vkey)
	}
	return nil
}

func trimSpace(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// policyPublisher is the operator's POST /admin/v1/policy: it appends the
// Policy entry of a fully signed policy (every trustee and the provider,
// policy.Verify) that names this provider key and this access log, and
// answers {"index": N, "policy_id": hex}.
type policyPublisher struct {
	o   *options
	al  *tlog.Log
	pub ed25519.PublicKey
	log *slog.Logger
	now func() time.Time
}

func (h *policyPublisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg}})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		fail(http.StatusRequestEntityTooLarge, "the signed policy is too large")
		return
	}
	s, err := policy.ParseSigned(body)
	if err != nil {
		fail(http.StatusBadRequest, "not a signed policy: "+err.Error())
		return
	}
	v, err := policy.Verify(s)
	if err != nil {
		fail(http.StatusBadRequest, "the policy does not verify: "+err.Error())
		return
	}
	if !v.Provider.Equal(h.pub) {
		fail(http.StatusForbidden, "the policy names another provider key")
		return
	}
	if !v.NoEscrow || v.Log.VerifierKey != "" {
		if err := checkPolicyLog(h.o, v.Policy); err != nil {
			fail(http.StatusForbidden, err.Error())
			return
		}
	}
	e, err := policy.LogEntry(s, uint64(h.now().Unix()))
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	idx, err := h.al.Append(r.Context(), e)
	if err != nil {
		h.log.Error("policy publish", "err", err)
		fail(http.StatusServiceUnavailable, "the log could not append the policy; retry")
		return
	}
	h.log.Info("policy published", "policy_id", hex.EncodeToString(v.ID[:]), "index", idx)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"index": idx, "policy_id": hex.EncodeToString(v.ID[:])})
}
