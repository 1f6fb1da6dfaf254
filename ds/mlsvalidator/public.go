package mlsvalidator

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// Engine is the PublicEngine over mls/group's PublicGroup: the DS validates
// proposals and commits with the members' own code (stagePublic,
// applyProposals, applyPath).
//
// State. PublicGroup has no serialization yet, so the opaque state the DS
// stores is a log: the creator's GroupInfo followed by every handshake
// message the DS accepted since. A state is rebuilt by replaying it; an
// in-memory cache keyed by the state's hash makes the usual case (the state
// just produced) a lookup. Known cost: the stored state grows with every
// accepted handshake message until PublicGroup gets MarshalBinary.
type Engine struct {
	mu    sync.Mutex
	cache map[[32]byte]*group.PublicGroup
	max   int
}

// NewEngine returns an engine caching up to maxCached group views (default 4096).
func NewEngine(maxCached int) *Engine {
	if maxCached <= 0 {
		maxCached = 4096
	}
	return &Engine{cache: make(map[[32]byte]*group.PublicGroup), max: maxCached}
}

const stateMagic = "DLPG1"

type stateLog struct {
	groupInfo []byte
	msgs      [][]byte
}

func (s stateLog) encode() []byte {
	b := []byte(stateMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.groupInfo)))
	b = append(b, s.groupInfo...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.msgs)))
	for _, m := range s.msgs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		b = append(b, m...)
	}
	return b
}

func decodeState(b []byte) (stateLog, error) {
	bad := fmt.Errorf("mlsvalidator: stored group state is malformed: %w", ds.ErrInvalidMessage)
	rest, ok := bytes.CutPrefix(b, []byte(stateMagic))
	if !ok {
		return stateLog{}, bad
	}
	next := func() ([]byte, bool) {
		if len(rest) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(len(rest)-4) < uint64(n) {
			return nil, false
		}
		v := rest[4 : 4+n]
		rest = rest[4+n:]
		return v, true
	}
	var s stateLog
	if s.groupInfo, ok = next(); !ok {
		return stateLog{}, bad
	}
	if len(rest) < 4 {
		return stateLog{}, bad
	}
	count := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	for range count {
		m, ok := next()
		if !ok {
			return stateLog{}, bad
		}
		s.msgs = append(s.msgs, m)
	}
	if len(rest) != 0 {
		return stateLog{}, bad
	}
	return s, nil
}

// mapErr turns mls/group errors into the DS's sentinels.
func mapErr(what string, err error) error {
	switch {
	case errors.Is(err, suite.ErrInvalidSignature):
		return fmt.Errorf("mlsvalidator: %s: %v: %w", what, err, ds.ErrBadSignature)
	case errors.Is(err, group.ErrWrongEpoch):
		return fmt.Errorf("mlsvalidator: %s: %v: %w", what, err, ds.ErrStaleEpoch)
	default:
		return fmt.Errorf("mlsvalidator: %s: %v: %w", what, err, ds.ErrInvalidMessage)
	}
}

func members(pg *group.PublicGroup) []ds.Member {
	m := pg.Members()
	out := make([]ds.Member, 0, len(m))
	for leaf, id := range m {
		key, _ := pg.MemberSignatureKey(leaf)
		out = append(out, ds.Member{Leaf: leaf, Identity: id, SignatureKey: key})
	}
	slices.SortFunc(out, func(a, b ds.Member) int { return int(a.Leaf) - int(b.Leaf) })
	return out
}

func (e *Engine) take(state []byte) *group.PublicGroup {
	k := sha256.Sum256(state)
	e.mu.Lock()
	defer e.mu.Unlock()
	pg := e.cache[k]
	delete(e.cache, k) // exclusive use: Process and Merge mutate the view
	return pg
}

func (e *Engine) put(state []byte, pg *group.PublicGroup) {
	k := sha256.Sum256(state)
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) >= e.max {
		for old := range e.cache { // evict an arbitrary entry
			delete(e.cache, old)
			break
		}
	}
	e.cache[k] = pg
}

// rebuild replays a state log into a fresh view.
func rebuild(s stateLog) (*group.PublicGroup, error) {
	pg, err := group.NewPublicGroup(s.groupInfo, nil)
	if err != nil {
		return nil, mapErr("GroupInfo", err)
	}
	for i, m := range s.msgs {
		r, err := pg.Process(m)
		if err != nil {
			return nil, mapErr(fmt.Sprintf("replaying stored message %d", i), err)
		}
		if r.Staged != nil {
			if err := pg.Merge(r.Staged); err != nil {
				return nil, mapErr(fmt.Sprintf("replaying stored message %d", i), err)
			}
		}
	}
	return pg, nil
}

// NewGroup implements PublicEngine: the GroupInfo must carry the ratchet_tree
// extension; its signature, tree hash, parent hashes and leaves are verified
// (RFC 9420, Section 12.4.3.1).
func (e *Engine) NewGroup(groupInfo []byte) (ds.PublicState, error) {
	pg, err := group.NewPublicGroup(groupInfo, nil)
	if err != nil {
		return ds.PublicState{}, mapErr("GroupInfo", err)
	}
	st := stateLog{groupInfo: groupInfo}.encode()
	out := ds.PublicState{GroupID: pg.GroupID(), Epoch: pg.Epoch(), Members: members(pg), Opaque: st}
	e.put(st, pg)
	return out, nil
}

