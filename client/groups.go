package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/wire"
)

// Group names travel in application messages (payload type "name"), not in
// a GroupContext extension: renaming needs no commit, and the committer that
// adds members re-sends the current name so new members learn it. See
// docs/client.md.

// payload is the plaintext of an application message (JSON).
type payload struct {
	T    string   `json:"t"` // "text", "file", "name"
	Text string   `json:"text,omitempty"`
	Name string   `json:"name,omitempty"`
	File *FileRef `json:"file,omitempty"`
}

// FileRef describes an encrypted attachment; it travels inside the MLS
// message, so only group members learn the key.
type FileRef struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Blob   string `json:"blob"`
	Key    []byte `json:"key"`    // XChaCha20-Poly1305 key, single use
	SHA256 []byte `json:"sha256"` // of the plaintext
}

// Message is one history entry.
type Message struct {
	ID         int          `json:"id"`
	Group      string       `json:"group"`
	Time       time.Time    `json:"time"`
	From       string       `json:"from"`
	FromDevice api.DeviceID `json:"from_device"`
	Kind       string       `json:"kind"` // "text", "file", "event"
	Text       string       `json:"text,omitempty"`
	File       *FileRef     `json:"file,omitempty"`
	Outgoing   bool         `json:"outgoing,omitempty"`
	Epoch      uint64       `json:"epoch"`
}

// groupState is a group's record ("group/<hex id>").
type groupState struct {
	ID        []byte    `json:"id"`
	Name      string    `json:"name"`
	Removed   bool      `json:"removed,omitempty"`
	Left      bool      `json:"left,omitempty"`
	Proposals bool      `json:"proposals,omitempty"` // cached proposals to commit
	State     []byte    `json:"state"`               // group.Group.MarshalBinary; nil once removed
	History   []Message `json:"history"`
	// Franks holds, per received history id, what a report reveals (client/franking.go).
	Franks map[int]*frankRecord `json:"franks,omitempty"`

	m *mlsGroup
}

func (gs *groupState) hexID() string { return hex.EncodeToString(gs.ID) }

func (gs *groupState) add(m Message) Message {
	m.ID = len(gs.History) + 1
	m.Group = gs.hexID()
	if gs.m != nil && gs.m.g != nil {
		m.Epoch = gs.m.g.Epoch()
	}
	gs.History = append(gs.History, m)
	return m
}

// Member is a device in a group.
type Member struct {
	Username string       `json:"username"`
	Device   api.DeviceID `json:"device"`
	Leaf     uint32       `json:"leaf"`
}

// GroupInfo summarises a group.
type GroupInfo struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Epoch    uint64   `json:"epoch"`
	Members  []Member `json:"members"`
	Removed  bool     `json:"removed,omitempty"`
	Left     bool     `json:"left,omitempty"`
	Messages int      `json:"messages"`
	// Blocked names the members this device blocked (client/block.go).
	Blocked []string `json:"blocked,omitempty"`
	// Policy is the group's access policy id in hex, or "none" (A10,
	// client/policyctx.go); PolicyAccepted is false when this client does
	// not accept it (sending is then refused).
	Policy         string `json:"policy"`
	PolicyAccepted bool   `json:"policy_accepted"`
}

func (c *Client) info(gs *groupState) GroupInfo {
	gi := GroupInfo{ID: gs.hexID(), Name: gs.Name, Removed: gs.Removed, Left: gs.Left, Messages: len(gs.History)}
	if gs.m != nil && gs.m.g != nil {
		gi.Epoch = gs.m.g.Epoch()
		if gp, err := groupPolicy(gs.m.g); err == nil {
			gi.Policy = gp.String()
		} else {
			gi.Policy = "malformed: " + err.Error()
		}
		gi.PolicyAccepted = c.checkGroupPolicy(gs.m.g) == nil
		if !gs.Removed {
			gi.Members = members(gs.m.g)
			gi.Blocked = c.blockedMembers(gi.Members)
		}
	}
	return gi
}

