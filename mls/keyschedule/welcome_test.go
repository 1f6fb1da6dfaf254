package keyschedule

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/suite"
)

// tr is a minimal strict reader for the Welcome structures this test needs
// (the group layer uses mls/wire).
type tr struct {
	b   []byte
	err error
}

func (r *tr) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *tr) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *tr) varint() int {
	if r.err != nil || len(r.b) == 0 {
		r.take(1)
		return 0
	}
	switch r.b[0] >> 6 {
	case 0:
		return int(r.take(1)[0] & 0x3f)
	case 1:
		if v := r.take(2); v != nil {
			return int(binary.BigEndian.Uint16(v) & 0x3fff)
		}
	case 2:
		if v := r.take(4); v != nil {
			return int(binary.BigEndian.Uint32(v) & 0x3fffffff)
		}
	default:
		r.err = fmt.Errorf("bad varint")
	}
	return 0
}

func (r *tr) opaque() []byte { return r.take(r.varint()) }

// TestWelcomeVectors decrypts each Welcome of welcome.json with the suite and
// key schedule: GroupSecrets under init_priv (EncryptWithLabel "Welcome"),
// the GroupInfo under the welcome key, the GroupInfo signature
// ("GroupInfoTBS") and the confirmation tag recomputed from joiner_secret
// (RFC 9420, Section 12.4.3.1).
func TestWelcomeVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16           `json:"cipher_suite"`
		InitPriv    testkit.HexBytes `json:"init_priv"`
		KeyPackage  testkit.HexBytes `json:"key_package"`
		SignerPub   testkit.HexBytes `json:"signer_pub"`
		Welcome     testkit.HexBytes `json:"welcome"`
	}
	testkit.LoadVectors(t, "welcome.json", &vs)
	count := map[suite.ID]int{}
	for _, v := range vs {
		s := mustSuite(t, v.CipherSuite)
		t.Run(s.ID().String(), func(t *testing.T) {
			// MLSMessage headers: version mls10, wire formats key_package(5) and welcome(3).
			if !bytes.HasPrefix(v.KeyPackage, []byte{0, 1, 0, 5}) || !bytes.HasPrefix(v.Welcome, []byte{0, 1, 0, 3}) {
				t.Fatal("unexpected MLSMessage headers")
			}
			kpRef := s.RefHash("MLS 1.0 KeyPackage Reference", v.KeyPackage[4:])

			r := &tr{b: v.Welcome[4:]}
			if cs := r.u16(); cs != v.CipherSuite {
				t.Fatalf("Welcome.cipher_suite %d", cs)
			}
			secrets := &tr{b: r.opaque()}
			encGroupInfo := r.opaque()
			if r.err != nil || len(r.b) != 0 {
				t.Fatalf("Welcome: %v (%d trailing)", r.err, len(r.b))
			}
			var groupSecrets []byte
			for len(secrets.b) > 0 && secrets.err == nil {
				ref := secrets.opaque()
				kemOutput, ct := secrets.opaque(), secrets.opaque()
				if bytes.Equal(ref, kpRef) {
					var err error
					groupSecrets, err = s.DecryptWithLabel(v.InitPriv, "Welcome", encGroupInfo, kemOutput, ct)
					if err != nil {
						t.Fatalf("GroupSecrets: %v", err)
					}
				}
			}
			if groupSecrets == nil {
				t.Fatal("no EncryptedGroupSecrets for our KeyPackageRef")
			}
			gs := &tr{b: groupSecrets}
			joinerBytes := gs.opaque()
			if p := gs.take(1); p != nil && p[0] == 1 {
				gs.opaque() // path_secret
			}
			if psks := gs.opaque(); len(psks) != 0 {
				t.Fatalf("vector has PSKs")
			}
			if gs.err != nil || len(gs.b) != 0 {
				t.Fatalf("GroupSecrets: %v", gs.err)
			}
			joiner, err := NewJoinerSecret(s, joinerBytes)
			if err != nil {
				t.Fatal(err)
			}
			welcome, err := joiner.WelcomeSecret(nil)
			if err != nil {
				t.Fatal(err)
			}
			groupInfo, err := welcome.OpenGroupInfo(encGroupInfo)
			if err != nil {
				t.Fatal(err)
			}
			// GroupInfo{GroupContext, extensions<V>, confirmation_tag<V>, uint32 signer, signature<V>}
			gi := &tr{b: groupInfo}
			gcStart := len(gi.b)
			gi.take(4) // version, cipher_suite
			gi.opaque()
			gi.take(8)
			gi.opaque()
			cth := gi.opaque()
			gi.opaque() // GroupContext.extensions
			groupContext := groupInfo[:gcStart-len(gi.b)]
			gi.opaque() // GroupInfo.extensions
			tag := gi.opaque()
			gi.take(4)
			tbs := groupInfo[:len(groupInfo)-len(gi.b)]
			sig := gi.opaque()
			if gi.err != nil || len(gi.b) != 0 {
				t.Fatalf("GroupInfo: %v", gi.err)
			}
			if err := s.VerifyWithLabel(v.SignerPub, "GroupInfoTBS", tbs, sig); err != nil {
				t.Errorf("GroupInfo signature: %v", err)
			}
			epoch, err := joiner.EpochSecret(nil, groupContext)
			if err != nil {
				t.Fatal(err)
			}
			if !epoch.Derive().Confirmation.Verify(cth, tag) {
				t.Errorf("GroupInfo.confirmation_tag does not match the key schedule")
			}
			count[s.ID()]++
		})
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no welcome case ran", id)
		}
	}
}
