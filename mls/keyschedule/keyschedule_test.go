package keyschedule

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/suite"
)

var rfcSuites = []suite.ID{1, 2, 3, 4, 5, 6, 7}

func mustSuite(t testing.TB, id uint16) *suite.Suite {
	t.Helper()
	s, err := suite.Lookup(suite.ID(id))
	if err != nil {
		t.Fatalf("suite %d: %v", id, err)
	}
	return s
}

// opaqueV appends opaque<V> (test-local encoder; the group layer uses mls/wire).
func opaqueV(b, v []byte) []byte { return append(appendVarint(b, len(v)), v...) }

// encodeGroupContext serializes a GroupContext with no extensions
// (RFC 9420, Section 8.1).
func encodeGroupContext(id suite.ID, groupID []byte, epoch uint64, treeHash, cth []byte) []byte {
	b := []byte{0, 1, byte(id >> 8), byte(id)}
	b = opaqueV(b, groupID)
	b = binary.BigEndian.AppendUint64(b, epoch)
	b = opaqueV(b, treeHash)
	b = opaqueV(b, cth)
	return opaqueV(b, nil)
}

type keyScheduleVector struct {
	CipherSuite       uint16           `json:"cipher_suite"`
	GroupID           testkit.HexBytes `json:"group_id"`
	InitialInitSecret testkit.HexBytes `json:"initial_init_secret"`
	Epochs            []struct {
		CommitSecret            testkit.HexBytes `json:"commit_secret"`
		ConfirmationKey         testkit.HexBytes `json:"confirmation_key"`
		ConfirmedTranscriptHash testkit.HexBytes `json:"confirmed_transcript_hash"`
		EncryptionSecret        testkit.HexBytes `json:"encryption_secret"`
		EpochAuthenticator      testkit.HexBytes `json:"epoch_authenticator"`
		Exporter                struct {
			Context testkit.HexBytes `json:"context"`
			Label   string           `json:"label"` // used as text, as upstream does
			Length  int              `json:"length"`
			Secret  testkit.HexBytes `json:"secret"`
		} `json:"exporter"`
		ExporterSecret   testkit.HexBytes `json:"exporter_secret"`
		ExternalPub      testkit.HexBytes `json:"external_pub"`
		ExternalSecret   testkit.HexBytes `json:"external_secret"`
		GroupContext     testkit.HexBytes `json:"group_context"`
		InitSecret       testkit.HexBytes `json:"init_secret"`
		JoinerSecret     testkit.HexBytes `json:"joiner_secret"`
		MembershipKey    testkit.HexBytes `json:"membership_key"`
		PSKSecret        testkit.HexBytes `json:"psk_secret"`
		ResumptionPSK    testkit.HexBytes `json:"resumption_psk"`
		SenderDataSecret testkit.HexBytes `json:"sender_data_secret"`
		TreeHash         testkit.HexBytes `json:"tree_hash"`
		WelcomeSecret    testkit.HexBytes `json:"welcome_secret"`
	} `json:"epochs"`
}

func eq(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %x", name, got, want)
	}
}

func TestKeyScheduleVectors(t *testing.T) {
	var vs []keyScheduleVector
	testkit.LoadVectors(t, "key-schedule.json", &vs)
	count := map[suite.ID]int{}
	for _, v := range vs {
		s := mustSuite(t, v.CipherSuite)
		t.Run(s.ID().String(), func(t *testing.T) {
			init, err := NewInitSecret(s, v.InitialInitSecret)
			if err != nil {
				t.Fatal(err)
			}
			for n, ep := range v.Epochs {
				gc := encodeGroupContext(s.ID(), v.GroupID, uint64(n), ep.TreeHash, ep.ConfirmedTranscriptHash)
				eq(t, "group_context", gc, ep.GroupContext)
				commit, err := NewCommitSecret(s, ep.CommitSecret)
				if err != nil {
					t.Fatal(err)
				}
				joiner, err := init.JoinerSecret(commit, gc)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "joiner_secret", joiner.Bytes(), ep.JoinerSecret)
				// The vector's psk_secret is opaque here: inject it through a
				// PSKSecret value.
				psk := &PSKSecret{secret{s: s, b: ep.PSKSecret}}
				welcome, err := joiner.WelcomeSecret(psk)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "welcome_secret", welcome.Bytes(), ep.WelcomeSecret)
				epoch, err := joiner.EpochSecret(psk, gc)
				if err != nil {
					t.Fatal(err)
				}
				es := epoch.Derive()
				eq(t, "sender_data_secret", es.SenderData.Bytes(), ep.SenderDataSecret)
				eq(t, "encryption_secret", es.Encryption.Bytes(), ep.EncryptionSecret)
				eq(t, "exporter_secret", es.Exporter.Bytes(), ep.ExporterSecret)
				eq(t, "epoch_authenticator", es.EpochAuthenticator, ep.EpochAuthenticator)
				eq(t, "external_secret", es.External.Bytes(), ep.ExternalSecret)
				eq(t, "confirmation_key", es.Confirmation.Bytes(), ep.ConfirmationKey)
				eq(t, "membership_key", es.Membership.Bytes(), ep.MembershipKey)
				eq(t, "resumption_psk", es.Resumption.Bytes(), ep.ResumptionPSK)
				eq(t, "init_secret", es.Init.Bytes(), ep.InitSecret)
				_, pub, err := es.External.KeyPair()
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "external_pub", pub, ep.ExternalPub)
				x := ep.Exporter
				eq(t, "MLS-Exporter", es.Exporter.Export(x.Label, x.Context, x.Length), x.Secret)

				// Deletion: the consumed stages zero on Destroy.
				init.Destroy()
				commit.Destroy()
				joiner.Destroy()
				epoch.Destroy()
				for name, b := range map[string][]byte{"init": init.b, "commit": commit.b, "joiner": joiner.b, "epoch": epoch.b} {
					if !isZero(b) {
						t.Errorf("%s secret not zeroed by Destroy", name)
					}
				}
				init = es.Init
				count[s.ID()]++
			}
		})
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no key-schedule epochs ran", id)
		}
		t.Logf("key-schedule: suite %v: %d epoch(s)", id, count[id])
	}
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