func members(g *group.Group) []Member {
	var out []Member
	for leaf, id := range g.Members() {
		user, dev, err := ds.ParseIdentity(id)
		if err != nil {
			continue
		}
		out = append(out, Member{Username: user, Device: api.DeviceID(dev), Leaf: leaf})
	}
	slices.SortFunc(out, func(a, b Member) int { return int(a.Leaf) - int(b.Leaf) })
	return out
}

func (c *Client) loadGroup(hexID string) (*groupState, error) {
	if gs, ok := c.groups[hexID]; ok {
		return gs, nil
	}
	b, ok := c.st.Get("group/" + hexID)
	if !ok {
		return nil, ErrUnknownGroup
	}
	gs := new(groupState)
	if err := json.Unmarshal(b, gs); err != nil {
		return nil, fmt.Errorf("client: group record: %w", err)
	}
	m, err := restoreGroup(c.prof.SigningKey, c.cfg.Rand, c.cfg.Now, gs.State, c.cfg.Escrow != nil)
	if err != nil {
		return nil, err
	}
	gs.m = m
	c.groups[hexID] = gs
	return gs, nil
}

func (c *Client) saveGroup(gs *groupState) error {
	st, err := gs.m.snapshot()
	if err != nil {
		return err
	}
	gs.State = st
	b, err := json.Marshal(gs)
	if err != nil {
		return err
	}
	c.st.Put("group/"+gs.hexID(), b)
	c.groups[gs.hexID()] = gs
	return nil
}

// resolveGroup finds a group by hex id, unique hex prefix or unique name.
func (c *Client) resolveGroup(ref string) (*groupState, error) {
	var hits []string
	for _, k := range c.st.List("group/") {
		id := strings.TrimPrefix(k, "group/")
		if id == ref {
			return c.loadGroup(id)
		}
		if len(ref) >= 4 && strings.HasPrefix(id, ref) {
			hits = append(hits, id)
			continue
		}
		gs, err := c.loadGroup(id)
		if err != nil {
			return nil, fmt.Errorf("client: group %s: %w", id, err)
		}
		if gs.Name == ref {
			hits = append(hits, id)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrUnknownGroup, ref)
	case 1:
		return c.loadGroup(hits[0])
	}
	return nil, fmt.Errorf("client: %q names %d groups (hint: use the group id from `daylight group list`)", ref, len(hits))
}

func (c *Client) newOp(kind opKind) (op, error) { return op{Kind: kind}, nil }

func (c *Client) newGroupState() *mlsGroup {
	m := newMLSGroup(c.prof.SigningKey, c.cfg.Rand, c.cfg.Now)
	m.cfg.KeepEscrowSecrets = c.cfg.Escrow != nil // P for the escrow record (client/escrow.go)
	return m
}

func (c *Client) ready() error {
	if c.prof == nil {
		return ErrNotRegistered
	}
	return nil
}

// Groups lists the groups this device knows.
func (c *Client) Groups() ([]GroupInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return nil, err
	}
	var out []GroupInfo
	for _, k := range c.st.List("group/") {
		gs, err := c.loadGroup(strings.TrimPrefix(k, "group/"))
		if err != nil {
			return nil, err
		}
		out = append(out, c.info(gs))
	}
	return out, nil
}

// Group returns one group's summary.
func (c *Client) Group(ref string) (GroupInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return GroupInfo{}, err
	}
	gs, err := c.resolveGroup(ref)
	if err != nil {
		return GroupInfo{}, err
	}
	return c.info(gs), nil
}

// AddResult reports what an Add did.
type AddResult struct {
	Group    GroupInfo      `json:"group"`
	Added    []Member       `json:"added"`
	Unpinned []api.DeviceID `json:"unpinned,omitempty"` // added devices not among the contact's pinned ones
	// Refused are devices left out because the pinned key directory does
	// not vouch for them (Config.KeyDirTrust): ghost or not yet published.
	Refused []api.DeviceID `json:"refused,omitempty"`
}

