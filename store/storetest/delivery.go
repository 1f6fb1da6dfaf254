package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
)

// retained counts the group's messages still stored (LastSeq minus what GC
// deleted is not observable directly, so count through a fresh member view).
func (e *env) retained(t *testing.T, p ds.Principal) int {
	t.Helper()
	return len(e.drain(t, p, 1000))
}

func testAckAndGC(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	carol, cp := e.user(t, "carol")
	gid, epoch := e.group(t, alice, bob, carol)
	for i := range 10 {
		_, err := e.svc.Send(e.ctx, ap, app(gid, epoch, i), nil)
		must(t, "Send", err)
	}
	// bob and carol each hold the add commit? No: they joined with it; they
	// hold the Welcome and 10 messages.
	pb, err := e.svc.Fetch(e.ctx, bp, 0, 1000)
	must(t, "Fetch", err)
	if len(pb.Deliveries) != 11 {
		t.Fatalf("bob has %d entries, want 11", len(pb.Deliveries))
	}
	must(t, "Ack", e.svc.Ack(e.ctx, bp, pb.Cursor))
	if n, err := e.svc.GC(e.ctx); err != nil || n != 0 {
		t.Fatalf("GC before carol acked deleted %d (%v)", n, err)
	}
	if got := e.retained(t, cp); got != 11 {
		t.Fatalf("carol lost messages before acking: %d", got)
	}
	pc, err := e.svc.Fetch(e.ctx, cp, 0, 5)
	must(t, "Fetch", err)
	must(t, "Ack", e.svc.Ack(e.ctx, cp, pc.Cursor)) // Welcome + 4 messages
	// alice (the sender) must ack past her own messages too: her empty page's
	// cursor lets her.
	pa, err := e.svc.Fetch(e.ctx, ap, 0, 100)
	must(t, "Fetch", err)
	if len(pa.Deliveries) != 0 {
		t.Fatalf("sender received %d of her own messages", len(pa.Deliveries))
	}
	must(t, "Ack", e.svc.Ack(e.ctx, ap, pa.Cursor))
	n, err := e.svc.GC(e.ctx)
	must(t, "GC", err)
	// The add commit (seq 1, which none of them receives... alice sent it) and
	// the 4 messages carol acked are deletable.
	if n != 5 {
		t.Fatalf("GC deleted %d messages, want 5", n)
	}
	rest := e.drain(t, cp, 100)
	if len(rest) != 6 || rest[0].Seq != 6 {
		t.Fatalf("carol after GC: %d entries from seq %d", len(rest), rest[0].Seq)
	}
	must(t, "Ack", e.svc.Ack(e.ctx, cp, rest[len(rest)-1].Cursor))
	n, err = e.svc.GC(e.ctx)
	must(t, "GC", err)
	if n != 6 {
		t.Fatalf("GC deleted %d, want 6", n)
	}
	// Acks are cumulative and never go back.
	must(t, "Ack backwards", e.svc.Ack(e.ctx, cp, 1))
	if got := e.retained(t, cp); got != 0 {
		t.Fatalf("after all acks carol still sees %d", got)
	}
	_, _, _ = alice, bob, carol
}

func testRetention(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	_, err := e.svc.Send(e.ctx, ap, app(gid, epoch, 1), nil)
	must(t, "Send", err)
	e.clock.Advance(47 * time.Hour)
	_, err = e.svc.Send(e.ctx, ap, app(gid, epoch, 2), nil)
	must(t, "Send", err)
	if n, _ := e.svc.GC(e.ctx); n != 0 {
		t.Fatalf("GC within retention deleted %d", n)
	}
	e.clock.Advance(2 * time.Hour)
	n, err := e.svc.GC(e.ctx)
	must(t, "GC", err)
	if n != 2 { // the add commit and message 1: older than 48 h, unacked
		t.Fatalf("GC past retention deleted %d, want 2", n)
	}
	got := e.drain(t, bp, 100)
	if len(got) != 1 || !bytes.Equal(got[0].Data, app(gid, epoch, 2)) {
		t.Fatalf("bob after retention: %+v", got)
	}
	_ = bob
}

func testNotify(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	wake, cancel := e.svc.Subscribe(bp)
	defer cancel()
	wakeA, cancelA := e.svc.Subscribe(ap)
	defer cancelA()
	_, err := e.svc.Send(e.ctx, ap, app(gid, epoch, 1), nil)
	must(t, "Send", err)
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("bob was not woken")
	}
	select {
	case <-wakeA:
		t.Fatal("the sender was woken by her own message")
	default:
	}
	_ = bob
}

