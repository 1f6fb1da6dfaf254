package mlsvalidator_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

func TestVerifyKeyPackage(t *testing.T) {
	v := mlsvalidator.New(nil)
	for _, cs := range []suite.ID{suite.X25519AES128GCMSHA256Ed25519, suite.X25519ChaCha20Poly1305SHA256Ed25519} {
		id := ds.Identity("alice", 7)
		kp, err := group.NewKeyPackage(group.Config{}, cs, id)
		if err != nil {
			t.Fatal(err)
		}
		info, err := v.VerifyKeyPackage(kp.Message)
		if err != nil {
			t.Fatalf("suite %v: %v", cs, err)
		}
		ref, _ := kp.Ref()
		if !bytes.Equal(info.Ref, ref) || !bytes.Equal(info.Identity, id) || info.LastResort || info.NotAfter == 0 || len(info.SignatureKey) != 32 {
			t.Fatalf("suite %v: info %+v", cs, info)
		}
		// A flipped bit in the KeyPackage signature (the last bytes).
		bad := bytes.Clone(kp.Message)
		bad[len(bad)-1] ^= 1
		if _, err := v.VerifyKeyPackage(bad); !errors.Is(err, ds.ErrBadSignature) {
			t.Fatalf("tampered signature: %v, want ErrBadSignature", err)
		}
		// Trailing bytes, truncation, junk.
		for name, b := range map[string][]byte{
			"trailing":  append(bytes.Clone(kp.Message), 0),
			"truncated": kp.Message[:len(kp.Message)-1],
			"junk":      []byte("junk"),
		} {
			if _, err := v.VerifyKeyPackage(b); !errors.Is(err, ds.ErrInvalidMessage) {
				t.Fatalf("%s: %v, want ErrInvalidMessage", name, err)
			}
		}
		env, err := v.Inspect(kp.Message)
		if err != nil || env.WireFormat != ds.WireKeyPackage {
			t.Fatalf("Inspect(KeyPackage) = %+v, %v", env, err)
		}
	}
}

func TestInspectGroupMessages(t *testing.T) {
	v := mlsvalidator.New(nil)
	g, err := group.Create(group.Config{}, suite.X25519AES128GCMSHA256Ed25519, []byte("gid"), ds.Identity("alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := g.Protect(nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := v.Inspect(msg)
	if err != nil || env.WireFormat != ds.WirePrivateMessage || env.ContentType != ds.ContentApplication || string(env.GroupID) != "gid" || env.Epoch != 0 {
		t.Fatalf("Inspect(PrivateMessage) = %+v, %v", env, err)
	}
	cr, err := g.Commit(group.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env, err = v.Inspect(cr.Commit)
	if err != nil || env.WireFormat != ds.WirePublicMessage || env.ContentType != ds.ContentCommit || env.Epoch != 0 {
		t.Fatalf("Inspect(commit) = %+v, %v", env, err)
	}
	if _, err := v.Apply(nil, cr.Commit); !errors.Is(err, ds.ErrInvalidMessage) {
		t.Fatalf("Apply without an engine: %v", err)
	}
}

// FuzzInspect: Inspect and VerifyKeyPackage never panic, and whatever
// Inspect accepts has a known wire format.
func FuzzInspect(f *testing.F) {
	kp, err := group.NewKeyPackage(group.Config{}, suite.X25519AES128GCMSHA256Ed25519, ds.Identity("a", 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kp.Message)
	f.Add([]byte{0, 1, 0, 2})
	v := mlsvalidator.New(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := v.Inspect(b)
		if err == nil && (env.WireFormat < ds.WirePublicMessage || env.WireFormat > ds.WireKeyPackage) {
			t.Fatalf("accepted wire format %d", env.WireFormat)
		}
		v.VerifyKeyPackage(b)
	})
}
