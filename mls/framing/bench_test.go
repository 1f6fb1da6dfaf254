package framing

import (
	"bytes"
	"testing"
)

// BenchmarkApplicationMessage1KiB measures the full path of a 1 KiB
// application message on suite 1: sign + ProtectPrivate + Marshal on the
// sender (with a parsed suite.Signer, as a client holds), then ParsePrivateMessage + UnprotectPrivate + VerifySignature on
// the receiver.
func BenchmarkApplicationMessage1KiB(b *testing.B) {
	f := newFixture(b)
	recv := f.newRecv()
	msg := bytes.Repeat([]byte{'m'}, 1024)
	signer, err := f.s.NewSigner(f.priv)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		ac, err := SignWith(signer, WireFormatPrivateMessage, f.content(ContentApplication, msg), f.gc)
		if err != nil {
			b.Fatal(err)
		}
		pm, err := ProtectPrivate(f.s, ac, f.send.tree, f.send.senderData, PrivateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		data, _ := pm.Marshal()
		pm2, err := ParsePrivateMessage(data)
		if err != nil {
			b.Fatal(err)
		}
		got, err := UnprotectPrivate(f.s, pm2, recv.tree, recv.senderData, UnprotectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := got.VerifySignature(f.s, f.pub, f.gc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectPrivate1KiB and BenchmarkUnprotectPrivate1KiB split the
// symmetric part (no signature) of the above.
func BenchmarkProtectPrivate1KiB(b *testing.B) {
	f := newFixture(b)
	ac, _ := Sign(f.s, f.priv, WireFormatPrivateMessage, f.content(ContentApplication, bytes.Repeat([]byte{'m'}, 1024)), f.gc)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProtectPrivate(f.s, ac, f.send.tree, f.send.senderData, PrivateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnprotectPrivate1KiB(b *testing.B) {
	f := newFixture(b)
	ac, _ := Sign(f.s, f.priv, WireFormatPrivateMessage, f.content(ContentApplication, bytes.Repeat([]byte{'m'}, 1024)), f.gc)
	// One tree per batch of messages: receiving them consumes the keys.
	const batch = 4096
	var msgs []*PrivateMessage
	var recv *epochState
	i := batch
	b.ReportAllocs()
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			send := f.newRecv()
			recv = f.newRecv()
			msgs = msgs[:0]
			for range batch {
				pm, _ := ProtectPrivate(f.s, ac, send.tree, send.senderData, PrivateOptions{})
				msgs = append(msgs, pm)
			}
			i = 0
			b.StartTimer()
		}
		if _, err := UnprotectPrivate(f.s, msgs[i], recv.tree, recv.senderData, UnprotectOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
