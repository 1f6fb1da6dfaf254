package main

import (
	"crypto/rand"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/group"
)

// BenchmarkMessageFranking is one 200-byte application message through the
// clients' whole path, as client/ does it (client/franking.go): sender
// Protect, receiver Process; "on" adds franking.Protect (the commitment as
// the PrivateMessage's authenticated_data, kf in the content) and, at the
// receiver, franking.Unprotect for the MLS-authenticated sender. The
// difference on-off is what franking adds per message to protect plus
// unprotect (issue 7: at most 5 µs).
func BenchmarkMessageFranking(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := group.Config{}
			gid := []byte("bench-group")
			aliceID, bobID := ds.Identity("alice", 1), ds.Identity("bob", 2)
			alice, err := group.Create(cfg, mlsSuite, gid, aliceID)
			if err != nil {
				b.Fatal(err)
			}
			kp, err := group.NewKeyPackage(cfg, mlsSuite, bobID)
			if err != nil {
				b.Fatal(err)
			}
			res, err := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: kp.Message}}})
			if err != nil {
				b.Fatal(err)
			}
			if err := alice.MergePendingCommit(); err != nil {
				b.Fatal(err)
			}
			bob, err := group.Join(cfg, kp, res.Welcome, nil)
			if err != nil {
				b.Fatal(err)
			}
			sender := ds.StampSender(ds.Principal{Username: "alice", Device: 1})
			msg := make([]byte, 200)
			b.ReportAllocs()
			for b.Loop() {
				var ct []byte
				if on {
					content, cm, err := franking.Protect(rand.Reader, gid, sender, msg)
					if err != nil {
						b.Fatal(err)
					}
					ct, err = alice.Protect(cm[:], content)
					if err != nil {
						b.Fatal(err)
					}
				} else if ct, err = alice.Protect(nil, msg); err != nil {
					b.Fatal(err)
				}
				r, err := bob.Process(ct)
				if err != nil {
					b.Fatal(err)
				}
				if on {
					if _, _, err := franking.Unprotect(r.ApplicationData, franking.Commitment(r.AuthenticatedData), gid, sender); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
