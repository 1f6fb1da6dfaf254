package main

// `daylight-trustee directory`: build the --directory accounts file of
// `serve` from the provider's key-transparency directory, verified, instead
// of taking the provider's word for the accounts' keys.
//
// For each account it looks the account up at <server>/keydir/ and verifies
// the answer with keydir/kdclient: the access log checkpoint under the
// witness policy the signed access policy names (log key, witnesses, w),
// the epoch head's signature (--directory-key) and inclusion, the VRF label
// (--vrf-key), the prefix-tree proof and the account chain. The account's
// signature key is its one device's Ed25519 key (the key that signs its
// commit statements); an account with several devices is refused, because
// trustee.CommitChain takes one key per account. The opening key (X-Wing,
// for the notice at the embargo end) is not in the directory yet: it is
// given per account as `daylight opening-key --json` output.

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/policy"
)

func runDirectory(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("directory", stderr)
	polPath := fs.String("policy", "", "the signed access policy (its log key and witnesses anchor the directory's answers)")
	server := fs.String("server", "", "the provider's base URL (the directory is at <server>/keydir/)")
	dirKey := fs.String("directory-key", "", "hex Ed25519 key signing the directory's epoch heads (printed by daylightd at start)")
	vrfKey := fs.String("vrf-key", "", "hex vrf-r255 public key of the directory (printed by daylightd at start)")
	out := fs.String("out", "accounts.json", "write the accounts file here")
	var accounts stringsFlag
	fs.Var(&accounts, "account", "ACCOUNT or ACCOUNT=OPENING.json (`daylight opening-key --json` output) (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" || *dirKey == "" || *vrfKey == "" || len(accounts) == 0 {
		return errors.New("directory: --policy, --server, --directory-key, --vrf-key and --account are required")
	}
	pol, err := readPolicy(*polPath)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	cfg, err := keydirConfig(pol, *dirKey, *vrfKey)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	kd := &kdhttp.Client{BaseURL: strings.TrimSuffix(*server, "/"), HTTP: &http.Client{Timeout: time.Minute}}
	kc := kdclient.NewClient(*cfg)
	dir := map[string]directoryEntry{}
	for _, a := range accounts {
		name, openingFile, _ := strings.Cut(a, "=")
		resp, err := kd.Lookup(ctx, name)
		if err != nil {
			return fmt.Errorf("directory: lookup of %s: %w", name, err)
		}
		ct, err := kc.Lookup(resp)
		if err != nil {
			return fmt.Errorf("directory: the directory's answer for %s does not verify: %w", name, err)
		}
		if len(ct.State.Devices) != 1 {
			return fmt.Errorf("directory: %s has %d devices; the trustee's commit chain takes one key per account", name, len(ct.State.Devices))
		}
		e := directoryEntry{SignatureKey: ct.State.Devices[0].SignatureKey}
		if openingFile != "" {
			b, err := os.ReadFile(openingFile)
			if err != nil {
				return fmt.Errorf("directory: %w", err)
			}
			var ok struct {
				OpeningKey []byte `json:"opening_key"`
			}
			if err := json.Unmarshal(b, &ok); err != nil || len(ok.OpeningKey) == 0 {
				return fmt.Errorf("directory: %s: want {\"opening_key\": b64} (%v)", openingFile, err)
			}
			e.OpeningKey = ok.OpeningKey
		}
		dir[name] = e
		fmt.Fprintf(stdout, "%s: device key verified in directory epoch %d\n", name, ct.Epoch)
	}
	b, err := json.MarshalIndent(dir, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, append(b, '\n'), 0o644)
}

// keydirConfig is the kdclient configuration of a trustee: the directory's
// keys given out of band and the checkpoint policy of the signed access
// policy (the access log anchors the directory's epoch heads).
func keydirConfig(pol *policy.Verified, dirKeyHex, vrfKeyHex string) (*kdclient.Config, error) {
	dk, err := hex.DecodeString(dirKeyHex)
	if err != nil || len(dk) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("--directory-key: want %d bytes of hex", ed25519.PublicKeySize)
	}
	vk, err := hex.DecodeString(vrfKeyHex)
	if err != nil || len(vk) == 0 {
		return nil, errors.New("--vrf-key: want hex")
	}
	wp := &kdclient.WitnessPolicy{Origin: pol.Log.Origin, Threshold: int(pol.W)}
	if wp.Log, err = note.NewVerifier(pol.Log.VerifierKey); err != nil {
		return nil, fmt.Errorf("policy log key: %w", err)
	}
	for _, w := range pol.Witnesses {
		v, err := fnote.NewVerifierForCosignatureV1(w.VerifierKey)
		if err != nil {
			return nil, fmt.Errorf("policy witness %s: %w", w.Name, err)
		}
		wp.Witnesses = append(wp.Witnesses, v)
	}
	return &kdclient.Config{DirectoryKey: dk, VRFKey: vk, Checkpoints: wp}, nil
}
