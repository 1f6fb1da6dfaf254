package franking

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

var (
	alice = Sender{Account: "alice", Device: "phone"}
	bob   = Sender{Account: "bob", Device: "laptop"}
	g1    = []byte("group-1")
	g2    = []byte("group-2")
)

func newStamper(t testing.TB) *Stamper {
	key := make([]byte, KeySize)
	rand.Read(key)
	st, err := NewStamper(key)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// send runs sender, server and recipient for one message and returns the
// report the recipient could make.
func send(t testing.TB, st *Stamper, from Sender, group []byte, msg string, time uint64) *Report {
	t.Helper()
	content, c, err := Protect(rand.Reader, group, from, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := st.Stamp(c, from, group, time)
	if err != nil {
		t.Fatal(err)
	}
	if err := stamp.Matches(c, group, from); err != nil {
		t.Fatal(err)
	}
	pt, key, err := Unprotect(content, c, group, from)
	if err != nil || string(pt) != msg {
		t.Fatalf("Unprotect: %q %v", pt, err)
	}
	return &Report{Plaintext: pt, Key: key, Stamp: *stamp}
}

func TestReportVerifies(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "meet me behind the station", 1000)
	v, err := st.VerifyReport(r)
	if err != nil {
		t.Fatal(err)
	}
	if v.Sender != alice || !bytes.Equal(v.GroupID, g1) || v.Time != 1000 || string(v.Plaintext) != "meet me behind the station" {
		t.Fatalf("verified report %+v", v)
	}
	enc, _ := r.Marshal()
	r2, err := ParseReport(enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.VerifyReport(r2); err != nil {
		t.Fatal(err)
	}
}

// TestAttackForgedReportAlteredPlaintext: the reporter changes the text.
func TestAttackForgedReportAlteredPlaintext(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "see you at 5", 1)
	r.Plaintext = []byte("see you at 5, bring the gun")
	if _, err := st.VerifyReport(r); !errors.Is(err, ErrCommitment) {
		t.Fatalf("altered plaintext: %v", err)
	}
}

// TestAttackForgedReportSwappedSender: the reporter attributes the message to
// someone else (edits the stamp's sender, account or device).
func TestAttackForgedReportSwappedSender(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "hello", 1)
	r.Stamp.Sender = bob
	if _, err := st.VerifyReport(r); !errors.Is(err, ErrStamp) {
		t.Fatalf("swapped sender: %v", err)
	}
	r = send(t, st, alice, g1, "hello", 1)
	r.Stamp.Sender.Device = "tablet"
	if _, err := st.VerifyReport(r); !errors.Is(err, ErrStamp) {
		t.Fatalf("swapped device: %v", err)
	}
}

// TestAttackForgedReportReplayedStamp: the reporter pairs a genuine stamp of
// one of bob's messages with the text and key of another message.
func TestAttackForgedReportReplayedStamp(t *testing.T) {
	st := newStamper(t)
	innocent := send(t, st, bob, g1, "good morning", 1)
	mine := send(t, st, alice, g1, "something awful", 2)
	forged := &Report{Plaintext: mine.Plaintext, Key: mine.Key, Stamp: innocent.Stamp}
	if _, err := st.VerifyReport(forged); !errors.Is(err, ErrCommitment) {
		t.Fatalf("replayed stamp: %v", err)
	}
	// Even a message with the same text from bob in the same group has its
	// own key: the stamp of one does not verify the other's key.
	again := send(t, st, bob, g1, "good morning", 3)
	if bytes.Equal(again.Stamp.Commitment[:], innocent.Stamp.Commitment[:]) {
		t.Fatal("commitments to the same text are equal (not hiding)")
	}
	mixed := &Report{Plaintext: again.Plaintext, Key: again.Key, Stamp: innocent.Stamp}
	if _, err := st.VerifyReport(mixed); !errors.Is(err, ErrCommitment) {
		t.Fatalf("key of another message: %v", err)
	}
}

// TestAttackForgedReportOtherGroup: the message was sent in group 2; the
// reporter claims it was sent in group 1, either by editing the stamp or by
// using a genuine stamp of a group-1 message.
func TestAttackForgedReportOtherGroup(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g2, "private joke", 1)
	edited := *r
	edited.Stamp.GroupID = g1
	if _, err := st.VerifyReport(&edited); !errors.Is(err, ErrStamp) {
		t.Fatalf("edited group: %v", err)
	}
	// Re-stamped for group 1 (as if the server had seen it there): the
	// commitment binds the group, so it does not open.
	st1, _ := st.Stamp(r.Stamp.Commitment, alice, g1, 1)
	if _, err := st.VerifyReport(&Report{Plaintext: r.Plaintext, Key: r.Key, Stamp: *st1}); !errors.Is(err, ErrCommitment) {
		t.Fatalf("commitment moved to another group: %v", err)
	}
}

