// Package daylight runs the MLS engine comparison scenarios (bench/harness) against
// Daylight's own engine, github.com/daylight-im/daylight/mls/group, cipher suite 1.
package daylight

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/bench/harness"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

const cs = suite.X25519AES128GCMSHA256Ed25519

// Engine is mls/group as a harness.Engine.
type Engine struct{}

// Name names the engine.
func (Engine) Name() string { return "Daylight mls/group" }

var cfg = group.Config{}

func identity(i int) []byte { return fmt.Appendf(nil, "member-%d", i) }

// bulk creates a group of size members, leaf 0 adding everyone else in one commit.
func bulk(size int) (*group.Group, []*group.KeyPackageBundle, []byte, error) {
	a, err := group.Create(cfg, cs, []byte("daylight-bench-group"), identity(0))
	if err != nil {
		return nil, nil, nil, err
	}
	kps := make([]*group.KeyPackageBundle, size)
	var specs []group.ProposalSpec
	for i := 1; i < size; i++ {
		if kps[i], err = group.NewKeyPackage(cfg, cs, identity(i)); err != nil {
			return nil, nil, nil, err
		}
		specs = append(specs, group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: kps[i].Message})
	}
	res, err := a.Commit(group.CommitOptions{ByValue: specs})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.MergePendingCommit(); err != nil {
		return nil, nil, nil, err
	}
	return a, kps, res.Welcome, nil
}

type fixture struct {
	size    int
	a, r    *group.Group
	kps     []*group.KeyPackageBundle
	welcome []byte
	pending []byte
	saved   []byte // R's MarshalBinary, to restore before re-processing
}

// NewWorst builds the worst-case group.
func (Engine) NewWorst(size int) (harness.Fixture, error) {
	if size < 2 {
		return nil, errors.New("size must be at least 2")
	}
	a, kps, w, err := bulk(size)
	if err != nil {
		return nil, err
	}
	r, err := group.Join(cfg, kps[1], w, nil)
	if err != nil {
		return nil, err
	}
	return &fixture{size: size, a: a, r: r, kps: kps, welcome: w}, nil
}

func update(g *group.Group) ([]byte, error) {
	res, err := g.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		return nil, err
	}
	return res.Commit, nil
}

func (f *fixture) CreateUpdate() error {
	_, err := update(f.a)
	return err
}

// ResetCreate: a pending commit is replaced by the next Commit; nothing to undo.
func (f *fixture) ResetCreate() error { return nil }

func (f *fixture) PrepareProcess() error {
	var err error
	if f.pending, err = update(f.a); err != nil {
		return err
	}
	if f.saved == nil {
		f.saved, err = f.r.MarshalBinary()
		return err
	}
	f.r, err = group.UnmarshalGroup(cfg, f.saved)
	return err
}

// ProcessUpdate validates the commit, stages the new epoch and merges it.
func (f *fixture) ProcessUpdate() error {
	rc, err := f.r.Process(f.pending)
	if err != nil {
		return err
	}
	if rc.Kind != group.KindCommit || rc.Staged == nil {
		return errors.New("daylight: not a staged commit")
	}
	return f.r.Merge(rc.Staged)
}

// restoreR puts R back to its saved (current-epoch) state.
func (f *fixture) restoreR() error {
	if f.saved == nil {
		return nil
	}
	g, err := group.UnmarshalGroup(cfg, f.saved)
	if err != nil {
		return err
	}
	f.r, f.saved = g, nil
	return nil
}

func processMerge(g *group.Group, msg []byte) error {
	rc, err := g.Process(msg)
	if err != nil {
		return err
	}
	if rc.Staged == nil {
		return errors.New("daylight: not a commit")
	}
	return g.Merge(rc.Staged)
}

// MakeBest has leaves 2^k, ..., 2, 1 commit in turn, each after catching up with the
// earlier ones (R is leaf 1, so it commits last); A then processes all of them.
func (f *fixture) MakeBest() error {
	if err := f.restoreR(); err != nil {
		return err
	}
	var history [][]byte
	for _, h := range harness.Helpers(f.size) {
		m := f.r
		if h != 1 {
			var err error
			if m, err = group.Join(cfg, f.kps[h], f.welcome, nil); err != nil {
				return err
			}
		}
		for _, c := range history {
			if err := processMerge(m, c); err != nil {
				return err
			}
		}
		b, err := update(m)
		if err != nil {
			return err
		}
		if err := m.MergePendingCommit(); err != nil {
			return err
		}
		history = append(history, b)
	}
	for _, c := range history {
		if err := processMerge(f.a, c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fixture) ProtectUnprotect(msg []byte) error {
	if err := f.restoreR(); err != nil {
		return err
	}
	ct, err := f.a.Protect(nil, msg)
	if err != nil {
		return err
	}
	rc, err := f.r.Process(ct)
	if err != nil {
		return err
	}
	if rc.Kind != group.KindApplication || !bytes.Equal(rc.ApplicationData, msg) {
		return errors.New("daylight: wrong plaintext")
	}
	return nil
}

type adder struct {
	specs   []group.ProposalSpec
	last    *group.KeyPackageBundle
	a       *group.Group
	welcome []byte
}

// NewAdder prepares size-1 KeyPackages.
func (Engine) NewAdder(size int) (harness.Adder, error) {
	ad := &adder{}
	for i := 1; i < size; i++ {
		kp, err := group.NewKeyPackage(cfg, cs, identity(i))
		if err != nil {
			return nil, err
		}
		ad.specs = append(ad.specs, group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: kp.Message})
		ad.last = kp
	}
	return ad, nil
}

// Reset creates a fresh one-member group (untimed).
func (ad *adder) Reset() error {
	var err error
	ad.a, err = group.Create(cfg, cs, []byte("daylight-bench-add"), identity(0))
	return err
}

func (ad *adder) Commit() error {
	res, err := ad.a.Commit(group.CommitOptions{ByValue: ad.specs})
	if err != nil {
		return err
	}
	ad.welcome = res.Welcome
	return nil
}

func (ad *adder) Join() (any, error) {
	// A copy, so that whatever the Group keeps of the message counts as its memory.
	return group.Join(cfg, ad.last, bytes.Clone(ad.welcome), nil)
}

// StateBytes is the size of the member's MarshalBinary state.
func (ad *adder) StateBytes(keep any) (int, error) {
	g, ok := keep.(*group.Group)
	if !ok {
		return 0, errors.New("no joined member")
	}
	b, err := g.MarshalBinary()
	return len(b), err
}

// PathCiphertexts counts the HPKE ciphertexts in an update path A would send now.
func (f *fixture) PathCiphertexts() (int, error) {
	b, err := update(f.a)
	if err != nil {
		return 0, err
	}
	m, err := wire.ParseMLSMessage(b)
	if err != nil {
		return 0, err
	}
	if m.Public == nil || m.Public.Content.Commit == nil || m.Public.Content.Commit.Path == nil {
		return 0, errors.New("daylight: not a PublicMessage commit with path")
	}
	k := 0
	for _, n := range m.Public.Content.Commit.Path.Nodes {
		k += len(n.EncryptedPathSecret)
	}
	return k, nil
}
