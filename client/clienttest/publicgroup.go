// Package clienttest helps the client's tests run a complete daylight server
// in-process: the tests assemble ds over SQLite and server's HTTP adapter
// (client packages may not import server, internal/archtest), validating
// groups with NewPublicGroupValidator.
package clienttest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/mls/group"
)

// NewPublicGroupValidator returns a ds.GroupValidator for tests that
// validates handshakes with mls/group's PublicGroup (the server's view, same
// validation code as members): ds/mlsvalidator over PublicGroupEngine.
func NewPublicGroupValidator() ds.GroupValidator { return mlsvalidator.New(PublicGroupEngine{}) }

// PublicGroupEngine is a mlsvalidator.PublicEngine over group.PublicGroup.
// PublicGroup has no serialization yet, so the opaque state is the creator's
// GroupInfo plus every handshake accepted since, and each Apply rebuilds the
// view by replaying them (validation is deterministic). Linear in the
// group's history: fine for tests, not for a server.
type PublicGroupEngine struct{}

type pgState struct {
	GroupInfo []byte   `json:"gi"`
	Log       [][]byte `json:"log"`
}

func (pgState) rebuild(s *pgState) (*group.PublicGroup, error) {
	pg, err := group.NewPublicGroup(s.GroupInfo, nil)
	if err != nil {
		return nil, err
	}
	for i, m := range s.Log {
		r, err := pg.Process(m)
		if err != nil {
			return nil, fmt.Errorf("replaying handshake %d: %w", i, err)
		}
		if r.Kind == group.KindCommit {
			if err := pg.Merge(r.Staged); err != nil {
				return nil, err
			}
		}
	}
	return pg, nil
}

func publicState(pg *group.PublicGroup, s *pgState) (ds.PublicState, error) {
	b, err := json.Marshal(s)
	ps := ds.PublicState{GroupID: pg.GroupID(), Epoch: pg.Epoch(), Opaque: b}
	for leaf, id := range pg.Members() {
		key, _ := pg.MemberSignatureKey(leaf)
		ps.Members = append(ps.Members, ds.Member{Leaf: leaf, Identity: id, SignatureKey: key})
	}
	return ps, err
}

// NewGroup implements mlsvalidator.PublicEngine.
func (PublicGroupEngine) NewGroup(gi []byte) (ds.PublicState, error) {
	s := &pgState{GroupInfo: gi}
	pg, err := s.rebuild(s)
	if err != nil {
		return ds.PublicState{}, fmt.Errorf("%v: %w", err, ds.ErrInvalidMessage)
	}
	return publicState(pg, s)
}

// Apply implements mlsvalidator.PublicEngine.
func (PublicGroupEngine) Apply(state, msg []byte) (ds.Verdict, error) {
	var s pgState
	if err := json.Unmarshal(state, &s); err != nil {
		return ds.Verdict{}, err
	}
	pg, err := s.rebuild(&s)
	if err != nil {
		return ds.Verdict{}, err
	}
	r, err := pg.Process(msg)
	switch {
	case errors.Is(err, group.ErrWrongEpoch):
		return ds.Verdict{}, fmt.Errorf("%v: %w", err, ds.ErrStaleEpoch)
	case err != nil:
		return ds.Verdict{}, fmt.Errorf("%v: %w", err, ds.ErrInvalidMessage)
	case r.Kind == group.KindApplication:
		return ds.Verdict{}, fmt.Errorf("application data is not a handshake: %w", ds.ErrInvalidMessage)
	}
	id := pg.Members()[r.Sender.Index]
	key, _ := pg.MemberSignatureKey(r.Sender.Index)
	v := ds.Verdict{Commit: r.Kind == group.KindCommit, Sender: ds.Member{Leaf: r.Sender.Index, Identity: id, SignatureKey: key}}
	if v.Commit {
		if err := pg.Merge(r.Staged); err != nil {
			return ds.Verdict{}, err
		}
	}
	s.Log = append(s.Log, msg)
	v.NewState, err = publicState(pg, &s)
	return v, err
}