// TestAttackUnreportableMessageRejected: a sender puts a commitment in the
// authenticated data that does not match the content (so a report would
// fail): an honest recipient drops the message. Also a commitment made for
// another group or sender identity.
func TestAttackUnreportableMessageRejected(t *testing.T) {
	content, _, _ := Protect(rand.Reader, g1, alice, []byte("abuse"))
	_, decoy, _ := Protect(rand.Reader, g1, alice, []byte("nice words"))
	if _, _, err := Unprotect(content, decoy, g1, alice); !errors.Is(err, ErrCommitment) {
		t.Fatalf("mismatching commitment accepted: %v", err)
	}
	content, c, _ := Protect(rand.Reader, g1, Sender{Account: "alice", Device: "other"}, []byte("abuse"))
	if _, _, err := Unprotect(content, c, g1, alice); !errors.Is(err, ErrCommitment) {
		t.Fatalf("commitment for another device accepted: %v", err)
	}
	content, c, _ = Protect(rand.Reader, g2, alice, []byte("abuse"))
	if _, _, err := Unprotect(content, c, g1, alice); !errors.Is(err, ErrCommitment) {
		t.Fatalf("commitment for another group accepted: %v", err)
	}
	if _, _, err := Unprotect(content[:10], c, g2, alice); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short content: %v", err)
	}
	// A delivered stamp for another commitment is noticed by the recipient.
	st := newStamper(t)
	s, _ := st.Stamp(decoy, alice, g2, 1)
	if err := s.Matches(c, g2, alice); !errors.Is(err, ErrMismatch) {
		t.Fatalf("stamp for another commitment: %v", err)
	}
}

// TestAttackProviderCannotVerifyUnreported: the provider holds the
// commitment and stamp of every message but no franking key; it cannot test
// a guessed plaintext, and a second provider key does not verify stamps.
func TestAttackProviderCannotVerifyUnreported(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "yes", 1)
	for _, guess := range []string{"yes", "no"} {
		for _, key := range [][]byte{make([]byte, KeySize), r.Stamp.Commitment[:], r.Stamp.Tag[:]} {
			if _, err := st.VerifyReport(&Report{Plaintext: []byte(guess), Key: key, Stamp: r.Stamp}); err == nil {
				t.Fatalf("provider confirmed %q without the franking key", guess)
			}
		}
	}
	other := newStamper(t)
	if _, err := other.VerifyReport(r); !errors.Is(err, ErrStamp) {
		t.Fatalf("stamp verified under another key: %v", err)
	}
	// A key of another length is refused (HMAC pads short keys: fixed-length
	// keys keep the commitment binding, Grubbs-Lu-Ristenpart Section 6).
	padded := append(bytes.Clone(r.Key), 0)
	if _, err := st.VerifyReport(&Report{Plaintext: r.Plaintext, Key: padded, Stamp: r.Stamp}); err == nil {
		t.Fatal("zero-padded key accepted")
	}
}

func TestParseStrict(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "x", 1)
	enc, _ := r.Marshal()
	for cut := 0; cut < len(enc); cut++ {
		if _, err := ParseReport(enc[:cut]); err == nil {
			t.Fatalf("prefix %d parsed", cut)
		}
	}
	if _, err := ParseReport(append(bytes.Clone(enc), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	se := r.Stamp.Marshal()
	if _, err := ParseStamp(append(bytes.Clone(se), 0)); err == nil {
		t.Fatal("stamp trailing byte accepted")
	}
	se[0] = 2
	if _, err := ParseStamp(se); err == nil {
		t.Fatal("unknown stamp version accepted")
	}
}

func FuzzParseReport(f *testing.F) {
	st := newStamper(f)
	r := send(f, st, alice, g1, "fuzz seed", 7)
	enc, _ := r.Marshal()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport(data)
		if err != nil {
			return
		}
		b, err := r.Marshal()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}

func FuzzParseStamp(f *testing.F) {
	st := newStamper(f)
	r := send(f, st, alice, g1, "fuzz seed", 7)
	f.Add(r.Stamp.Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStamp(data)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), data) {
			t.Fatal("re-marshal differs")
		}
	})
}

// BenchmarkProtectUnprotect measures what franking adds per message on the
// clients (a 200-byte text): drawing kf, two HMAC-SHA256 commitments.
func BenchmarkProtectUnprotect(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 200)
	b.ReportAllocs()
	for b.Loop() {
		content, c, err := Protect(rand.Reader, g1, alice, msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := Unprotect(content, c, g1, alice); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStamp measures the server's per-message cost.
func BenchmarkStamp(b *testing.B) {
	st := newStamper(b)
	var c Commitment
	b.ReportAllocs()
	for b.Loop() {
		st.Stamp(c, alice, g1, 1)
	}
}

func BenchmarkVerifyReport(b *testing.B) {
	st := newStamper(b)
	r := send(b, st, alice, g1, "report me", 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.VerifyReport(r); err != nil {
			b.Fatal(err)
		}
	}
}