type pskVector struct {
	CipherSuite uint16 `json:"cipher_suite"`
	PSKs        []struct {
		PSKID    testkit.HexBytes `json:"psk_id"`
		PSK      testkit.HexBytes `json:"psk"`
		PSKNonce testkit.HexBytes `json:"psk_nonce"`
	} `json:"psks"`
	PSKSecret testkit.HexBytes `json:"psk_secret"`
}

func TestPSKSecretVectors(t *testing.T) {
	var vs []pskVector
	testkit.LoadVectors(t, "psk_secret.json", &vs)
	count := map[suite.ID]int{}
	for i, v := range vs {
		s := mustSuite(t, v.CipherSuite)
		var psks []PSK
		for _, p := range v.PSKs {
			// PreSharedKeyID{psktype = external(1), psk_id<V>, psk_nonce<V>}
			id := opaqueV(opaqueV([]byte{1}, p.PSKID), p.PSKNonce)
			psks = append(psks, PSK{ID: id, Secret: p.PSK})
		}
		got, err := ComputePSKSecret(s, psks)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got.Bytes(), v.PSKSecret) {
			t.Errorf("case %d (suite %d, %d PSKs): psk_secret = %x, want %x", i, v.CipherSuite, len(psks), got.Bytes(), v.PSKSecret)
		}
		count[s.ID()]++
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no psk_secret case ran", id)
		}
		t.Logf("psk_secret: suite %v: %d case(s)", id, count[id])
	}
}

type transcriptVector struct {
	CipherSuite                  uint16           `json:"cipher_suite"`
	ConfirmationKey              testkit.HexBytes `json:"confirmation_key"`
	AuthenticatedContent         testkit.HexBytes `json:"authenticated_content"`
	InterimTranscriptHashBefore  testkit.HexBytes `json:"interim_transcript_hash_before"`
	ConfirmedTranscriptHashAfter testkit.HexBytes `json:"confirmed_transcript_hash_after"`
	InterimTranscriptHashAfter   testkit.HexBytes `json:"interim_transcript_hash_after"`
}

func TestTranscriptHashVectors(t *testing.T) {
	var vs []transcriptVector
	testkit.LoadVectors(t, "transcript-hashes.json", &vs)
	count := map[suite.ID]int{}
	for _, v := range vs {
		s := mustSuite(t, v.CipherSuite)
		t.Run(s.ID().String(), func(t *testing.T) {
			// AuthenticatedContent of a commit ends with confirmation_tag
			// (MAC<V>, Nh bytes): split it off to get the
			// ConfirmedTranscriptHashInput.
			tail := opaqueV(nil, make([]byte, s.Nh()))
			ac := v.AuthenticatedContent
			if len(ac) < len(tail) || !bytes.Equal(ac[len(ac)-len(tail):len(ac)-s.Nh()], tail[:len(tail)-s.Nh()]) {
				t.Fatalf("authenticated_content does not end in an Nh-byte MAC")
			}
			confirmedInput := ac[:len(ac)-len(tail)]
			tag := ac[len(ac)-s.Nh():]

			confirmed := ConfirmedTranscriptHash(s, v.InterimTranscriptHashBefore, confirmedInput)
			eq(t, "confirmed_transcript_hash", confirmed, v.ConfirmedTranscriptHashAfter)
			ck, err := NewConfirmationKey(s, v.ConfirmationKey)
			if err != nil {
				t.Fatal(err)
			}
			if !ck.Verify(confirmed, tag) {
				t.Errorf("confirmation tag does not verify")
			}
			eq(t, "confirmation_tag", ck.Tag(confirmed), tag)
			bad := bytes.Clone(tag)
			bad[0] ^= 1
			if ck.Verify(confirmed, bad) {
				t.Errorf("tampered confirmation tag verified")
			}
			eq(t, "interim_transcript_hash", InterimTranscriptHash(s, confirmed, tag), v.InterimTranscriptHashAfter)
			count[s.ID()]++
		})
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no transcript-hash case ran", id)
		}
	}
}

