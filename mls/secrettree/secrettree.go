// Package secrettree implements the MLS secret tree and its per-sender hash
// ratchets (RFC 9420, Section 9): node secrets derived lazily from
// encryption_secret, a handshake and an application ratchet per leaf, a
// bounded window for out-of-order messages, and the deletion schedule of
// Section 9.2 (every consumed secret, key and nonce is zeroed and dropped).
//
// A Tree is safe for concurrent use.
package secrettree

import (
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sync"

	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/suite"
)

// RatchetType selects the handshake or the application ratchet of a leaf.
type RatchetType uint8

const (
	// Handshake is the ratchet for Proposal and Commit content.
	Handshake RatchetType = iota + 1
	// Application is the ratchet for application data.
	Application
)

func (r RatchetType) String() string {
	switch r {
	case Handshake:
		return "handshake"
	case Application:
		return "application"
	}
	return fmt.Sprintf("RatchetType(%d)", uint8(r))
}

// Errors callers branch on (wrapped with the leaf and generation).
var (
	// ErrGenerationConsumed: the key of this generation was already used
	// (a replay) or dropped from the out-of-order window.
	ErrGenerationConsumed = errors.New("mls/secrettree: generation already consumed or expired")
	// ErrTooFarAhead: the generation is more than MaxForwardDistance past
	// the next expected one.
	ErrTooFarAhead = errors.New("mls/secrettree: generation too far ahead")
	// ErrLeafOutOfRange: the leaf index is not a leaf of the tree.
	ErrLeafOutOfRange = errors.New("mls/secrettree: leaf index out of range")
)

// Config bounds the state kept for out-of-order delivery (RFC 9420, Section
// 9.2 allows keeping unconsumed keys "for some reasonable amount of time").
type Config struct {
	// MaxForwardDistance is how many generations past the next expected one
	// a received message may be. Zero means DefaultMaxForwardDistance.
	MaxForwardDistance uint32
	// MaxSkippedKeys is how many skipped (not yet received) keys each
	// ratchet keeps; the oldest generations are dropped first. Zero means
	// DefaultMaxSkippedKeys; a negative value keeps none.
	MaxSkippedKeys int
}

// Defaults for Config.
const (
	DefaultMaxForwardDistance = 1024
	DefaultMaxSkippedKeys     = 128
)

// Tree is the secret tree of one epoch.
type Tree struct {
	s       *suite.Suite
	leaves  uint32 // leaf count (power of two)
	maxFwd  uint32
	maxSkip int

	mu       sync.Mutex
	nodes    map[uint32][]byte // unconsumed node secrets by node index
	ratchets map[uint32]*leafRatchets
}

type leafRatchets struct {
	handshake, application ratchet
}

// ratchet is one sender ratchet: the ratchet secret of generation next, and
// the keys of earlier generations that were skipped but not yet consumed.
type ratchet struct {
	secret  []byte
	next    uint32
	done    bool // generation 2^32-1 was consumed; the ratchet is exhausted
	skipped map[uint32]keyNonce
}

type keyNonce struct{ key, nonce []byte }

func (k keyNonce) zero() { clear(k.key); clear(k.nonce) }

// New returns the secret tree of an epoch with leafCount leaves, rooted at
// encryption_secret (RFC 9420, Section 9). leafCount is the number of leaves
// of the ratchet tree (a power of two in RFC 9420; other counts are rounded
// up). New copies the secret and destroys enc: the encryption_secret is the
// root node secret, and is consumed by the tree (Section 9.2).
func New(s *suite.Suite, enc *keyschedule.EncryptionSecret, leafCount uint32, cfg Config) (*Tree, error) {
	if leafCount == 0 || leafCount > 1<<31 {
		return nil, fmt.Errorf("mls/secrettree: leaf count %d out of range", leafCount)
	}
	if enc.Suite().ID() != s.ID() {
		return nil, errors.New("mls/secrettree: encryption_secret belongs to another cipher suite")
	}
	n := uint32(1) << bits.Len32(leafCount-1)
	t := &Tree{
		s:        s,
		leaves:   n,
		maxFwd:   cfg.MaxForwardDistance,
		maxSkip:  cfg.MaxSkippedKeys,
		nodes:    map[uint32][]byte{n - 1: enc.Bytes()},
		ratchets: map[uint32]*leafRatchets{},
	}
	enc.Destroy()
	if t.maxFwd == 0 {
		t.maxFwd = DefaultMaxForwardDistance
	}
	if t.maxSkip == 0 {
		t.maxSkip = DefaultMaxSkippedKeys
	}
	return t, nil
}

