// Package dstest holds test helpers for code built on ds: Fake, a toy
// GroupValidator with its own framing, and builders for its messages.
//
// Fake is NOT MLS. It keeps the shape the DS relies on (clear group_id, epoch
// and content type; commits signed by a member's Ed25519 key; epochs advancing
// one per commit; proposals changing the state without changing the epoch) so
// ds, store and server tests can run before the mls/group adapter exists.
// Never use it in a binary.
package dstest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/daylight-im/daylight/ds"
)

const magic = "FAKEMLS1"

// Fake implements ds.GroupValidator over the toy framing of this package.
type Fake struct{}

var _ ds.GroupValidator = Fake{}

// Signer is a device's identity and key, as a test holds them.
type Signer struct {
	Username string
	Device   ds.DeviceID
	Key      ed25519.PrivateKey
}

// Member returns the signer's leaf as the validator reports it.
func (s Signer) Member() FakeMember {
	return FakeMember{Identity: ds.Identity(s.Username, s.Device), Key: s.Key.Public().(ed25519.PublicKey)}
}

// FakeMember is a leaf of the fake state.
type FakeMember struct {
	Identity []byte
	Key      []byte
}

type state struct {
	GroupID []byte
	Epoch   uint64
	Members []FakeMember // index = leaf; removed leaves are nil Identity
	Pending [][]byte     // digests of accepted proposals
}

// encoding: magic | wire u16 | group_id <u8> | epoch u64 | content u8 | body <u32> | sig <u8>

type frame struct {
	wire    uint16
	group   []byte
	epoch   uint64
	content uint8
	body    []byte
	sig     []byte
}

func (f frame) tbs() []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, f.wire)
	b = append(b, byte(len(f.group)))
	b = append(b, f.group...)
	b = binary.BigEndian.AppendUint64(b, f.epoch)
	b = append(b, f.content)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.body)))
	return append(b, f.body...)
}

func (f frame) marshal() []byte {
	b := f.tbs()
	b = append(b, byte(len(f.sig)))
	return append(b, f.sig...)
}

func parse(b []byte) (frame, error) {
	bad := fmt.Errorf("dstest: malformed fake message: %w", ds.ErrInvalidMessage)
	if !bytes.HasPrefix(b, []byte(magic)) {
		return frame{}, bad
	}
	b = b[len(magic):]
	var f frame
	if len(b) < 3 {
		return frame{}, bad
	}
	f.wire = binary.BigEndian.Uint16(b)
	gl := int(b[2])
	b = b[3:]
	if len(b) < gl+8+1+4 {
		return frame{}, bad
	}
	f.group, b = b[:gl], b[gl:]
	f.epoch, f.content, b = binary.BigEndian.Uint64(b), b[8], b[9:]
	bl := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if len(b) < bl+1 {
		return frame{}, bad
	}
	f.body, b = b[:bl], b[bl:]
	sl := int(b[0])
	b = b[1:]
	if len(b) != sl {
		return frame{}, bad
	}
	f.sig = b
	if f.wire < 1 || f.wire > 5 {
		return frame{}, bad
	}
	return f, nil
}

type handshake struct {
	Sender   FakeMember
	External bool         // external commit: sender joins
	Add      []FakeMember // commit only
	Remove   [][]byte     // identities; commit only
	Nonce    []byte       // proposal only
}

// Inspect implements ds.GroupValidator.
func (Fake) Inspect(msg []byte) (ds.Envelope, error) {
	f, err := parse(msg)
	if err != nil {
		return ds.Envelope{}, err
	}
	return ds.Envelope{WireFormat: ds.WireFormat(f.wire), GroupID: f.group, Epoch: f.epoch, ContentType: ds.ContentType(f.content)}, nil
}

func decodeState(b []byte) (state, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, fmt.Errorf("dstest: state: %w", ds.ErrInvalidMessage)
	}
	return st, nil
}

func (st state) public() ds.PublicState {
	enc, _ := json.Marshal(st)
	p := ds.PublicState{GroupID: st.GroupID, Epoch: st.Epoch, Opaque: enc}
	for i, m := range st.Members {
		if m.Identity != nil {
			p.Members = append(p.Members, ds.Member{Leaf: uint32(i), Identity: m.Identity, SignatureKey: m.Key})
		}
	}
	return p
}

