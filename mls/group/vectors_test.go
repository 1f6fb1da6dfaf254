package group

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/suite"
)

type externalPSK struct {
	PSKID testkit.HexBytes `json:"psk_id"`
	PSK   testkit.HexBytes `json:"psk"`
}

type passiveEpoch struct {
	Proposals          []testkit.HexBytes `json:"proposals"`
	Commit             testkit.HexBytes   `json:"commit"`
	EpochAuthenticator testkit.HexBytes   `json:"epoch_authenticator"`
}

type passiveVector struct {
	CipherSuite               uint16           `json:"cipher_suite"`
	ExternalPSKs              []externalPSK    `json:"external_psks"`
	KeyPackage                testkit.HexBytes `json:"key_package"`
	SignaturePriv             testkit.HexBytes `json:"signature_priv"`
	EncryptionPriv            testkit.HexBytes `json:"encryption_priv"`
	InitPriv                  testkit.HexBytes `json:"init_priv"`
	Welcome                   testkit.HexBytes `json:"welcome"`
	RatchetTree               testkit.HexBytes `json:"ratchet_tree"`
	InitialEpochAuthenticator testkit.HexBytes `json:"initial_epoch_authenticator"`
	Epochs                    []passiveEpoch   `json:"epochs"`
}

// supportedSuite reports whether the engine runs a vector suite; every suite that
// mls/suite can look up must be run, and the per-suite counts are checked.
func supportedSuite(cs uint16) bool {
	_, err := suite.Lookup(suite.ID(cs))
	return err == nil
}

// runPassive joins from the Welcome with the given keys and follows every epoch,
// comparing epoch authenticators (RFC 9420, Sections 8.7, 12.4.3.1, 12.4.2).
func runPassive(t *testing.T, v *passiveVector) error {
	psks := PSKStore{}
	for _, p := range v.ExternalPSKs {
		psks.Add(p.PSKID, p.PSK)
	}
	cfg := Config{PSKs: psks}
	kp, err := LoadKeyPackageBundle(v.KeyPackage, v.InitPriv, v.EncryptionPriv, v.SignaturePriv)
	if err != nil {
		return fmt.Errorf("key package: %w", err)
	}
	g, err := Join(cfg, kp, v.Welcome, v.RatchetTree)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	if !bytes.Equal(g.EpochAuthenticator(), v.InitialEpochAuthenticator) {
		return fmt.Errorf("initial epoch_authenticator mismatch")
	}
	for i, e := range v.Epochs {
		for j, p := range e.Proposals {
			if err := g.ReceiveProposal(p); err != nil {
				return fmt.Errorf("epoch %d proposal %d: %w", i, j, err)
			}
		}
		r, err := g.Process(e.Commit)
		if err != nil {
			return fmt.Errorf("epoch %d commit: %w", i, err)
		}
		if r.Kind != KindCommit {
			return fmt.Errorf("epoch %d: got %v, want commit", i, r.Kind)
		}
		if err := g.Merge(r.Staged); err != nil {
			return fmt.Errorf("epoch %d merge: %w", i, err)
		}
		if !bytes.Equal(g.EpochAuthenticator(), e.EpochAuthenticator) {
			return fmt.Errorf("epoch %d: epoch_authenticator mismatch", i)
		}
	}
	return nil
}

func testPassiveFile(t *testing.T, name string) {
	var vs []passiveVector
	testkit.LoadVectors(t, name, &vs)
	run, skipped := map[uint16]int{}, map[uint16]int{}
	for i := range vs {
		v := &vs[i]
		if !supportedSuite(v.CipherSuite) {
			skipped[v.CipherSuite]++
			continue
		}
		t.Run(fmt.Sprintf("%d/suite%d", i, v.CipherSuite), func(t *testing.T) {
			if err := runPassive(t, v); err != nil {
				t.Fatal(err)
			}
		})
		run[v.CipherSuite]++
	}
	t.Logf("%s: ran per suite %v; skipped (suite unsupported by mls/suite) %v", name, run, skipped)
	if len(run) == 0 {
		t.Fatalf("%s: no vector ran", name)
	}
	for _, cs := range []uint16{1, 3} {
		if _, ok := vs0(vs, cs); ok && run[cs] == 0 {
			t.Fatalf("%s: suite %d present but not run", name, cs)
		}
	}
}

func vs0(vs []passiveVector, cs uint16) (int, bool) {
	for i, v := range vs {
		if v.CipherSuite == cs {
			return i, true
		}
	}
	return 0, false
}

func TestPassiveClientWelcome(t *testing.T) { testPassiveFile(t, "passive-client-welcome.json") }
func TestPassiveClientHandlingCommit(t *testing.T) {
	testPassiveFile(t, "passive-client-handling-commit.json")
}
func TestPassiveClientRandom(t *testing.T) { testPassiveFile(t, "passive-client-random.json") }
