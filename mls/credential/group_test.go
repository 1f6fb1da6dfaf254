package credential_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// keyPackageMessage wraps kp in an MLSMessage, the form mls/group takes.
func keyPackageMessage(kp *wire.KeyPackage) []byte {
	return (&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatKeyPackage, KeyPackage: kp}).Marshal()
}

// groupConfig is a group.Config whose CredentialValidator is v for suite cs,
// at the test clock.
func groupConfig(t *testing.T, v *credential.Validator, cs suite.ID) group.Config {
	t.Helper()
	check, err := v.ForSuite(cs)
	if err != nil {
		t.Fatal(err)
	}
	return group.Config{Now: func() time.Time { return testNow }, CredentialValidator: check}
}

// TestGroupX509Members runs mls/group with this package's validator: a
// member whose KeyPackage carries an x509 credential from the trusted root is
// added, joins from the Welcome (validating every leaf of the tree), and
// exchanges messages and commits with the creator.
//
// mls/group's Create and NewKeyPackage only make basic credentials, so the
// creator is basic (accepted by the Basic hook) and the x509 member's
// KeyPackage is built here and loaded with group.LoadKeyPackageBundle.
func TestGroupX509Members(t *testing.T) {
	for _, tc := range []struct {
		alg keyAlg
		cs  suite.ID
	}{
		{algEd25519, suite.X25519AES128GCMSHA256Ed25519},
		{algP256, suite.P256AES128GCMSHA256P256},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			p := newPKI(t, tc.alg)
			v := newValidator(t, credential.Config{Roots: p.roots, Basic: credential.AcceptBasic})
			cfg := groupConfig(t, v, tc.cs)

			alice, err := group.Create(cfg, tc.cs, []byte("x509 group"), []byte("alice"))
			if err != nil {
				t.Fatal(err)
			}
			kp, initPriv, encPriv := x509KeyPackage(t, tc.cs, p.leaf, p.inter)
			msg := keyPackageMessage(kp)
			res, err := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: msg}}})
			if err != nil {
				t.Fatalf("Add of a trusted x509 member: %v", err)
			}
			if err := alice.MergePendingCommit(); err != nil {
				t.Fatal(err)
			}
			bundle, err := group.LoadKeyPackageBundle(msg, initPriv, encPriv, signaturePriv(t, p.leaf))
			if err != nil {
				t.Fatal(err)
			}
			bob, err := group.Join(cfg, bundle, res.Welcome, nil)
			if err != nil {
				t.Fatalf("x509 member joins: %v", err)
			}

			// The x509 member sends; the creator receives.
			ct, err := bob.Protect(nil, []byte("signed under a certificate"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := alice.Process(ct)
			if err != nil || string(got.ApplicationData) != "signed under a certificate" {
				t.Fatalf("Process: %v", err)
			}
			// The x509 member commits with an UpdatePath: its new leaf's
			// credential is validated again by the creator.
			c, err := bob.Commit(group.CommitOptions{ForcePath: true})
			if err != nil {
				t.Fatal(err)
			}
			r, err := alice.Process(c.Commit)
			if err != nil {
				t.Fatalf("commit by the x509 member: %v", err)
			}
			if err := alice.Merge(r.Staged); err != nil {
				t.Fatal(err)
			}
			if err := bob.MergePendingCommit(); err != nil {
				t.Fatal(err)
			}
			if alice.Epoch() != 2 || bob.Epoch() != 2 || string(alice.EpochAuthenticator()) != string(bob.EpochAuthenticator()) {
				t.Fatalf("epochs %d/%d disagree", alice.Epoch(), bob.Epoch())
			}
		})
	}
}

// TestAttackGroupAddUntrustedX509Member attempts to add members whose x509
// credentials the group's Authentication Service must refuse (RFC 9420,
// Section 5.3.1: a KeyPackage used in an Add is validated): a chain from
// another root, a trusted certificate expired at the group's clock, and a
// stolen trusted certificate chain presented with the attacker's own
// signature key. Commit and Propose refuse, and a receiving member refuses an
// Add committed by a member that does not validate credentials.
func TestAttackGroupAddUntrustedX509Member(t *testing.T) {
	cs := suite.X25519AES128GCMSHA256Ed25519
	p, other := newPKI(t, algEd25519), newPKI(t, algEd25519)
	v := newValidator(t, credential.Config{Roots: p.roots, Basic: credential.AcceptBasic})
	cfg := groupConfig(t, v, cs)
	alice, err := group.Create(cfg, cs, []byte("x509 group"), []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}

	untrusted, _, _ := x509KeyPackage(t, cs, other.leaf, other.inter)
	expiredLeaf := issue(t, "eve", false, algEd25519, nil, p.inter, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Minute) })
	expired, _, _ := x509KeyPackage(t, cs, expiredLeaf, p.inter)
	// mallory signs with her own key but presents alice-the-certificate's chain.
	mallory := issue(t, "mallory", false, algEd25519, nil, nil, nil)
	stolen := x509KeyPackageSignedBy(t, cs, mallory, p.leaf, p.inter)

	for _, tc := range []struct {
		name     string
		kp       *wire.KeyPackage
		sentinel error
	}{
		{"other root", untrusted, credential.ErrUntrusted},
		{"expired", expired, credential.ErrUntrusted},
		{"stolen certificate", stolen, credential.ErrKeyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			add := group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: keyPackageMessage(tc.kp)}
			_, err := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{add}})
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Commit with Add: %v, want %v", err, tc.sentinel)
			}
			if _, err := alice.Propose(add); !errors.Is(err, tc.sentinel) {
				t.Fatalf("Propose Add: %v, want %v", err, tc.sentinel)
			}
			if alice.Epoch() != 0 {
				t.Fatal("epoch advanced")
			}
		})
	}

	// A member without a validator commits the untrusted Add; alice refuses it.
	bobKP, err := group.NewKeyPackage(cfg, cs, []byte("bob"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: bobKP.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	lax := group.Config{Now: cfg.Now}
	bob, err := group.Join(lax, bobKP, res.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := bob.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: keyPackageMessage(untrusted)}}})
	if err != nil {
		t.Fatalf("the lax member's commit: %v", err)
	}
	_, err = alice.Process(c.Commit)
	if !errors.Is(err, group.ErrInvalid) || !errors.Is(err, credential.ErrUntrusted) {
		t.Fatalf("received commit adding an untrusted member: %v", err)
	}
	if alice.Epoch() != 1 {
		t.Fatal("epoch advanced")
	}
}