// CreateGroup creates a group named name with this device, the account's
// other devices and every device of users.
func (c *Client) CreateGroup(ctx context.Context, name string, users []string) (AddResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return AddResult{}, err
	}
	if err := c.refuseBlocked(users); err != nil {
		return AddResult{}, err
	}
	gid := make([]byte, 16)
	if _, err := io.ReadFull(c.cfg.Rand, gid); err != nil {
		return AddResult{}, err
	}
	o, err := c.newOp(opCreate)
	if err != nil {
		return AddResult{}, err
	}
	o.GroupID, o.Identity, o.Exts = gid, c.mlsIdentity(), c.groupPolicyExtensions()
	m := c.newGroupState()
	if _, err := m.apply(&o); err != nil {
		return AddResult{}, err
	}
	gi, _, err := m.g.GroupInfo(false)
	if err != nil {
		return AddResult{}, err
	}
	if _, err := c.tr.CreateGroup(ctx, gi); err != nil {
		return AddResult{}, err
	}
	gs := &groupState{ID: gid, Name: name, m: m}
	gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: "event", Text: "created the group " + name, Outgoing: true})
	if err := c.saveGroup(gs); err != nil {
		return AddResult{}, err
	}
	if err := c.st.Commit(); err != nil {
		return AddResult{}, err
	}
	return c.addUsers(ctx, gs, append([]string{c.prof.Username}, users...))
}

// Add adds every device of users (those not yet members) to the group.
func (c *Client) Add(ctx context.Context, ref string, users []string) (AddResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refuseBlocked(users); err != nil {
		return AddResult{}, err
	}
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return AddResult{}, err
	}
	return c.addUsers(ctx, gs, users)
}

func (c *Client) activeGroup(ctx context.Context, ref string) (*groupState, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	if _, err := c.syncLocked(ctx); err != nil {
		return nil, err
	}
	gs, err := c.resolveGroup(ref)
	if err != nil {
		return nil, err
	}
	if gs.Removed || gs.Left {
		return nil, fmt.Errorf("%w (%s)", ErrNotMember, gs.Name)
	}
	return gs, nil
}

func (c *Client) addUsers(ctx context.Context, gs *groupState, users []string) (AddResult, error) {
	claimed := map[api.DeviceID][]byte{}
	var unpinned []api.DeviceID
	// With a pinned key directory, other users' devices are added only if
	// the verified account vouches for their KeyPackage (kdclient).
	vouched := map[string]*kdclient.Contact{}
	refusedSet := map[api.DeviceID]bool{}
	if trust, err := c.kdConfig(ctx); err != nil {
		return AddResult{}, err
	} else if trust != nil {
		for _, u := range users {
			if u == c.prof.Username {
				continue
			}
			ct, err := c.verifiedContact(ctx, trust, u)
			if err != nil {
				return AddResult{}, err
			}
			vouched[u] = ct
		}
	}
	spec := func() (*commitSpec, error) {
		have := map[string]bool{}
		for _, id := range gs.m.g.Members() {
			have[string(id)] = true
		}
		cs := &commitSpec{}
		for _, u := range users {
			devs, err := c.devices(ctx, u)
			if err != nil {
				return nil, fmt.Errorf("client: devices of %s: %w", u, err)
			}
			pins := c.pins(u)
			for _, d := range devs {
				if d.Revoked || have[string(ds.Identity(u, ds.DeviceID(d.ID)))] || refusedSet[d.ID] {
					continue
				}
				if ct := vouched[u]; ct != nil && !slices.ContainsFunc(ct.State.Devices, func(a account.Device) bool { return bytes.Equal(a.SignatureKey, d.SigningKey) }) {
					refusedSet[d.ID] = true // not in the verified account: do not even claim
					continue
				}
				kp, ok := claimed[d.ID]
				if !ok {
					k, err := c.tr.ClaimKeyPackage(ctx, d.ID)
					if err != nil {
						return nil, fmt.Errorf("client: KeyPackage of %s device %d: %w", u, d.ID, err)
					}
					if err := checkKeyPackage(k.Data, u, d); err != nil {
						return nil, err
					}
					if ct := vouched[u]; ct != nil {
						msg, _ := wire.ParseMLSMessage(k.Data)
						ln := msg.KeyPackage.LeafNode
						if _, err := ct.CheckKeyPackage(ln.SignatureKey, ln.Credential.Append(nil)); err != nil {
							refusedSet[d.ID] = true
							continue
						}
					}
					kp = k.Data
					claimed[d.ID] = kp
					if pins != nil && !slices.ContainsFunc(pins, func(p pin) bool { return p.Device == d.ID && bytes.Equal(p.Key, d.SigningKey) }) {
						unpinned = append(unpinned, d.ID)
					}
				}
				cs.Adds = append(cs.Adds, kp)
			}
		}
		if len(cs.Adds) == 0 {
			return nil, nil
		}
		return cs, nil
	}
	before := members(gs.m.g)
	if err := c.commitWithRebase(ctx, gs, spec); err != nil {
		return AddResult{}, err
	}
	after := members(gs.m.g)
	var added []Member
	for _, m := range after {
		if !slices.ContainsFunc(before, func(b Member) bool { return b.Leaf == m.Leaf && b.Device == m.Device }) {
			added = append(added, m)
		}
	}
	if len(added) > 0 {
		gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: "event", Text: "added " + describe(added), Outgoing: true})
		// New members learn the group's name from this message.
		if _, err := c.sendPayload(ctx, gs, payload{T: "name", Name: gs.Name}, false); err != nil {
			return AddResult{}, err
		}
	}
	if err := c.saveGroup(gs); err != nil {
		return AddResult{}, err
	}
	var refused []api.DeviceID
	for id := range refusedSet {
		refused = append(refused, id)
	}
	slices.Sort(refused)
	return AddResult{Group: c.info(gs), Added: added, Unpinned: unpinned, Refused: refused}, c.st.Commit()
}

