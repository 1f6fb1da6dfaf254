package keydir

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/daylight-im/daylight/keydir/prefix"
	"golang.org/x/crypto/cryptobyte"
)

// FileStore is a durable Store for one machine: an append-only journal file
// replayed into memory on open. Every write is appended and fsynced before
// the method returns; a torn last record (a crash mid-write) is truncated
// on open. If a write fails the store refuses all further writes (reopen it
// to recover from the journal).
type FileStore struct {
	mu     sync.Mutex
	mem    *MemStore
	f      *os.File
	failed error
}

// Journal record kinds.
const (
	jAppendVersion = 1
	jSaveEpoch     = 2
	jSetLogged     = 3
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// OpenFileStore opens (creating if needed) the journal at path.
func OpenFileStore(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keydir: FileStore: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("keydir: FileStore: reading journal: %w", err)
	}
	s := &FileStore{mem: NewMemStore(), f: f}
	off := 0
	for off < len(data) {
		payload, n, ok := nextJournalRecord(data[off:])
		if !ok {
			break // torn tail
		}
		if err := s.replay(payload); err != nil {
			f.Close()
			return nil, fmt.Errorf("keydir: FileStore: journal record at offset %d: %w", off, err)
		}
		off += n
	}
	if off < len(data) {
		if err := f.Truncate(int64(off)); err != nil {
			f.Close()
			return nil, fmt.Errorf("keydir: FileStore: truncating torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(int64(off), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the journal.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// nextJournalRecord splits one framed record (uint32 length, uint32
// CRC-32C of the payload, payload) off data.
func nextJournalRecord(data []byte) ([]byte, int, bool) {
	if len(data) < 8 {
		return nil, 0, false
	}
	n := int(binary.BigEndian.Uint32(data))
	if n > len(data)-8 {
		return nil, 0, false
	}
	payload := data[8 : 8+n]
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(data[4:]) {
		return nil, 0, false
	}
	return payload, 8 + n, true
}

func (s *FileStore) replay(payload []byte) error {
	ctx := context.Background()
	op, err := parseJournalRecord(payload)
	if err != nil {
		return err
	}
	switch op.kind {
	case jAppendVersion:
		return s.mem.AppendVersion(ctx, op.label, op.version, op.v, op.commitment)
	case jSaveEpoch:
		return s.mem.SaveEpoch(ctx, op.epoch)
	default:
		return s.mem.SetLogged(ctx, op.epochNum, op.index)
	}
}

type journalOp struct {
	kind       uint8
	label      [32]byte
	version    uint64
	v          StoredVersion
	commitment [32]byte
	epoch      StoredEpoch
	epochNum   uint64
	index      uint64
}

// marshalJournalRecord encodes one operation:
//
//	uint8 kind;
//	select (kind) {
//	  case 1: opaque label[32]; uint64 version; opaque record<0..2^24-1>;
//	          opaque opening[32]; opaque commitment[32];
//	  case 2: uint64 epoch; opaque root[32]; uint64 time; opaque signature<0..2^16-1>;
//	          opaque updates<0..2^32-1> (label[32] || value[32] each);
//	  case 3: uint64 epoch; uint64 index;
//	};
func marshalJournalRecord(op *journalOp) ([]byte, error) {
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(op.kind)
	switch op.kind {
	case jAppendVersion:
		b.AddBytes(op.label[:])
		b.AddUint64(op.version)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(op.v.Record) })
		b.AddBytes(op.v.Opening[:])
		b.AddBytes(op.commitment[:])
	case jSaveEpoch:
		h := &op.epoch.Head
		b.AddUint64(h.Epoch)
		b.AddBytes(h.Root[:])
		b.AddUint64(h.Time)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.Signature) })
		b.AddUint32(uint32(len(op.epoch.Updates) * 64))
		for _, u := range op.epoch.Updates {
			b.AddBytes(u.Label[:])
			b.AddBytes(u.Value[:])
		}
	case jSetLogged:
		b.AddUint64(op.epochNum)
		b.AddUint64(op.index)
	default:
		return nil, fmt.Errorf("keydir: journal kind %d", op.kind)
	}
	return b.Bytes()
}