// Apply implements PublicEngine for a PublicMessage proposal or commit of the
// state's epoch. It never changes the view stored under state.
func (e *Engine) Apply(state, msg []byte) (ds.Verdict, error) {
	s, err := decodeState(state)
	if err != nil {
		return ds.Verdict{}, err
	}
	m, err := wire.ParseMLSMessage(msg)
	if err != nil {
		return ds.Verdict{}, invalid("MLSMessage", err)
	}
	if m.WireFormat != wire.WireFormatPublicMessage {
		return ds.Verdict{}, invalid("MLSMessage", errors.New("handshake messages must be PublicMessage"))
	}
	pg := e.take(state)
	if pg == nil {
		if pg, err = rebuild(s); err != nil {
			return ds.Verdict{}, err
		}
	}
	c := &m.Public.Content
	if c.Epoch != pg.Epoch() {
		e.put(state, pg)
		if c.Epoch < pg.Epoch() {
			return ds.Verdict{}, fmt.Errorf("mlsvalidator: message epoch %d, group epoch %d: %w", c.Epoch, pg.Epoch(), ds.ErrStaleEpoch)
		}
		return ds.Verdict{}, fmt.Errorf("mlsvalidator: message for future epoch %d: %w", c.Epoch, ds.ErrInvalidMessage)
	}
	before := pg.Members()
	var sender ds.Member
	if c.Sender.Type == wire.SenderTypeMember {
		id, ok := before[c.Sender.Index]
		if !ok {
			e.put(state, pg)
			return ds.Verdict{}, fmt.Errorf("mlsvalidator: sender leaf %d is not a member: %w", c.Sender.Index, ds.ErrNotMember)
		}
		key, _ := pg.MemberSignatureKey(c.Sender.Index)
		sender = ds.Member{Leaf: c.Sender.Index, Identity: id, SignatureKey: key}
	}
	r, err := pg.Process(msg)
	if err != nil {
		e.put(state, pg) // Process leaves the view unchanged on error
		return ds.Verdict{}, mapErr("handshake", err)
	}
	commit := r.Kind == group.KindCommit
	if commit {
		if err := pg.Merge(r.Staged); err != nil {
			return ds.Verdict{}, mapErr("merge", err)
		}
	}
	if c.Sender.Type == wire.SenderTypeNewMemberCommit {
		// The joiner is the leaf that is new and was not added by an Add proposal.
		added := r.Staged.Added()
		for leaf, id := range pg.Members() {
			if _, was := before[leaf]; (!was || !bytes.Equal(before[leaf], id)) && !slices.Contains(added, leaf) {
				key, _ := pg.MemberSignatureKey(leaf)
				sender = ds.Member{Leaf: leaf, Identity: id, SignatureKey: key}
			}
		}
	}
	if sender.Identity == nil {
		return ds.Verdict{}, fmt.Errorf("mlsvalidator: sender type %d is not accepted by the DS: %w", c.Sender.Type, ds.ErrInvalidMessage)
	}
	s.msgs = append(s.msgs, msg)
	next := s.encode()
	v := ds.Verdict{Commit: commit, Sender: sender,
		NewState: ds.PublicState{GroupID: pg.GroupID(), Epoch: pg.Epoch(), Members: members(pg), Opaque: next}}
	e.put(next, pg)
	return v, nil
}

// EpochStates implements ds.EpochStateReader: it replays the stored state log
// into a fresh view (never the cached one) and records the public state of
// each wanted epoch as the replay enters it.
func (e *Engine) EpochStates(state []byte, epochs []uint64) ([]ds.EpochPublicState, error) {
	s, err := decodeState(state)
	if err != nil {
		return nil, err
	}
	want := map[uint64]bool{}
	for _, ep := range epochs {
		want[ep] = true
	}
	var out []ds.EpochPublicState
	record := func(pg *group.PublicGroup) {
		if !want[pg.Epoch()] {
			return
		}
		delete(want, pg.Epoch())
		out = append(out, ds.EpochPublicState{GroupID: pg.GroupID(), Epoch: pg.Epoch(),
			Suite: uint16(pg.CipherSuite()), LeafCount: pg.LeafCount(), GroupContext: pg.GroupContext(), Members: members(pg)})
	}
	pg, err := group.NewPublicGroup(s.groupInfo, nil)
	if err != nil {
		return nil, mapErr("GroupInfo", err)
	}
	record(pg)
	for i, m := range s.msgs {
		if len(want) == 0 {
			break
		}
		r, err := pg.Process(m)
		if err != nil {
			return nil, mapErr(fmt.Sprintf("replaying stored message %d", i), err)
		}
		if r.Staged == nil {
			continue
		}
		if err := pg.Merge(r.Staged); err != nil {
			return nil, mapErr(fmt.Sprintf("replaying stored message %d", i), err)
		}
		record(pg)
	}
	return out, nil
}
