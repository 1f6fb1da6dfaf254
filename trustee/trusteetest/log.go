// Package trusteetest is an in-memory witnessed access log for tests of the
// lawful-access packages: it appends entries, signs checkpoints with the log
// key and any number of witness cosignatures, and makes RFC 6962 inclusion
// proofs. Nothing here is for production use (accesslog/tlog is the log).
package trusteetest

import (
	"context"
	"fmt"
	"testing"

	f_log "github.com/transparency-dev/formats/log"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee"
)

// Log is an in-memory log signed with a policytest fixture's keys.
type Log struct {
	t       testing.TB
	f       *policytest.Fixture
	entries [][]byte
}

// NewLog returns an empty log for fixture f.
func NewLog(t testing.TB, f *policytest.Fixture) *Log { return &Log{t: t, f: f} }

// Append adds an encoded entry and returns its index.
func (l *Log) Append(entry []byte) uint64 {
	l.entries = append(l.entries, entry)
	return uint64(len(l.entries) - 1)
}

// Entries returns all entries appended so far.
func (l *Log) Entries() [][]byte { return l.entries }

func mth(d [][]byte) []byte {
	h := rfc6962.DefaultHasher
	switch len(d) {
	case 0:
		return h.EmptyRoot()
	case 1:
		return h.HashLeaf(d[0])
	}
	k := split(len(d))
	return h.HashChildren(mth(d[:k]), mth(d[k:]))
}

func split(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func path(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := split(len(d))
	if m < k {
		return append(path(m, d[:k]), mth(d[k:]))
	}
	return append(path(m-k, d[k:]), mth(d[:k]))
}

func subproof(m int, d [][]byte, complete bool) [][]byte {
	n := len(d)
	if m == n {
		if complete {
			return nil
		}
		return [][]byte{mth(d)}
	}
	k := split(n)
	if m <= k {
		return append(subproof(m, d[:k], complete), mth(d[k:]))
	}
	return append(subproof(m-k, d[k:], false), mth(d[:k]))
}

// Consistency returns the RFC 6962 (Section 2.1.2) consistency proof between
// the log's first from and first to entries; it has the signature of
// trustee.Config.Consistency.
func (l *Log) Consistency(_ context.Context, from, to uint64) ([][]byte, error) {
	if from == 0 || from > to || to > uint64(len(l.entries)) {
		return nil, fmt.Errorf("trusteetest: no consistency proof %d..%d of a log of %d", from, to, len(l.entries))
	}
	return subproof(int(from), l.entries[:to], true), nil
}

// Checkpoint signs a checkpoint of the whole log with the log key and the
// first cosigners witnesses of the fixture.
func (l *Log) Checkpoint(cosigners int) []byte {
	cp := f_log.Checkpoint{Origin: l.f.Verified.Log.Origin, Size: uint64(len(l.entries)), Hash: mth(l.entries)}
	ls, err := note.NewSigner(l.f.LogSigner)
	if err != nil {
		l.t.Fatal(err)
	}
	signers := []note.Signer{ls}
	for i := 0; i < cosigners; i++ {
		ws, err := f_note.NewSignerForCosignatureV1(l.f.Witnesses[i])
		if err != nil {
			l.t.Fatal(err)
		}
		signers = append(signers, ws)
	}
	raw, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, signers...)
	if err != nil {
		l.t.Fatal(err)
	}
	return raw
}

// Include returns the inclusion of entry index under a checkpoint with
// cosigners witness cosignatures.
func (l *Log) Include(index uint64, cosigners int) trustee.Inclusion {
	return trustee.Inclusion{
		Checkpoint: l.Checkpoint(cosigners),
		Index:      index,
		Entry:      l.entries[index],
		Proof:      path(int(index), l.entries),
	}
}

// Fork returns a log that shares the first keep entries with l and then
// goes its own way: what a log operator colluding with witnesses could show
// some parties (split view).
func (l *Log) Fork(keep int) *Log {
	return &Log{t: l.t, f: l.f, entries: append([][]byte(nil), l.entries[:keep]...)}
}