// checkKeyPackage checks that a claimed KeyPackage names the device it was
// claimed for and carries that device's registered key (a server cannot
// substitute a key of its own without it being noticed here).
func checkKeyPackage(data []byte, user string, d Device) error {
	msg, err := wire.ParseMLSMessage(data)
	if err != nil || msg.KeyPackage == nil {
		return fmt.Errorf("client: KeyPackage of %s device %d does not parse", user, d.ID)
	}
	ln := msg.KeyPackage.LeafNode
	if !bytes.Equal(ln.Credential.Identity, ds.Identity(user, ds.DeviceID(d.ID))) || !bytes.Equal(ln.SignatureKey, d.SigningKey) {
		return fmt.Errorf("client: KeyPackage of %s device %d does not carry that device's identity and registered key", user, d.ID)
	}
	return nil
}

func describe(ms []Member) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s/%d", m.Username, m.Device))
	}
	return strings.Join(parts, ", ")
}

// commitWithRebase builds a commit from spec (nil spec result: nothing to
// do), sends it, and on a lost race (stale_epoch) processes the winning
// commit and rebuilds the commit on the new epoch, up to five times.
func (c *Client) commitWithRebase(ctx context.Context, gs *groupState, spec func() (*commitSpec, error)) error {
	for attempt := 0; ; attempt++ {
		if gs.Removed || gs.Left {
			return ErrNotMember
		}
		cs, err := spec()
		if err != nil || cs == nil {
			return err
		}
		if c.escrowActive(gs) {
			cs.AAD = encodeCommitTime(c.cfg.Now()) // signed by the commit (client/escrow.go)
		}
		o, err := c.newOp(opCommit)
		if err != nil {
			return err
		}
		o.Commit = cs
		res, err := gs.m.apply(&o)
		if err != nil {
			return err
		}
		err = c.sendOnce(ctx, res.commit.Commit, res.commit.Welcome)
		if err != nil {
			if api.HasCode(err, api.CodeStaleEpoch) && attempt < 5 {
				if _, err := c.syncLocked(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		if err := gs.m.g.MergePendingCommit(); err != nil {
			return err
		}
		gs.Proposals = false
		if err := c.saveGroup(gs); err != nil {
			return err
		}
		if err := c.st.Commit(); err != nil {
			return err
		}
		c.afterOwnCommit(ctx, gs) // epoch statement and escrow (client/escrow.go)
		return nil
	}
}

// Remove removes every device of users from the group.
func (c *Client) Remove(ctx context.Context, ref string, users []string) (GroupInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return GroupInfo{}, err
	}
	var removed []Member
	spec := func() (*commitSpec, error) {
		cs := &commitSpec{}
		removed = nil
		for _, m := range members(gs.m.g) {
			if slices.Contains(users, m.Username) && m.Device != c.prof.DeviceID {
				cs.RemoveIDs = append(cs.RemoveIDs, ds.Identity(m.Username, ds.DeviceID(m.Device)))
				removed = append(removed, m)
			}
		}
		if len(cs.RemoveIDs) == 0 {
			return nil, nil
		}
		return cs, nil
	}
	if err := c.commitWithRebase(ctx, gs, spec); err != nil {
		return GroupInfo{}, err
	}
	if len(removed) == 0 {
		return GroupInfo{}, fmt.Errorf("client: none of %s is in the group (hint: to leave yourself, use `daylight group leave`)", strings.Join(users, ", "))
	}
	gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: "event", Text: "removed " + describe(removed), Outgoing: true})
	if err := c.saveGroup(gs); err != nil {
		return GroupInfo{}, err
	}
	return c.info(gs), c.st.Commit()
}

