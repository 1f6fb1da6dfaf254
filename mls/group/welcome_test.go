package group

import (
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/suite"
)

// TestWelcomeVectors runs welcome.json: decrypt the GroupSecrets with init_priv,
// decrypt the GroupInfo with the welcome secret, verify its signature with
// signer_pub and its confirmation tag with the epoch's confirmation key (RFC 9420,
// Section 12.4.3.1).
func TestWelcomeVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16           `json:"cipher_suite"`
		InitPriv    testkit.HexBytes `json:"init_priv"`
		KeyPackage  testkit.HexBytes `json:"key_package"`
		SignerPub   testkit.HexBytes `json:"signer_pub"`
		Welcome     testkit.HexBytes `json:"welcome"`
	}
	testkit.LoadVectors(t, "welcome.json", &vs)
	run := map[uint16]int{}
	for i, v := range vs {
		t.Run(fmt.Sprintf("%d/suite%d", i, v.CipherSuite), func(t *testing.T) {
			s, err := suite.Lookup(suite.ID(v.CipherSuite))
			if err != nil {
				t.Fatalf("suite %d must be supported: %v", v.CipherSuite, err)
			}
			kp, err := parseKeyPackageAny(v.KeyPackage)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parseMLSMessage(v.Welcome)
			if err != nil || m.welcome == nil {
				t.Fatalf("welcome: %v", err)
			}
			g := &Group{publicState: publicState{cs: s}}
			_, gi, joiner, psk, err := g.openWelcome(m.welcome, kp.Raw, v.InitPriv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(v.SignerPub, labelGroupInfoTBS, gi.AppendTBS(nil), gi.Signature); err != nil {
				t.Fatalf("GroupInfo signature: %v", err)
			}
			es, err := joiner.EpochSecret(psk, gi.GroupContext.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if !es.Derive().Confirmation.Verify(gi.GroupContext.ConfirmedTranscriptHash, gi.ConfirmationTag) {
				t.Fatal("confirmation tag does not verify")
			}
		})
		run[v.CipherSuite]++
	}
	for cs := uint16(1); cs <= 7; cs++ {
		if run[cs] == 0 {
			t.Errorf("suite %d: no welcome vector ran", cs)
		}
	}
	t.Logf("welcome.json: ran per suite %v", run)
}
