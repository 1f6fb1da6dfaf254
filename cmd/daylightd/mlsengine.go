package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// publicEngine adapts mls/group's PublicGroup (the server's view of a group,
// validating handshakes with the members' code) to ds/mlsvalidator's
// PublicEngine.
//
// Stopgap until mls/group can serialize a PublicGroup: the opaque state the
// DS stores is the creation GroupInfo followed by every handshake message
// accepted since, and a state is rebuilt by replaying them (NewPublicGroup,
// then Process and Merge). Rebuilt groups are cached by the SHA-256 of their
// state, so the hot path (the state the DS just stored) replays nothing; after
// a restart each group is replayed once. State grows with the group's
// handshake history; belongs in ds/mlsvalidator once state serialization exists.
type publicEngine struct {
	mu    sync.Mutex
	cache map[[32]byte]*group.PublicGroup
	order [][32]byte // insertion order, for eviction
}

const (
	stateMagic    = "daylight-pg-replay-v1"
	maxCachedPGs  = 1024
	maxStateBytes = 64 << 20
)

func newPublicEngine() *publicEngine {
	return &publicEngine{cache: make(map[[32]byte]*group.PublicGroup)}
}

// encodeState appends a length-prefixed message to a replay state.
func appendRecord(state, msg []byte) []byte {
	state = binary.BigEndian.AppendUint32(state, uint32(len(msg)))
	return append(state, msg...)
}

func decodeState(state []byte) ([][]byte, error) {
	rest, ok := cutPrefix(state, []byte(stateMagic))
	if !ok {
		return nil, fmt.Errorf("mls engine: unknown group state format: %w", ds.ErrInvalidMessage)
	}
	var out [][]byte
	for len(rest) > 0 {
		if len(rest) < 4 || int(binary.BigEndian.Uint32(rest)) > len(rest)-4 {
			return nil, fmt.Errorf("mls engine: truncated group state: %w", ds.ErrInvalidMessage)
		}
		n := int(binary.BigEndian.Uint32(rest))
		out = append(out, rest[4:4+n])
		rest = rest[4+n:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mls engine: empty group state: %w", ds.ErrInvalidMessage)
	}
	return out, nil
}

func cutPrefix(b, p []byte) ([]byte, bool) {
	if len(b) < len(p) || string(b[:len(p)]) != string(p) {
		return nil, false
	}
	return b[len(p):], true
}

// mapErr maps mls/group errors onto the DS sentinels.
func mapErr(what string, err error) error {
	switch {
	case errors.Is(err, suite.ErrInvalidSignature):
		return fmt.Errorf("%s: %v: %w", what, err, ds.ErrBadSignature)
	case errors.Is(err, group.ErrWrongEpoch):
		return fmt.Errorf("%s: %v: %w", what, err, ds.ErrStaleEpoch)
	}
	return fmt.Errorf("%s: %v: %w", what, err, ds.ErrInvalidMessage)
}

func publicState(pg *group.PublicGroup, opaque []byte) ds.PublicState {
	st := ds.PublicState{GroupID: pg.GroupID(), Epoch: pg.Epoch(), Opaque: opaque}
	members := pg.Members()
	leaves := make([]uint32, 0, len(members))
	for l := range members {
		leaves = append(leaves, l)
	}
	slices.Sort(leaves)
	for _, l := range leaves {
		key, _ := pg.MemberSignatureKey(l)
		st.Members = append(st.Members, ds.Member{Leaf: l, Identity: members[l], SignatureKey: key})
	}
	return st
}

// NewGroup implements mlsvalidator.PublicEngine.
func (e *publicEngine) NewGroup(groupInfo []byte) (ds.PublicState, error) {
	pg, err := group.NewPublicGroup(groupInfo, nil)
	if err != nil {
		return ds.PublicState{}, mapErr("GroupInfo", err)
	}
	state := appendRecord([]byte(stateMagic), groupInfo)
	e.put(state, pg)
	return publicState(pg, state), nil
}

// take removes and returns the cached group for state, or rebuilds it.
func (e *publicEngine) take(state []byte) (*group.PublicGroup, error) {
	key := sha256.Sum256(state)
	e.mu.Lock()
	pg := e.cache[key]
	delete(e.cache, key)
	e.mu.Unlock()
	if pg != nil {
		return pg, nil
	}
	recs, err := decodeState(state)
	if err != nil {
		return nil, err
	}
	pg, err = group.NewPublicGroup(recs[0], nil)
	if err != nil {
		return nil, mapErr("replaying GroupInfo", err)
	}
	for i, m := range recs[1:] {
		r, err := pg.Process(m)
		if err != nil {
			return nil, mapErr(fmt.Sprintf("replaying handshake %d", i), err)
		}
		if r.Kind == group.KindCommit {
			if err := pg.Merge(r.Staged); err != nil {
				return nil, mapErr("replaying commit", err)
			}
		}
	}
	return pg, nil
}

func (e *publicEngine) put(state []byte, pg *group.PublicGroup) {
	key := sha256.Sum256(state)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.cache[key]; !ok {
		e.order = append(e.order, key)
	}
	e.cache[key] = pg
	for len(e.order) > maxCachedPGs {
		delete(e.cache, e.order[0])
		e.order = e.order[1:]
	}
}

// Apply implements mlsvalidator.PublicEngine: it validates msg against state
// without changing state (the returned NewState is a new value).
func (e *publicEngine) Apply(state, msg []byte) (ds.Verdict, error) {
	if len(state)+len(msg)+4 > maxStateBytes {
		return ds.Verdict{}, fmt.Errorf("mls engine: group history over %d bytes: %w", maxStateBytes, ds.ErrTooLarge)
	}
	pg, err := e.take(state)
	if err != nil {
		return ds.Verdict{}, err
	}
	before := pg.Members()
	r, err := pg.Process(msg)
	if err != nil {
		e.put(state, pg) // Process left pg unchanged
		return ds.Verdict{}, mapErr("handshake", err)
	}
	var v ds.Verdict
	switch r.Sender.Type {
	case framing.SenderMember:
		key, _ := pg.MemberSignatureKey(r.Sender.Index)
		v.Sender = ds.Member{Leaf: r.Sender.Index, Identity: before[r.Sender.Index], SignatureKey: key}
	case framing.SenderNewMemberCommit:
	default:
		return ds.Verdict{}, fmt.Errorf("mls engine: sender type %d cannot send to the DS: %w", r.Sender.Type, ds.ErrInvalidMessage)
	}
	switch r.Kind {
	case group.KindProposal:
	case group.KindCommit:
		v.Commit = true
		added := r.Staged.Added()
		if err := pg.Merge(r.Staged); err != nil {
			return ds.Verdict{}, mapErr("commit", err)
		}
		if r.Sender.Type == framing.SenderNewMemberCommit {
			// The joiner holds the new leaf no Add proposal created.
			for l, id := range pg.Members() {
				if _, old := before[l]; !old && !slices.Contains(added, l) {
					key, _ := pg.MemberSignatureKey(l)
					v.Sender = ds.Member{Leaf: l, Identity: id, SignatureKey: key}
				}
			}
			if v.Sender.Identity == nil {
				return ds.Verdict{}, fmt.Errorf("mls engine: external commit adds no joiner: %w", ds.ErrInvalidMessage)
			}
		}
	default:
		return ds.Verdict{}, fmt.Errorf("mls engine: not a handshake message: %w", ds.ErrInvalidMessage)
	}
	newState := appendRecord(append([]byte(nil), state...), msg)
	e.put(newState, pg)
	v.NewState = publicState(pg, newState)
	return v, nil
}