// LeafCount returns the number of leaves of the tree.
func (t *Tree) LeafCount() uint32 { return t.leaves }

// level returns the level of node x in the array tree (RFC 9420, Appendix C).
func level(x uint32) int { return bits.TrailingZeros32(^x) }

// leafRatchets returns the ratchets of leaf, deriving the node secrets on the
// path from the lowest stored ancestor (RFC 9420, Section 9). Parent secrets
// are deleted once both children are derived; the leaf secret is deleted
// once both ratchet roots are derived.
func (t *Tree) leafRatchets(leaf uint32) (*leafRatchets, error) {
	if leaf >= t.leaves {
		return nil, fmt.Errorf("%w: leaf %d of %d", ErrLeafOutOfRange, leaf, t.leaves)
	}
	if r, ok := t.ratchets[leaf]; ok {
		return r, nil
	}
	x := 2 * leaf
	nh := t.s.Nh()
	for cur := t.leaves - 1; cur != x; {
		l := level(cur)
		left, right := cur^(1<<(l-1)), cur^(3<<(l-1))
		if sec, ok := t.nodes[cur]; ok {
			// tree_node_[left]_secret = ExpandWithLabel(., "tree", "left", Nh), and "right".
			t.nodes[left] = t.s.ExpandWithLabel(sec, "tree", []byte("left"), nh)
			t.nodes[right] = t.s.ExpandWithLabel(sec, "tree", []byte("right"), nh)
			clear(sec)
			delete(t.nodes, cur)
		}
		if x < cur {
			cur = left
		} else {
			cur = right
		}
	}
	sec, ok := t.nodes[x]
	if !ok {
		// Unreachable: a leaf secret is only deleted when its ratchets exist.
		return nil, fmt.Errorf("mls/secrettree: leaf %d secret missing", leaf)
	}
	r := &leafRatchets{
		handshake:   ratchet{secret: t.s.ExpandWithLabel(sec, "handshake", nil, nh)},
		application: ratchet{secret: t.s.ExpandWithLabel(sec, "application", nil, nh)},
	}
	clear(sec)
	delete(t.nodes, x)
	t.ratchets[leaf] = r
	return r, nil
}

func (t *Tree) ratchet(leaf uint32, rt RatchetType) (*ratchet, error) {
	lr, err := t.leafRatchets(leaf)
	if err != nil {
		return nil, err
	}
	switch rt {
	case Handshake:
		return &lr.handshake, nil
	case Application:
		return &lr.application, nil
	}
	return nil, fmt.Errorf("mls/secrettree: unknown ratchet type %d", rt)
}

// step derives the key and nonce of generation g from ratchet_secret_[g] and
// returns ratchet_secret_[g+1] (RFC 9420, Section 9.1).
func (t *Tree) step(secret []byte, g uint32) (keyNonce, []byte) {
	kn := keyNonce{
		nonce: t.s.DeriveTreeSecret(secret, "nonce", g, t.s.Nn()),
		key:   t.s.DeriveTreeSecret(secret, "key", g, t.s.Nk()),
	}
	return kn, t.s.DeriveTreeSecret(secret, "secret", g, t.s.Nh())
}

// Next returns the key and nonce of the next unused generation of leaf's
// ratchet for sending, and advances the ratchet: the ratchet secret of that
// generation is deleted at once, so the key/nonce pair is never returned
// again (RFC 9420, Section 9.1). The caller zeroes key and nonce after use.
func (t *Tree) Next(leaf uint32, rt RatchetType) (generation uint32, key, nonce []byte, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.ratchet(leaf, rt)
	if err != nil {
		return 0, nil, nil, err
	}
	if r.done {
		return 0, nil, nil, fmt.Errorf("mls/secrettree: leaf %d %v ratchet exhausted", leaf, rt)
	}
	g := r.next
	kn, nextSecret := t.step(r.secret, g)
	clear(r.secret)
	r.secret = nextSecret
	if g == ^uint32(0) {
		r.done = true
	} else {
		r.next++
	}
	return g, kn.key, kn.nonce, nil
}