// Leave proposes this device's removal (RFC 9420, Section 12.1.3: a member
// cannot commit its own removal); the next member that syncs commits it.
// This device stops using the group at once.
func (c *Client) Leave(ctx context.Context, ref string) (GroupInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return GroupInfo{}, err
	}
	o, err := c.newOp(opPropose)
	if err != nil {
		return GroupInfo{}, err
	}
	o.Remove = c.mlsIdentity()
	res, err := gs.m.apply(&o)
	if err != nil {
		return GroupInfo{}, err
	}
	if _, err := c.tr.Send(ctx, res.out); err != nil {
		return GroupInfo{}, err
	}
	gs.Left = true
	gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: "event", Text: "left the group", Outgoing: true})
	if err := c.saveGroup(gs); err != nil {
		return GroupInfo{}, err
	}
	return c.info(gs), c.st.Commit()
}

// Rename renames the group for every member (an application message).
func (c *Client) Rename(ctx context.Context, ref, name string) (GroupInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return GroupInfo{}, err
	}
	if _, err := c.sendPayload(ctx, gs, payload{T: "name", Name: name}, true); err != nil {
		return GroupInfo{}, err
	}
	return c.info(gs), nil
}

// SendText sends a text message to the group.
func (c *Client) SendText(ctx context.Context, ref, text string) (Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return Message{}, err
	}
	return c.sendPayload(ctx, gs, payload{T: "text", Text: text}, true)
}

// sendPayload protects and sends one application message. The protect
// operation is durable before the send, so a sender generation is never
// reused even if the send fails. On stale_epoch it syncs and retries once.
func (c *Client) sendPayload(ctx context.Context, gs *groupState, p payload, history bool) (Message, error) {
	pt, err := json.Marshal(p)
	if err != nil {
		return Message{}, err
	}
	if err := c.checkGroupPolicy(gs.m.g); err != nil {
		return Message{}, err
	}
	for attempt := 0; ; attempt++ {
		// A correct escrow record of this epoch is on the DS before the
		// first message in it (client/escrow.go).
		if err := c.ensureEscrow(ctx, gs); err != nil {
			return Message{}, err
		}
		o, err := c.newOp(opProtect)
		if err != nil {
			return Message{}, err
		}
		if o.Plain, o.AAD, err = c.frank(gs, pt); err != nil {
			return Message{}, err
		}
		res, err := gs.m.apply(&o)
		if err != nil {
			return Message{}, err
		}
		if err := c.saveGroup(gs); err != nil {
			return Message{}, err
		}
		if err := c.st.Commit(); err != nil {
			return Message{}, err
		}
		if err := c.sendOnce(ctx, res.out, nil); err != nil {
			if api.HasCode(err, api.CodeStaleEpoch) && attempt < 3 {
				if _, err := c.syncLocked(ctx); err != nil {
					return Message{}, err
				}
				if gs.Removed {
					return Message{}, ErrNotMember
				}
				continue
			}
			return Message{}, sendError(err)
		}
		break
	}
	var msg Message
	switch p.T {
	case "name":
		gs.Name = p.Name
		if history {
			msg = gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: "event", Text: "renamed the group to " + p.Name, Outgoing: true})
		}
	case "text", "file":
		msg = gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: p.T, Text: p.Text, File: p.File, Outgoing: true})
	}
	if err := c.saveGroup(gs); err != nil {
		return Message{}, err
	}
	return msg, c.st.Commit()
}