func testBlobs(t *testing.T, e *env) {
	_, ap := e.user(t, "alice")
	_, bp := e.user(t, "bob")
	data := make([]byte, 5500) // chunks of 1000 bytes in this suite
	rand.Read(data)
	m, err := e.svc.PutBlob(e.ctx, ap, bytes.NewReader(data), int64(len(data)))
	must(t, "PutBlob", err)
	if m.Size != 5500 || m.SHA256 != sha256.Sum256(data) || !m.Complete {
		t.Fatalf("meta %+v", m)
	}
	var buf bytes.Buffer
	if _, err := e.svc.ReadBlob(e.ctx, bp, m.ID, 0, -1, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("full read: %v", err)
	}
	for _, r := range [][2]int64{{0, 1}, {999, 2}, {1000, 1000}, {2500, 3000}, {5499, 1}, {5500, 0}, {3, 5497}} {
		buf.Reset()
		if _, err := e.svc.ReadBlob(e.ctx, bp, m.ID, r[0], r[1], &buf); err != nil || !bytes.Equal(buf.Bytes(), data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: %v", r, err)
		}
	}
	// Resume: a download interrupted after 1234 bytes continues from there.
	buf.Reset()
	w := &limitWriter{w: &buf, n: 1234}
	n, err := e.svc.ReadBlob(e.ctx, bp, m.ID, 0, -1, w)
	if err == nil || n != 1234 {
		t.Fatalf("interrupted read: %d, %v", n, err)
	}
	if _, err := e.svc.ReadBlob(e.ctx, bp, m.ID, n, -1, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("resumed read: %v", err)
	}
	_, err = e.svc.ReadBlob(e.ctx, bp, m.ID, 5000, 501, io.Discard)
	wantErr(t, "range past the end", err, ds.ErrInvalidInput)
	_, err = e.svc.PutBlob(e.ctx, ap, bytes.NewReader(data), 2<<20)
	wantErr(t, "declared size over the limit", err, ds.ErrTooLarge)
	_, err = e.svc.PutBlob(e.ctx, ap, bytes.NewReader(data), 5000)
	wantErr(t, "stream longer than declared", err, ds.ErrTooLarge)
	_, err = e.svc.PutBlob(e.ctx, ap, bytes.NewReader(data), 6000)
	wantErr(t, "stream shorter than declared", err, ds.ErrInvalidInput)
	_, err = e.svc.BlobInfo(e.ctx, bp, "00112233445566778899aabbccddeeff")
	wantErr(t, "unknown blob", err, ds.ErrNotFound)
	// Blobs are kept no longer than the retention.
	e.clock.Advance(49 * time.Hour)
	_, err = e.svc.GC(e.ctx)
	must(t, "GC", err)
	_, err = e.svc.BlobInfo(e.ctx, bp, m.ID)
	wantErr(t, "blob past retention", err, ds.ErrNotFound)
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		k, _ := l.w.Write(p[:l.n])
		l.n = 0
		return k, io.ErrClosedPipe
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

func testRevokeEndsDelivery(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	laptop, lp := e.link(t, bob, "laptop")
	gid, epoch := e.group(t, alice, bob, laptop)
	_, err := e.svc.Send(e.ctx, ap, app(gid, epoch, 1), nil)
	must(t, "Send", err)
	must(t, "RevokeDevice", e.svc.RevokeDevice(e.ctx, bp, lp.Device))
	_, err = e.svc.Send(e.ctx, ap, app(gid, epoch, 2), nil)
	must(t, "Send", err)
	if got := e.drain(t, lp, 100); len(got) != 0 {
		// Direct messages are deleted on revoke; group messages after the
		// revocation are not delivered; before it they may remain until GC.
		for _, d := range got {
			if d.Kind == ds.KindWelcome || bytes.Equal(d.Data, app(gid, epoch, 2)) {
				t.Fatalf("revoked device still receives %v", d.Kind)
			}
		}
	}
	_, err = e.svc.Send(e.ctx, lp, app(gid, epoch, 3), nil)
	wantErr(t, "message from a revoked device", err, ds.ErrNotMember)
	// The leaf stays until a commit removes it; a commit that keeps it is fine.
	_, err = e.svc.Send(e.ctx, ap, emptyCommit(gid, epoch, alice), nil)
	must(t, "commit keeping a revoked leaf", err)
	_ = bob
}

// testManyGroupsPaging: a device in several groups with interleaved traffic
// and direct messages reads its queue in small pages, in cursor order,
// completely, whatever the backlog.
func testManyGroupsPaging(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	var gids [][]byte
	var epochs []uint64
	for range 4 {
		gid, ep := e.group(t, alice, bob)
		gids, epochs = append(gids, gid), append(epochs, ep)
	}
	want := map[string]bool{}
	for i := range 120 {
		g := (i * 7) % len(gids)
		msg := app(gids[g], epochs[g], i)
		sender := ap
		if i%5 == 0 {
			sender = bp // bob's own messages are not in his queue
		} else {
			want[string(msg)] = true
		}
		_, err := e.svc.Send(e.ctx, sender, msg, nil)
		must(t, "Send", err)
	}
	for _, page := range []int{1, 3, 50, 1000} {
		got := e.drain(t, bp, page)
		welcomes, apps := 0, 0
		var last uint64
		for _, d := range got {
			if d.Cursor <= last {
				t.Fatalf("page %d: cursor %d after %d", page, d.Cursor, last)
			}
			last = d.Cursor
			switch d.Kind {
			case ds.KindWelcome:
				welcomes++
			case ds.KindApplication:
				if !want[string(d.Data)] {
					t.Fatalf("page %d: unexpected message %q", page, d.Data)
				}
				apps++
			}
		}
		if welcomes != 4 || apps != len(want) {
			t.Fatalf("page %d: %d welcomes and %d messages, want 4 and %d", page, welcomes, apps, len(want))
		}
	}
	_ = alice
	_ = bob
}
