package storetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

func (e *env) keyPackages(t *testing.T, s dstest.Signer, n int, lastResort bool) {
	t.Helper()
	var kps [][]byte
	for i := range n {
		kps = append(kps, dstest.KeyPackage(s, e.clock.Now().Add(time.Duration(24+i)*time.Hour), false, randomID()))
	}
	if lastResort {
		kps = append(kps, dstest.KeyPackage(s, e.clock.Now().Add(30*24*time.Hour), true, randomID()))
	}
	must(t, "UploadKeyPackages", e.svc.UploadKeyPackages(e.ctx, pr(s), kps))
}

func testKeyPackagesOneTime(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, _ := e.user(t, "bob")
	e.keyPackages(t, bob, 3, true)
	if n, err := e.svc.KeyPackageCount(e.ctx, pr(bob)); err != nil || n != 3 {
		t.Fatalf("KeyPackageCount = %d, %v; want 3", n, err)
	}
	seen := map[string]bool{}
	for i := range 3 {
		c, err := e.svc.ClaimKeyPackages(e.ctx, ap, "bob")
		must(t, "ClaimKeyPackages", err)
		if len(c) != 1 || c[0].LastResort || c[0].Device != bob.Device || seen[string(c[0].Ref)] {
			t.Fatalf("claim %d: %+v", i, c)
		}
		seen[string(c[0].Ref)] = true
	}
	for range 2 {
		c, err := e.svc.ClaimKeyPackages(e.ctx, ap, "bob")
		must(t, "ClaimKeyPackages (last resort)", err)
		if len(c) != 1 || !c[0].LastResort {
			t.Fatalf("want the last-resort KeyPackage, got %+v", c)
		}
	}
	if n, _ := e.svc.KeyPackageCount(e.ctx, pr(bob)); n != 0 {
		t.Fatalf("KeyPackageCount = %d after claims", n)
	}
	// A new last-resort KeyPackage replaces the old one.
	e.keyPackages(t, bob, 0, true)
	c1, _ := e.svc.ClaimKeyPackages(e.ctx, ap, "bob")
	c2, _ := e.svc.ClaimKeyPackages(e.ctx, ap, "bob")
	if !bytes.Equal(c1[0].Ref, c2[0].Ref) || seen[string(c1[0].Ref)] {
		t.Fatalf("last resort not replaced")
	}
	// Expiry: after the last-resort KeyPackage expires, nothing is handed out.
	e.clock.Advance(31 * 24 * time.Hour)
	_, err := e.svc.ClaimKeyPackages(e.ctx, ap, "bob")
	wantErr(t, "claim after expiry", err, ds.ErrNoKeyPackage)
	_ = alice
	// GC deletes expired KeyPackages.
	_, err = e.svc.GC(e.ctx)
	must(t, "GC", err)
	_, err = e.st.ClaimKeyPackage(e.ctx, bob.Device, time.Time{}.Add(1))
	wantErr(t, "claim of GC'd KeyPackage", err, ds.ErrNoKeyPackage)
}

func testKeyPackagesConcurrentClaims(t *testing.T, e *env) {
	_, ap := e.user(t, "alice")
	bob, _ := e.user(t, "bob")
	const kps, claimers = 20, 40
	e.keyPackages(t, bob, kps, false)
	var mu sync.Mutex
	got := map[string]int{}
	none := 0
	var wg sync.WaitGroup
	for range claimers {
		wg.Go(func() {
			c, err := e.svc.ClaimKeyPackage(e.ctx, ap, bob.Device)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ds.ErrNoKeyPackage):
				none++
			case err != nil:
				t.Errorf("ClaimKeyPackage: %v", err)
			default:
				got[string(c.Ref)]++
			}
		})
	}
	wg.Wait()
	if len(got) != kps || none != claimers-kps {
		t.Fatalf("%d distinct KeyPackages handed out and %d empty claims; want %d and %d", len(got), none, kps, claimers-kps)
	}
	for ref, n := range got {
		if n != 1 {
			t.Fatalf("KeyPackage %x handed out %d times", ref[:4], n)
		}
	}
}

func testKeyPackagesBadInput(t *testing.T, e *env) {
	alice, _ := e.user(t, "alice")
	bob, _ := e.user(t, "bob")
	good := dstest.KeyPackage(alice, e.clock.Now().Add(time.Hour), false, randomID())
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := dstest.Forge(dstest.KeyPackage(alice, e.clock.Now().Add(time.Hour), false, randomID()), other)
	must(t, "Forge", err)
	for _, tc := range []struct {
		name string
		kps  [][]byte
		want error
	}{
		{"bad signature", [][]byte{good, forged}, ds.ErrBadSignature},
		{"malformed", [][]byte{good, []byte("junk")}, ds.ErrInvalidMessage},
		{"another device's KeyPackage", [][]byte{good, dstest.KeyPackage(bob, e.clock.Now().Add(time.Hour), false, randomID())}, ds.ErrForbidden},
		{"expired", [][]byte{good, dstest.KeyPackage(alice, e.clock.Now().Add(-time.Second), false, randomID())}, ds.ErrInvalidInput},
		{"duplicate ref", [][]byte{good, good}, ds.ErrInvalidInput},
		{"empty batch", nil, ds.ErrInvalidInput},
		{"two last-resort", [][]byte{dstest.KeyPackage(alice, e.clock.Now().Add(time.Hour), true, randomID()), dstest.KeyPackage(alice, e.clock.Now().Add(time.Hour), true, randomID())}, ds.ErrInvalidInput},
	} {
		err := e.svc.UploadKeyPackages(e.ctx, pr(alice), tc.kps)
		wantErr(t, tc.name, err, tc.want)
		if n, _ := e.svc.KeyPackageCount(e.ctx, pr(alice)); n != 0 {
			t.Fatalf("%s: %d KeyPackages stored after a rejected upload", tc.name, n)
		}
	}
	// A KeyPackage whose credential names alice but carries another key.
	mallory := dstest.Signer{Username: "alice", Device: alice.Device, Key: other}
	err = e.svc.UploadKeyPackages(e.ctx, pr(alice), [][]byte{dstest.KeyPackage(mallory, e.clock.Now().Add(time.Hour), false, randomID())})
	wantErr(t, "KeyPackage with an unregistered key", err, ds.ErrForbidden)
	_ = fmt.Sprint()
}