// History returns the group's messages with id > after (all with 0).
func (c *Client) History(ref string, after int) ([]Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return nil, err
	}
	gs, err := c.resolveGroup(ref)
	if err != nil {
		return nil, err
	}
	var out []Message
	br := c.blocks()
	for _, m := range gs.History {
		if m.ID > after && !c.hiddenByBlock(br, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// Sync fetches and processes this device's queue (without waiting), acks
// it, commits proposals others left pending (e.g. a member leaving), tops
// up KeyPackages, and returns the new history entries.
func (c *Client) Sync(ctx context.Context) ([]Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return nil, err
	}
	return c.syncLocked(ctx)
}

// Wait long-polls up to d for new deliveries, then syncs.
func (c *Client) Wait(ctx context.Context, d time.Duration) ([]Message, error) {
	c.mu.Lock()
	if err := c.ready(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	cursor := c.prof.Cursor
	c.mu.Unlock()
	if _, err := c.tr.Fetch(ctx, cursor, 1, d); err != nil {
		return nil, err
	}
	return c.Sync(ctx)
}

func (c *Client) syncLocked(ctx context.Context) ([]Message, error) {
	var out []Message
	for {
		page, err := c.tr.Fetch(ctx, c.prof.Cursor, 256, 0)
		if err != nil {
			return out, err
		}
		if len(page.Deliveries) == 0 {
			break
		}
		msgs, _, err := c.handlePage(page)
		out = append(out, msgs...)
		if err != nil {
			return out, err
		}
		if err := c.tr.Ack(ctx, page.Cursor); err != nil {
			return out, err
		}
	}
	more, err := c.commitPendingProposals(ctx)
	out = append(out, more...)
	if err != nil {
		return out, err
	}
	// Keep the one-time KeyPackages topped up: a Welcome consumed one, or
	// others claimed some without adding this device.
	if err := c.replenishKeyPackages(ctx); err != nil {
		return out, err
	}
	// Supply the escrow record of each group's current epoch if no correct
	// one was seen yet (a sender may have omitted it, T9; client/escrow.go).
	if err := c.ensureEscrowAll(ctx); err != nil {
		return out, err
	}
	return out, c.publishApproved(ctx)
}

// commitPendingProposals commits proposals others left (a member leaving).
func (c *Client) commitPendingProposals(ctx context.Context) ([]Message, error) {
	var out []Message
	for _, k := range c.st.List("group/") {
		gs, err := c.loadGroup(strings.TrimPrefix(k, "group/"))
		if err != nil || !gs.Proposals || gs.Removed || gs.Left {
			continue
		}
		before := members(gs.m.g)
		err = c.commitWithRebase(ctx, gs, func() (*commitSpec, error) {
			if !gs.Proposals {
				return nil, nil
			}
			return &commitSpec{ForcePath: true}, nil
		})
		if err != nil {
			return out, fmt.Errorf("client: committing pending proposals: %w", err)
		}
		if gone := diff(before, members(gs.m.g)); len(gone) > 0 {
			out = append(out, gs.add(Message{Time: c.cfg.Now().UTC(), From: c.prof.Username, FromDevice: c.prof.DeviceID, Kind: "event", Text: "committed the departure of " + describe(gone), Outgoing: true}))
			if err := c.saveGroup(gs); err != nil {
				return out, err
			}
			if err := c.st.Commit(); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func diff(a, b []Member) []Member {
	var out []Member
	for _, m := range a {
		if !slices.ContainsFunc(b, func(x Member) bool { return x.Leaf == m.Leaf && x.Device == m.Device }) {
			out = append(out, m)
		}
	}
	return out
}

// handlePage processes deliveries in queue order and makes the result
// durable before the caller acks the page.
func (c *Client) handlePage(p api.Page) (out []Message, joined bool, err error) {
	for _, d := range p.Deliveries {
		if d.Cursor <= c.prof.Cursor {
			continue
		}
		msgs, j, err := c.handleDelivery(d)
		if err != nil {
			return out, joined, err
		}
		out = append(out, msgs...)
		joined = joined || j
		c.prof.Cursor = d.Cursor
	}
	if err := c.saveProfile(); err != nil {
		return out, joined, err
	}
	return out, joined, c.st.Commit()
}

func (c *Client) event(gs *groupState, d api.Delivery, text string) Message {
	return gs.add(Message{Time: d.Received.UTC(), FromDevice: d.Sender, Kind: "event", Text: text})
}

func (c *Client) handleDelivery(d api.Delivery) ([]Message, bool, error) {
	if d.Kind == api.KindWelcome {
		return c.handleWelcome(d)
	}
	hexID := hex.EncodeToString(d.GroupID)
	gs, err := c.loadGroup(hexID)
	if errors.Is(err, ErrUnknownGroup) {
		return nil, false, nil // a group this device never joined (or forgot)
	}
	if err != nil {
		return nil, false, err
	}
	if gs.Removed {
		return nil, false, nil
	}
	o, err := c.newOp(opProcess)
	if err != nil {
		return nil, false, err
	}
	o.Msg = d.Data
	if d.Kind == api.KindCommit {
		c.stashEscrow(gs) // the epoch's record, before its secrets are gone (client/escrow.go)
	}
	before := members(gs.m.g)
	senderOf := func(leaf uint32) (string, api.DeviceID) {
		for _, m := range before {
			if m.Leaf == leaf {
				return m.Username, m.Device
			}
		}
		return "?", 0
	}
	res, err := gs.m.apply(&o)
	if err != nil {
		if gs.Left {
			return nil, false, nil
		}
		m := c.event(gs, d, fmt.Sprintf("could not process a %s message from device %d: %v", d.Kind, d.Sender, err))
		return []Message{m}, false, c.saveGroup(gs)
	}
	r := res.received
	var out []Message
	switch r.Kind {
	case group.KindApplication:
		user, dev := senderOf(r.Sender)
		pt, fr, err := unfrank(gs.ID, user, dev, r.AuthenticatedData, r.ApplicationData, d.Stamp)
		if err != nil {
			// Dropped: content that cannot be reported is never shown.
			out = append(out, c.event(gs, d, fmt.Sprintf("dropped a message from %s (device %d): %v", user, dev, err)))
			break
		}
		var p payload
		if err := json.Unmarshal(pt, &p); err != nil {
			out = append(out, c.event(gs, d, "undecodable application message"))
			break
		}
		switch p.T {
		case "text", "file":
			if c.dropBlocked(user) {
				break // blocked on this device: not shown, counted (client/block.go)
			}
			m := gs.add(Message{Time: d.Received.UTC(), From: user, FromDevice: dev, Kind: p.T, Text: p.Text, File: p.File})
			if gs.Franks == nil {
				gs.Franks = map[int]*frankRecord{}
			}
			gs.Franks[m.ID] = fr
			out = append(out, m)
		case "name":
			if p.Name != gs.Name {
				gs.Name = p.Name
				out = append(out, gs.add(Message{Time: d.Received.UTC(), From: user, FromDevice: dev, Kind: "event", Text: "renamed the group to " + p.Name}))
			}
		}
	case group.KindProposal:
		gs.Proposals = true
	case group.KindCommit:
		gs.Proposals = false
		user, dev := senderOf(r.Sender)
		if gs.m.g.Removed() || r.Staged.RemovesSelf() {
			gs.Removed = true
			out = append(out, gs.add(Message{Time: d.Received.UTC(), From: user, FromDevice: dev, Kind: "event", Text: "removed this device from the group"}))
			break
		}
		if w := c.commitTimeWarning(r.AuthenticatedData, d.Received); w != "" {
			out = append(out, gs.add(Message{Time: d.Received.UTC(), From: user, FromDevice: dev, Kind: "event", Text: w}))
		}
		after := members(gs.m.g)
		if added := diff(after, before); len(added) > 0 {
			out = append(out, gs.add(Message{Time: d.Received.UTC(), From: user, FromDevice: dev, Kind: "event", Text: "added " + describe(added) + c.blockNote(added)}))
		}
		if gone := diff(before, after); len(gone) > 0 {
			out = append(out, gs.add(Message{Time: d.Received.UTC(), From: user, FromDevice: dev, Kind: "event", Text: "removed " + describe(gone)}))
		}
	}
	return out, false, c.saveGroup(gs)
}

func (c *Client) handleWelcome(d api.Delivery) ([]Message, bool, error) {
	msg, err := wire.ParseMLSMessage(d.Data)
	if err != nil || msg.Welcome == nil {
		return nil, false, nil
	}
	for _, s := range msg.Welcome.Secrets {
		name := "kp/" + hex.EncodeToString(s.NewMember)
		b, ok := c.st.Get(name)
		if !ok {
			continue
		}
		var kp kpRecord
		if err := json.Unmarshal(b, &kp); err != nil {
			return nil, false, err
		}
		o, err := c.newOp(opJoin)
		if err != nil {
			return nil, false, err
		}
		o.KP, o.Msg = &kp, d.Data
		m := c.newGroupState()
		if _, err := m.apply(&o); err != nil {
			return nil, false, nil // not for us after all, or invalid: ignore
		}
		c.st.Delete(name)
		gs := &groupState{ID: m.g.GroupID(), Name: "", m: m}
		if old, err := c.loadGroup(gs.hexID()); err == nil {
			gs.History, gs.Name = old.History, old.Name
		}
		before := members(m.g)
		var by Member
		for _, x := range before {
			if x.Device == d.Sender {
				by = x
			}
		}
		out := []Message{gs.add(Message{Time: d.Received.UTC(), From: by.Username, FromDevice: d.Sender, Kind: "event", Text: "added this device to the group" + c.blockNote(before)})}
		if err := c.checkGroupPolicy(m.g); err != nil {
			out = append(out, gs.add(Message{Time: d.Received.UTC(), Kind: "event",
				Text: "WARNING: " + err.Error() + "; this device will not send in the group (hint: leave it, or configure the group's policy if you accept it)"}))
		}
		return out, true, c.saveGroup(gs)
	}
	return nil, false, nil
}

// Listen receives this device's queue until ctx ends, pushed over WebSocket
// (client/transport reconnects and falls back to HTTP long-poll), processes
// each page like Sync and hands the new history entries to fn. Pages already
// processed by a concurrent Sync are skipped by cursor.
func (c *Client) Listen(ctx context.Context, fn func([]Message), onState func(string, error)) error {
	c.mu.Lock()
	if err := c.ready(); err != nil {
		c.mu.Unlock()
		return err
	}
	after := c.prof.Cursor
	c.mu.Unlock()
	return c.tr.Receive(ctx, transport.ReceiveConfig{
		After:   after,
		OnState: onState,
		Handle: func(ctx context.Context, p api.Page) error {
			c.mu.Lock()
			msgs, joined, err := c.handlePage(p)
			if err == nil && joined {
				err = c.replenishKeyPackages(ctx)
			}
			if err == nil {
				var more []Message
				more, err = c.commitPendingProposals(ctx)
				msgs = append(msgs, more...)
			}
			c.mu.Unlock()
			if len(msgs) > 0 {
				fn(msgs)
			}
			return err
		},
	})
}

// sendOnce sends msg (with welcome for a commit that adds members). When the
// answer is lost (a transport error, not a server verdict) it resends the
// same bytes once: the DS answers "replay" if the first send was accepted,
// which counts as success (docs/api.md). For application messages this
// works today; for an own commit the DS checks the epoch first and answers
// stale_epoch, so a lost answer to an accepted commit still leaves this
// device behind (docs/client.md, known gaps).
func (c *Client) sendOnce(ctx context.Context, msg, welcome []byte) error {
	send := func() error {
		var err error
		if welcome != nil {
			_, err = c.tr.SendCommit(ctx, msg, welcome)
		} else {
			_, err = c.tr.Send(ctx, msg)
		}
		return err
	}
	err := send()
	var ae *api.Error
	if err == nil || errors.As(err, &ae) || ctx.Err() != nil {
		return err
	}
	if err = send(); api.HasCode(err, api.CodeReplay) {
		return nil
	}
	return err
}
