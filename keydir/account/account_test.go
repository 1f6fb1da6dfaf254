package account

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

type dev struct {
	d    Device
	priv ed25519.PrivateKey
}

func newDev(t testing.TB, n byte) dev {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return dev{Device{ID: DeviceID{n}, SignatureKey: pub, Credential: []byte{0, 1, 5, 'a', 'l', 'i', 'c', 'e'}, KeyPackageKey: bytes.Repeat([]byte{n}, 32), AddedAt: 100}, priv}
}

func chain(t *testing.T) ([]*Record, []dev) {
	a, b, c := newDev(t, 1), newDev(t, 2), newDev(t, 3)
	r0, err := NewRegistration("alice", a.d, a.priv, 100)
	if err != nil {
		t.Fatal(err)
	}
	s0, err := Genesis(r0)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := s0.NewAdd(b.d, a.d.ID, a.priv, 110)
	s1, err := s0.Apply(r1)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := s1.NewAdd(c.d, b.d.ID, b.priv, 120)
	s2, err := s1.Apply(r2)
	if err != nil {
		t.Fatal(err)
	}
	r3, _ := s2.NewRevoke(a.d.ID, c.d.ID, c.priv, 130)
	return []*Record{r0, r1, r2, r3}, []dev{a, b, c}
}

func TestChainVerifies(t *testing.T) {
	rs, devs := chain(t)
	s, err := Verify(rs)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 3 || len(s.Devices) != 2 || !s.Revoked(devs[0].d.ID) {
		t.Fatalf("state: version %d, %d devices", s.Version, len(s.Devices))
	}
	s0, _ := Verify(rs[:1])
	if s0.SafetyNumber() != s.SafetyNumber() {
		t.Fatal("safety number changed with own device changes")
	}
}

// TestAttackUnsignedDevice: a record adding a device, signed by a key that is
// not an active device of the account (the provider's), is rejected; so is one
// signed by a revoked device, and a fork that skips a version.
func TestAttackUnsignedDevice(t *testing.T) {
	rs, devs := chain(t)
	s2, err := Verify(rs[:3])
	if err != nil {
		t.Fatal(err)
	}
	ghost := newDev(t, 9)
	forged, _ := s2.NewAdd(ghost.d, devs[1].d.ID, ghost.priv, 200) // claims device 2, signs with ghost key
	if _, err := s2.Apply(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged signer: %v", err)
	}
	self, _ := s2.NewAdd(ghost.d, ghost.d.ID, ghost.priv, 200) // self-signed newcomer
	if _, err := s2.Apply(self); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("self-signed add: %v", err)
	}
	s3, err := s2.Apply(rs[3])
	if err != nil {
		t.Fatal(err)
	}
	byRevoked, _ := s3.NewAdd(ghost.d, devs[0].d.ID, devs[0].priv, 200)
	if _, err := s3.Apply(byRevoked); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("revoked signer: %v", err)
	}
	// Tampering with a signed record after the fact.
	tampered := *rs[1]
	tampered.Device.SignatureKey = ghost.d.SignatureKey
	if _, err := Verify([]*Record{rs[0], &tampered}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered record: %v", err)
	}
	// Skipping a version.
	if _, err := Verify([]*Record{rs[0], rs[2]}); !errors.Is(err, ErrBadChain) {
		t.Fatalf("skipped version: %v", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	rs, _ := chain(t)
	for _, r := range rs {
		enc, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseRecord(enc)
		if err != nil {
			t.Fatal(err)
		}
		enc2, _ := p.Marshal()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("round trip differs")
		}
		for n := range len(enc) {
			if _, err := ParseRecord(enc[:n]); err == nil {
				t.Fatalf("prefix of %d bytes parsed", n)
			}
		}
		if _, err := ParseRecord(append(enc, 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	a := newDev(f, 1)
	r0, _ := NewRegistration("alice", a.d, a.priv, 100)
	enc, _ := r0.Marshal()
	f.Add(enc)
	s0, _ := Genesis(r0)
	r1, _ := s0.NewRevoke(DeviceID{7}, a.d.ID, a.priv, 101)
	r1.Op = OpRevoke
	enc1, _ := r1.Marshal()
	f.Add(enc1)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("parsed record does not marshal: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatal("re-marshal differs")
		}
	})
}
