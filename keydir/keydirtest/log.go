// Package keydirtest provides an in-memory access log for keydir tests: an
// RFC 6962 tree whose checkpoints (C2SP tlog-checkpoint) are signed by a log
// key and cosigned (C2SP tlog-cosignature) by test witnesses. It stands in for
// accesslog/tlog until that adapter implements keydir.Log; it is not durable.
package keydirtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/daylight-im/daylight/keydir"
	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// Log is an in-memory keydir.Log.
type Log struct {
	Origin string

	mu        sync.Mutex
	tree      *testonly.Tree
	entries   [][]byte
	signer    note.Signer
	verifier  note.Verifier
	witnesses []note.Signer
	wverifs   []note.Verifier
	vkey      string
	wvkeys    []string
}

// NewLog returns an empty log with its own key and n witnesses.
func NewLog(origin string, n int) (*Log, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, err
	}
	l := &Log{Origin: origin, tree: testonly.New(rfc6962.DefaultHasher)}
	if l.signer, err = note.NewSigner(skey); err != nil {
		return nil, err
	}
	if l.verifier, err = note.NewVerifier(vkey); err != nil {
		return nil, err
	}
	l.vkey = vkey
	for i := range n {
		wskey, wvkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("witness%d.test", i))
		if err != nil {
			return nil, err
		}
		s, err := fnote.NewSignerForCosignatureV1(wskey)
		if err != nil {
			return nil, err
		}
		v, err := fnote.NewVerifierForCosignatureV1(wvkey)
		if err != nil {
			return nil, err
		}
		l.witnesses, l.wverifs, l.wvkeys = append(l.witnesses, s), append(l.wverifs, v), append(l.wvkeys, wvkey)
	}
	return l, nil
}

// Verifiers returns the log's key and the witnesses' cosignature keys.
func (l *Log) Verifiers() (note.Verifier, []note.Verifier) { return l.verifier, l.wverifs }

// VKeys returns the log's verifier key and the witnesses' cosignature
// verifier keys (C2SP signed-note vkeys, what a kdclient.Trust lists).
func (l *Log) VKeys() (string, []string) { return l.vkey, append([]string(nil), l.wvkeys...) }

// CheckpointWith signs the current tree with the log key and only the
// witnesses whose index is listed: a checkpoint short of cosignatures.
func (l *Log) CheckpointWith(witnesses ...int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp := log.Checkpoint{Origin: l.Origin, Size: l.tree.Size(), Hash: l.tree.Hash()}
	signers := []note.Signer{l.signer}
	for _, i := range witnesses {
		signers = append(signers, l.witnesses[i])
	}
	return note.Sign(&note.Note{Text: string(cp.Marshal())}, signers...)
}

// AppendHead appends keydir.MarshalHeadEntry(h).
func (l *Log) AppendHead(_ context.Context, h keydir.EpochHead) (uint64, error) {
	return l.AppendEntry(keydir.MarshalHeadEntry(h)), nil
}

// AppendEntry appends raw entry bytes (tests use it to log what a
// misbehaving directory would).
func (l *Log) AppendEntry(entry []byte) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, append([]byte(nil), entry...))
	l.tree.AppendData(entry)
	return uint64(len(l.entries) - 1)
}

// Entries returns a copy of every entry, in order (what an auditor reads
// from the log's tiles).
func (l *Log) Entries() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.entries...)
}

// Checkpoint signs the current tree with the log key and every witness.
func (l *Log) Checkpoint(context.Context) ([]byte, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size := l.tree.Size()
	cp := log.Checkpoint{Origin: l.Origin, Size: size, Hash: l.tree.Hash()}
	signers := append([]note.Signer{l.signer}, l.witnesses...)
	n, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, signers...)
	return n, size, err
}

// Inclusion returns the inclusion proof of index in checkpoint's tree.
func (l *Log) Inclusion(_ context.Context, index uint64, checkpoint []byte) ([][32]byte, error) {
	n, err := note.Open(checkpoint, note.VerifierList(l.verifier))
	if err != nil {
		return nil, err
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if index >= cp.Size || cp.Size > l.tree.Size() {
		return nil, errors.New("keydirtest: index or size out of range")
	}
	p, err := l.tree.InclusionProof(index, cp.Size)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, len(p))
	for i := range p {
		copy(out[i][:], p[i])
	}
	return out, nil
}

// Fork returns a copy of l that the same log key signs but that fresh
// witnesses cosign: what a provider that forks its log can produce, since
// the real witnesses refuse to cosign an inconsistent tree.
func (l *Log) Fork() (*Log, error) {
	f, err := NewLog(l.Origin, len(l.witnesses))
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f.signer, f.verifier, f.vkey = l.signer, l.verifier, l.vkey
	for _, e := range l.entries {
		f.entries = append(f.entries, e)
		f.tree.AppendData(e)
	}
	return f, nil
}