// NewGroup implements ds.GroupValidator: a GroupInfo signed by its only member.
func (Fake) NewGroup(gi []byte) (ds.PublicState, error) {
	f, err := parse(gi)
	if err != nil {
		return ds.PublicState{}, err
	}
	if f.wire != uint16(ds.WireGroupInfo) {
		return ds.PublicState{}, fmt.Errorf("dstest: not a GroupInfo: %w", ds.ErrInvalidMessage)
	}
	var h handshake
	if err := json.Unmarshal(f.body, &h); err != nil {
		return ds.PublicState{}, fmt.Errorf("dstest: GroupInfo body: %w", ds.ErrInvalidMessage)
	}
	if !ed25519.Verify(h.Sender.Key, f.tbs(), f.sig) {
		return ds.PublicState{}, fmt.Errorf("dstest: GroupInfo signature: %w", ds.ErrBadSignature)
	}
	st := state{GroupID: f.group, Epoch: f.epoch, Members: []FakeMember{h.Sender}}
	return st.public(), nil
}

// Apply implements ds.GroupValidator.
func (Fake) Apply(stateBytes, msg []byte) (ds.Verdict, error) {
	st, err := decodeState(stateBytes)
	if err != nil {
		return ds.Verdict{}, err
	}
	f, err := parse(msg)
	if err != nil {
		return ds.Verdict{}, err
	}
	if f.wire != uint16(ds.WirePublicMessage) || (f.content != uint8(ds.ContentProposal) && f.content != uint8(ds.ContentCommit)) {
		return ds.Verdict{}, fmt.Errorf("dstest: not a handshake PublicMessage: %w", ds.ErrInvalidMessage)
	}
	if !bytes.Equal(f.group, st.GroupID) {
		return ds.Verdict{}, fmt.Errorf("dstest: group_id mismatch: %w", ds.ErrInvalidMessage)
	}
	if f.epoch != st.Epoch {
		return ds.Verdict{}, fmt.Errorf("dstest: epoch %d, state at %d: %w", f.epoch, st.Epoch, ds.ErrStaleEpoch)
	}
	var h handshake
	if err := json.Unmarshal(f.body, &h); err != nil {
		return ds.Verdict{}, fmt.Errorf("dstest: handshake body: %w", ds.ErrInvalidMessage)
	}
	leaf := slices.IndexFunc(st.Members, func(m FakeMember) bool { return bytes.Equal(m.Identity, h.Sender.Identity) })
	key := h.Sender.Key
	switch {
	case h.External && f.content == uint8(ds.ContentCommit):
		if leaf >= 0 {
			return ds.Verdict{}, fmt.Errorf("dstest: external commit from a member: %w", ds.ErrInvalidMessage)
		}
	case leaf < 0:
		return ds.Verdict{}, fmt.Errorf("dstest: sender: %w", ds.ErrNotMember)
	default:
		key = st.Members[leaf].Key
	}
	if !ed25519.Verify(key, f.tbs(), f.sig) {
		return ds.Verdict{}, fmt.Errorf("dstest: signature: %w", ds.ErrBadSignature)
	}
	commit := f.content == uint8(ds.ContentCommit)
	next := st
	next.Members = slices.Clone(st.Members)
	if !commit {
		d := sha256.Sum256(msg)
		next.Pending = append(slices.Clone(st.Pending), d[:])
		return ds.Verdict{Commit: false, Sender: ds.Member{Leaf: uint32(leaf), Identity: h.Sender.Identity, SignatureKey: key}, NewState: next.public()}, nil
	}
	for _, r := range h.Remove {
		i := slices.IndexFunc(next.Members, func(m FakeMember) bool { return bytes.Equal(m.Identity, r) })
		if i < 0 {
			return ds.Verdict{}, fmt.Errorf("dstest: remove of a non-member: %w", ds.ErrInvalidMessage)
		}
		next.Members[i] = FakeMember{}
	}
	adds := h.Add
	if h.External {
		adds = append(slices.Clone(adds), h.Sender)
		leaf = len(next.Members) + len(h.Add)
	}
	for _, a := range adds {
		if slices.IndexFunc(next.Members, func(m FakeMember) bool { return bytes.Equal(m.Identity, a.Identity) }) >= 0 {
			return ds.Verdict{}, fmt.Errorf("dstest: add of a member: %w", ds.ErrInvalidMessage)
		}
		next.Members = append(next.Members, a)
	}
	next.Epoch++
	next.Pending = nil
	return ds.Verdict{Commit: true, Sender: ds.Member{Leaf: uint32(leaf), Identity: h.Sender.Identity, SignatureKey: key}, NewState: next.public()}, nil
}