// parseJournalRecord decodes a journal payload strictly.
func parseJournalRecord(p []byte) (*journalOp, error) {
	s := cryptobyte.String(p)
	op := &journalOp{}
	if !s.ReadUint8(&op.kind) {
		return nil, errors.New("keydir: journal.kind: truncated")
	}
	switch op.kind {
	case jAppendVersion:
		var rec cryptobyte.String
		if !s.CopyBytes(op.label[:]) || !s.ReadUint64(&op.version) || !s.ReadUint24LengthPrefixed(&rec) ||
			!s.CopyBytes(op.v.Opening[:]) || !s.CopyBytes(op.commitment[:]) {
			return nil, errors.New("keydir: journal.append_version: truncated")
		}
		op.v.Record = append([]byte{}, rec...)
	case jSaveEpoch:
		h := &op.epoch.Head
		var sig cryptobyte.String
		var n uint32
		if !s.ReadUint64(&h.Epoch) || !s.CopyBytes(h.Root[:]) || !s.ReadUint64(&h.Time) || !s.ReadUint16LengthPrefixed(&sig) || !s.ReadUint32(&n) {
			return nil, errors.New("keydir: journal.save_epoch: truncated")
		}
		h.Signature = append([]byte{}, sig...)
		if n%64 != 0 || int(n) > len(s) {
			return nil, errors.New("keydir: journal.save_epoch.updates: bad length")
		}
		op.epoch.Updates = make([]prefix.Entry, n/64)
		for i := range op.epoch.Updates {
			s.CopyBytes(op.epoch.Updates[i].Label[:])
			s.CopyBytes(op.epoch.Updates[i].Value[:])
		}
	case jSetLogged:
		if !s.ReadUint64(&op.epochNum) || !s.ReadUint64(&op.index) {
			return nil, errors.New("keydir: journal.set_logged: truncated")
		}
	default:
		return nil, fmt.Errorf("keydir: journal.kind: unknown value %d", op.kind)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("keydir: journal: %d trailing bytes", len(s))
	}
	return op, nil
}

// write applies op to memory through apply (which validates it), then
// appends it to the journal and fsyncs.
func (s *FileStore) write(op *journalOp, apply func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	payload, err := marshalJournalRecord(op)
	if err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	frame := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(frame, uint32(len(payload)))
	binary.BigEndian.PutUint32(frame[4:], crc32.Checksum(payload, crcTable))
	frame = append(frame, payload...)
	if _, err := s.f.Write(frame); err != nil {
		s.failed = fmt.Errorf("keydir: FileStore: journal write failed, reopen to recover: %w", err)
		return s.failed
	}
	if err := s.f.Sync(); err != nil {
		s.failed = fmt.Errorf("keydir: FileStore: journal fsync failed, reopen to recover: %w", err)
		return s.failed
	}
	return nil
}

func (s *FileStore) AppendVersion(ctx context.Context, label [32]byte, version uint64, v StoredVersion, c [32]byte) error {
	op := &journalOp{kind: jAppendVersion, label: label, version: version, v: v, commitment: c}
	return s.write(op, func() error { return s.mem.AppendVersion(ctx, label, version, v, c) })
}

func (s *FileStore) SaveEpoch(ctx context.Context, e StoredEpoch) error {
	op := &journalOp{kind: jSaveEpoch, epoch: StoredEpoch{Head: e.Head, Updates: e.Updates}}
	return s.write(op, func() error { return s.mem.SaveEpoch(ctx, StoredEpoch{Head: e.Head, Updates: e.Updates}) })
}

func (s *FileStore) SetLogged(ctx context.Context, epoch, index uint64) error {
	op := &journalOp{kind: jSetLogged, epochNum: epoch, index: index}
	return s.write(op, func() error { return s.mem.SetLogged(ctx, epoch, index) })
}

func (s *FileStore) Versions(ctx context.Context, label [32]byte) ([]StoredVersion, error) {
	return s.mem.Versions(ctx, label)
}

func (s *FileStore) Pending(ctx context.Context) ([]prefix.Entry, error) { return s.mem.Pending(ctx) }

func (s *FileStore) Epochs(ctx context.Context, from uint64) ([]StoredEpoch, error) {
	return s.mem.Epochs(ctx, from)
}