// TestWelcomeGroupInfoRoundTrip seals and opens a GroupInfo with the welcome
// key and rejects a tampered ciphertext and a wrong PSK.
func TestWelcomeGroupInfoRoundTrip(t *testing.T) {
	for _, id := range rfcSuites {
		s := mustSuite(t, uint16(id))
		j, _ := NewJoinerSecret(s, bytes.Repeat([]byte{1}, s.Nh()))
		w, err := j.WelcomeSecret(nil)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := w.SealGroupInfo([]byte("group info"))
		if err != nil {
			t.Fatal(err)
		}
		if gi, err := w.OpenGroupInfo(ct); err != nil || string(gi) != "group info" {
			t.Fatalf("%v: OpenGroupInfo = %q, %v", id, gi, err)
		}
		psk, _ := ComputePSKSecret(s, []PSK{{ID: []byte{1, 1, 'x', 1, 'n'}, Secret: []byte("k")}})
		w2, _ := j.WelcomeSecret(psk)
		if _, err := w2.OpenGroupInfo(ct); !errors.Is(err, suite.ErrDecrypt) {
			t.Errorf("%v: GroupInfo opened under a different psk_secret: %v", id, err)
		}
		ct[0] ^= 1
		if _, err := w.OpenGroupInfo(ct); !errors.Is(err, suite.ErrDecrypt) {
			t.Errorf("%v: tampered GroupInfo opened: %v", id, err)
		}
	}
}

// TestExternalInitRoundTrip: joiner and members derive the same init_secret
// from external_pub/external_priv (RFC 9420, Section 8.3).
func TestExternalInitRoundTrip(t *testing.T) {
	for _, id := range append(rfcSuites, suite.XWingChaCha20Poly1305SHA256Ed25519) {
		s := mustSuite(t, uint16(id))
		ext, _ := NewExternalSecret(s, bytes.Repeat([]byte{9}, s.Nh()))
		priv, pub, err := ext.KeyPair()
		if err != nil {
			t.Fatal(err)
		}
		kem, a, err := ExternalInit(s, pub)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ExternalInitReceive(s, priv, kem)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) || len(a.Bytes()) != s.Nh() {
			t.Errorf("%v: external init secrets differ", id)
		}
	}
}

func TestRejectsWrongLengthSecrets(t *testing.T) {
	s := mustSuite(t, 1)
	if _, err := NewJoinerSecret(s, make([]byte, 31)); err == nil {
		t.Error("31-byte joiner_secret accepted")
	}
	if _, err := NewInitSecret(s, make([]byte, 64)); err == nil {
		t.Error("64-byte init_secret accepted")
	}
	s2 := mustSuite(t, 2)
	i, _ := NewInitSecret(s, make([]byte, 32))
	if _, err := i.JoinerSecret(ZeroCommitSecret(s2), nil); err == nil {
		t.Error("secrets of different suites combined")
	}
}

func TestComputePSKSecretEmpty(t *testing.T) {
	s := mustSuite(t, 1)
	p, err := ComputePSKSecret(s, nil)
	if err != nil || !isZero(p.Bytes()) || len(p.Bytes()) != 32 {
		t.Errorf("empty PSK list: %x %v", p.Bytes(), err)
	}
	if _, err := ComputePSKSecret(s, []PSK{{ID: nil, Secret: []byte{1}}}); err == nil {
		t.Error("empty PreSharedKeyID accepted")
	}
}

func BenchmarkEpochDerivation(b *testing.B) {
	s := mustSuite(b, 1)
	init, _ := NewInitSecret(s, make([]byte, 32))
	cs, _ := NewCommitSecret(s, make([]byte, 32))
	gc := make([]byte, 200)
	rand.Read(gc)
	b.ReportAllocs()
	for b.Loop() {
		j, _ := init.JoinerSecret(cs, gc)
		e, _ := j.EpochSecret(nil, gc)
		e.Derive()
	}
}

// TestEpochSecretsDestroy zeroes every secret and tolerates missing ones.
func TestEpochSecretsDestroy(t *testing.T) {
	s := mustSuite(t, 1)
	j, _ := NewJoinerSecret(s, bytes.Repeat([]byte{1}, 32))
	e, _ := j.EpochSecret(nil, nil)
	es := e.Derive()
	keep := bytes.Clone(es.EpochAuthenticator)
	es.Destroy()
	for _, b := range [][]byte{es.SenderData.b, es.Encryption.b, es.Exporter.b, es.External.b, es.Confirmation.b, es.Membership.b, es.Resumption.b, es.Init.b} {
		if !isZero(b) {
			t.Error("secret not zeroed")
		}
	}
	if !bytes.Equal(keep, es.EpochAuthenticator) {
		t.Error("epoch authenticator changed")
	}
	(&EpochSecrets{Init: es.Init}).Destroy() // must not panic on nil fields
}