// Open runs fn with the key and nonce of generation of leaf's ratchet, for
// decrypting a received message. Only if fn returns nil is the key consumed
// (deleted, with every ratchet secret up to that generation); the keys of
// skipped generations are kept for out-of-order messages, within the Config
// bounds. If fn fails, the tree is left exactly as it was, so a forged
// message cannot burn or evict keys. key and nonce are valid only during fn.
//
// Errors: ErrGenerationConsumed for a generation already used (a replay) or
// dropped from the window, ErrTooFarAhead beyond MaxForwardDistance,
// ErrLeafOutOfRange, or fn's error unchanged.
func (t *Tree) Open(leaf uint32, rt RatchetType, generation uint32, fn func(key, nonce []byte) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.ratchet(leaf, rt)
	if err != nil {
		return err
	}
	if generation < r.next || r.done {
		kn, ok := r.skipped[generation]
		if !ok {
			return fmt.Errorf("%w: leaf %d %v generation %d", ErrGenerationConsumed, leaf, rt, generation)
		}
		if err := fn(kn.key, kn.nonce); err != nil {
			return err
		}
		kn.zero()
		delete(r.skipped, generation)
		return nil
	}
	if generation-r.next > t.maxFwd {
		return fmt.Errorf("%w: leaf %d %v generation %d, next expected %d", ErrTooFarAhead, leaf, rt, generation, r.next)
	}
	// Derive tentatively; commit only if fn succeeds.
	var skipped []keyNonce
	cur := r.secret
	for g := r.next; ; g++ {
		kn, next := t.step(cur, g)
		if g != r.next {
			clear(cur) // an intermediate ratchet secret owned by this loop
		}
		cur = next
		if g == generation {
			err := fn(kn.key, kn.nonce)
			kn.zero()
			if err != nil {
				clear(cur)
				for _, s := range skipped {
					s.zero()
				}
				return err
			}
			break
		}
		skipped = append(skipped, kn)
	}
	// Commit: ratchet secrets up to generation are consumed.
	clear(r.secret)
	r.secret = cur
	first := r.next
	if generation == ^uint32(0) {
		r.done = true
	} else {
		r.next = generation + 1
	}
	t.storeSkipped(r, first, skipped)
	return nil
}

// storeSkipped keeps the keys of skipped generations first, first+1, ...
// (all newer than any key already kept), dropping the oldest generations so
// that the ratchet holds at most MaxSkippedKeys keys.
func (t *Tree) storeSkipped(r *ratchet, first uint32, skipped []keyNonce) {
	limit := max(t.maxSkip, 0)
	if len(skipped) > limit {
		drop := len(skipped) - limit
		for _, kn := range skipped[:drop] {
			kn.zero()
		}
		skipped = skipped[drop:]
		first += uint32(drop)
	}
	if excess := len(r.skipped) + len(skipped) - limit; excess > 0 {
		old := slices.Sorted(maps.Keys(r.skipped))
		for _, g := range old[:excess] {
			r.skipped[g].zero()
			delete(r.skipped, g)
		}
	}
	if len(skipped) == 0 {
		return
	}
	if r.skipped == nil {
		r.skipped = make(map[uint32]keyNonce, len(skipped))
	}
	for i, kn := range skipped {
		r.skipped[first+uint32(i)] = kn
	}
}

// Destroy zeroes every secret and key the tree still holds (at the end of
// an epoch, once no more messages of it will be accepted).
func (t *Tree) Destroy() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.nodes {
		clear(v)
		delete(t.nodes, k)
	}
	for k, lr := range t.ratchets {
		for _, r := range []*ratchet{&lr.handshake, &lr.application} {
			clear(r.secret)
			for _, kn := range r.skipped {
				kn.zero()
			}
		}
		delete(t.ratchets, k)
	}
}