type kpBody struct {
	Member     FakeMember
	NotAfter   uint64
	LastResort bool
	Nonce      []byte
}

// VerifyKeyPackage implements ds.GroupValidator.
func (Fake) VerifyKeyPackage(kp []byte) (ds.KeyPackageInfo, error) {
	f, err := parse(kp)
	if err != nil {
		return ds.KeyPackageInfo{}, err
	}
	if f.wire != uint16(ds.WireKeyPackage) {
		return ds.KeyPackageInfo{}, fmt.Errorf("dstest: not a KeyPackage: %w", ds.ErrInvalidMessage)
	}
	var b kpBody
	if err := json.Unmarshal(f.body, &b); err != nil {
		return ds.KeyPackageInfo{}, fmt.Errorf("dstest: KeyPackage body: %w", ds.ErrInvalidMessage)
	}
	if len(b.Member.Key) != ed25519.PublicKeySize || !ed25519.Verify(b.Member.Key, f.tbs(), f.sig) {
		return ds.KeyPackageInfo{}, fmt.Errorf("dstest: KeyPackage signature: %w", ds.ErrBadSignature)
	}
	ref := sha256.Sum256(kp)
	return ds.KeyPackageInfo{Ref: ref[:], Identity: b.Member.Identity, SignatureKey: b.Member.Key, NotAfter: b.NotAfter, LastResort: b.LastResort}, nil
}

func signed(s Signer, f frame) []byte {
	f.sig = ed25519.Sign(s.Key, f.tbs())
	return f.marshal()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// GroupInfo builds a fake GroupInfo for a new group whose only member is s.
func GroupInfo(groupID []byte, s Signer) []byte {
	return signed(s, frame{wire: uint16(ds.WireGroupInfo), group: groupID, content: 0, body: mustJSON(handshake{Sender: s.Member()})})
}

// Commit builds a fake commit by sender in epoch, adding and removing leaves.
func Commit(groupID []byte, epoch uint64, sender Signer, add []FakeMember, remove ...FakeMember) []byte {
	h := handshake{Sender: sender.Member(), Add: add}
	for _, r := range remove {
		h.Remove = append(h.Remove, r.Identity)
	}
	return signed(sender, frame{wire: uint16(ds.WirePublicMessage), group: groupID, epoch: epoch, content: uint8(ds.ContentCommit), body: mustJSON(h)})
}

// ExternalCommit builds a fake external commit: joiner adds itself.
func ExternalCommit(groupID []byte, epoch uint64, joiner Signer) []byte {
	h := handshake{Sender: joiner.Member(), External: true}
	return signed(joiner, frame{wire: uint16(ds.WirePublicMessage), group: groupID, epoch: epoch, content: uint8(ds.ContentCommit), body: mustJSON(h)})
}

// Proposal builds a fake proposal (no effect on membership).
func Proposal(groupID []byte, epoch uint64, sender Signer, nonce []byte) []byte {
	h := handshake{Sender: sender.Member(), Nonce: nonce}
	return signed(sender, frame{wire: uint16(ds.WirePublicMessage), group: groupID, epoch: epoch, content: uint8(ds.ContentProposal), body: mustJSON(h)})
}

// Application builds a fake PrivateMessage carrying payload in clear.
func Application(groupID []byte, epoch uint64, payload []byte) []byte {
	return frame{wire: uint16(ds.WirePrivateMessage), group: groupID, epoch: epoch, content: uint8(ds.ContentApplication), body: payload}.marshal()
}

// Welcome builds a fake Welcome carrying payload.
func Welcome(payload []byte) []byte {
	return frame{wire: uint16(ds.WireWelcome), body: payload}.marshal()
}

// KeyPackage builds a fake KeyPackage of s expiring at notAfter.
func KeyPackage(s Signer, notAfter time.Time, lastResort bool, nonce []byte) []byte {
	b := kpBody{Member: s.Member(), NotAfter: uint64(notAfter.Unix()), LastResort: lastResort, Nonce: nonce}
	return signed(s, frame{wire: uint16(ds.WireKeyPackage), body: mustJSON(b)})
}

// Forge returns msg with its signature replaced by one made with another key.
func Forge(msg []byte, other ed25519.PrivateKey) ([]byte, error) {
	f, err := parse(msg)
	if err != nil {
		return nil, err
	}
	if len(f.sig) == 0 {
		return nil, errors.New("dstest: message is unsigned")
	}
	f.sig = ed25519.Sign(other, f.tbs())
	return f.marshal(), nil
}
