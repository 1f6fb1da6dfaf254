package keydir

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	vrf "filippo.io/mostly-harmless/vrf-r255"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/prefix"
)

// Log is what the directory needs from the access log (accesslog/tlog
// adapts to it): append an epoch head as a KeyDirectory entry, and prove an
// entry's inclusion under a checkpoint that the policy's witnesses cosigned.
type Log interface {
	// AppendHead appends h and returns its index once the entry is durably
	// sequenced.
	AppendHead(ctx context.Context, h EpochHead) (index uint64, err error)
	// Checkpoint returns the latest checkpoint (a signed note carrying the
	// log's signature and at least the policy's threshold of witness
	// cosignatures) and the tree size it commits to.
	Checkpoint(ctx context.Context) (note []byte, size uint64, err error)
	// Inclusion returns the RFC 6962 inclusion proof of the entry at index
	// in the tree of checkpoint (one that Checkpoint returned).
	Inclusion(ctx context.Context, index uint64, checkpoint []byte) (proof [][32]byte, err error)
}

// Config configures a Directory.
type Config struct {
	Store Store
	Log   Log
	// SigningKey signs epoch heads; clients pin its public key.
	SigningKey ed25519.PrivateKey
	// VRFKey is the C2SP vrf-r255 secret scalar (32 bytes) that maps
	// usernames to labels; clients pin its public key.
	VRFKey []byte
	Clock  func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand
	Logger *slog.Logger     // default discards
	// MaxHistoryEpochs caps the epochs of one History answer (default 1024).
	MaxHistoryEpochs int
	// RetainEpochs, if positive (at least 2), keeps the trees of only the
	// latest RetainEpochs epochs in memory; History from before them fails
	// with ErrHistoryPruned. Zero keeps every epoch (memory grows by about
	// depth × 64 + 128 bytes per change). Clients must sync at least once per
	// retention window.
	RetainEpochs int
}

// Errors callers branch on (the server maps them to statuses).
var (
	ErrExists        = errors.New("keydir: account already registered")
	ErrInvalidRecord = errors.New("keydir: invalid account record")
	ErrNotPublished  = errors.New("keydir: no epoch is covered by a witnessed checkpoint yet")
	ErrHistoryPruned = errors.New("keydir: history requested from before the retained epochs")
)

// Directory is the key directory service. Its methods are safe for
// concurrent use.
type Directory struct {
	cfg     Config
	vrf     *vrf.PrivateKey
	publish sync.Mutex // one Publish at a time
	mu      sync.RWMutex
	trees   []*prefix.Tree // trees[e] is epoch e's tree; trees[0] is empty
	epochs  []StoredEpoch  // epochs[e-1] is epoch e
}

// New loads the directory's epochs from the store, rebuilds each epoch's
// tree, and appends to the log any saved head that a crash kept from it.
func New(ctx context.Context, cfg Config) (*Directory, error) {
	if cfg.Store == nil || cfg.Log == nil || len(cfg.SigningKey) != ed25519.PrivateKeySize {
		return nil, errors.New("keydir: Config needs Store, Log and SigningKey")
	}
	k, err := vrf.NewPrivateKey(cfg.VRFKey)
	if err != nil {
		return nil, fmt.Errorf("keydir: Config.VRFKey: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxHistoryEpochs <= 0 {
		cfg.MaxHistoryEpochs = 1024
	}
	if cfg.RetainEpochs == 1 {
		cfg.RetainEpochs = 2
	}
	d := &Directory{cfg: cfg, vrf: k, trees: []*prefix.Tree{{}}}
	eps, err := cfg.Store.Epochs(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("keydir: loading epochs: %w", err)
	}
	for _, e := range eps {
		t, err := d.trees[len(d.trees)-1].Insert(e.Updates)
		if err != nil {
			return nil, fmt.Errorf("keydir: replaying epoch %d: %w", e.Head.Epoch, err)
		}
		if t.Root() != e.Head.Root {
			return nil, fmt.Errorf("keydir: replaying epoch %d: root differs from the signed head", e.Head.Epoch)
		}
		d.trees = append(d.trees, t)
		d.epochs = append(d.epochs, e)
	}
	d.prune()
	for i := range d.epochs {
		if !d.epochs[i].Logged {
			if err := d.logEpoch(ctx, i); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// NewVRFKey returns a fresh VRF secret key for Config.VRFKey.
func NewVRFKey() []byte { return vrf.GenerateKey().Bytes() }

// VRFPublicKey returns the public key clients pin to verify labels.
func (d *Directory) VRFPublicKey() []byte { return d.vrf.PublicKey().Bytes() }

// SigningPublicKey returns the public key clients pin to verify epoch heads.
func (d *Directory) SigningPublicKey() ed25519.PublicKey {
	return d.cfg.SigningKey.Public().(ed25519.PublicKey)
}

// Register stores version 0 of a new account (self-signed by its first
// device); it becomes visible in the next published epoch. Errors:
// ErrInvalidRecord, ErrExists.
func (d *Directory) Register(ctx context.Context, record []byte) error {
	r, err := account.ParseRecord(record)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if r.Version != 0 {
		return fmt.Errorf("%w: registration must be version 0", ErrInvalidRecord)
	}
	if _, err := account.Genesis(r); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	label, _ := proveLabel(d.vrf, r.Username)
	err = d.append(ctx, label, 0, record, r)
	if errors.Is(err, ErrConflict) {
		return ErrExists
	}
	return err
}

// ApplyChange stores the next version of an existing account (adding or
// revoking a device), after checking that a device active in the current
// version signed it. Errors: ErrNotFound, ErrInvalidRecord, ErrConflict (the
// version was taken concurrently; refetch and re-sign).
func (d *Directory) ApplyChange(ctx context.Context, record []byte) error {
	r, err := account.ParseRecord(record)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	label, _ := proveLabel(d.vrf, r.Username)
	vs, err := d.cfg.Store.Versions(ctx, label)
	if err != nil {
		return err
	}
	st, err := verifyStored(vs)
	if err != nil {
		return fmt.Errorf("keydir: stored chain of %q: %w", r.Username, err)
	}
	if _, err := st.Apply(r); err != nil {
		if errors.Is(err, account.ErrBadChain) && r.Version <= st.Version {
			return ErrConflict
		}
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	return d.append(ctx, label, r.Version, record, r)
}

func verifyStored(vs []StoredVersion) (*account.State, error) {
	chain := make([]*account.Record, len(vs))
	for i, v := range vs {
		r, err := account.ParseRecord(v.Record)
		if err != nil {
			return nil, err
		}
		chain[i] = r
	}
	return account.Verify(chain)
}

func (d *Directory) append(ctx context.Context, label [32]byte, version uint64, record []byte, r *account.Record) error {
	var opening [32]byte
	if _, err := io.ReadFull(d.cfg.Rand, opening[:]); err != nil {
		return fmt.Errorf("keydir: opening: %w", err)
	}
	h, err := r.Hash()
	if err != nil {
		return err
	}
	return d.cfg.Store.AppendVersion(ctx, label, version, StoredVersion{Record: record, Opening: opening}, Commitment(opening, h))
}

// Publish closes an epoch: it applies every pending change to the tree,
// signs the new root, saves the epoch, and appends its head to the log. It
// returns once the head is durably in the log. Many changes share one epoch;
// call it on a timer (the epoch interval sets clients' monitoring cost).
func (d *Directory) Publish(ctx context.Context) (EpochHead, error) {
	d.publish.Lock()
	defer d.publish.Unlock()
	pending, err := d.cfg.Store.Pending(ctx)
	if err != nil {
		return EpochHead{}, fmt.Errorf("keydir: pending changes: %w", err)
	}
	d.mu.RLock()
	prev := d.trees[len(d.trees)-1]
	epoch := uint64(len(d.epochs)) + 1
	d.mu.RUnlock()
	t, err := prev.Insert(pending)
	if err != nil {
		return EpochHead{}, err
	}
	h := EpochHead{Epoch: epoch, Root: t.Root(), Time: uint64(d.cfg.Clock().Unix())}
	h.Sign(d.cfg.SigningKey)
	e := StoredEpoch{Head: h, Updates: pending}
	// Saved before it is logged: a crash in between re-appends the same
	// head on restart, never a different root for the same epoch.
	if err := d.cfg.Store.SaveEpoch(ctx, e); err != nil {
		return EpochHead{}, fmt.Errorf("keydir: saving epoch %d: %w", epoch, err)
	}
	d.mu.Lock()
	d.trees = append(d.trees, t)
	d.epochs = append(d.epochs, e)
	d.prune()
	d.mu.Unlock()
	if err := d.logEpoch(ctx, int(epoch-1)); err != nil {
		return EpochHead{}, err
	}
	d.cfg.Logger.Info("keydir: published epoch", "epoch", epoch, "changes", len(pending), "accounts", t.Len())
	return h, nil
}

// prune drops the trees of epochs before the retention window (d.mu held).
func (d *Directory) prune() {
	if d.cfg.RetainEpochs <= 0 {
		return
	}
	for e := len(d.trees) - 1 - d.cfg.RetainEpochs; e >= 0 && d.trees[e] != nil; e-- {
		d.trees[e] = nil
	}
}

func (d *Directory) logEpoch(ctx context.Context, i int) error {
	d.mu.RLock()
	h := d.epochs[i].Head
	d.mu.RUnlock()
	idx, err := d.cfg.Log.AppendHead(ctx, h)
	if err != nil {
		return fmt.Errorf("keydir: logging epoch %d: %w", h.Epoch, err)
	}
	if err := d.cfg.Store.SetLogged(ctx, h.Epoch, idx); err != nil {
		return fmt.Errorf("keydir: recording log index of epoch %d: %w", h.Epoch, err)
	}
	d.mu.Lock()
	d.epochs[i].Logged, d.epochs[i].LogIdx = true, idx
	d.mu.Unlock()
	return nil
}

// witnessed returns the log's checkpoint and the latest epoch whose head it
// covers.
func (d *Directory) witnessed(ctx context.Context) ([]byte, uint64, error) {
	cp, size, err := d.cfg.Log.Checkpoint(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("keydir: log checkpoint: %w", err)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for i := len(d.epochs) - 1; i >= 0; i-- {
		if d.epochs[i].Logged && d.epochs[i].LogIdx < size {
			return cp, uint64(i + 1), nil
		}
	}
	return nil, 0, ErrNotPublished
}

func (d *Directory) headProof(ctx context.Context, epoch uint64, cp []byte) (LogProof, error) {
	d.mu.RLock()
	e := d.epochs[epoch-1]
	d.mu.RUnlock()
	hashes, err := d.cfg.Log.Inclusion(ctx, e.LogIdx, cp)
	if err != nil {
		return LogProof{}, fmt.Errorf("keydir: log inclusion of epoch %d: %w", epoch, err)
	}
	return LogProof{Index: e.LogIdx, Entry: MarshalHeadEntry(e.Head), Hashes: hashes}, nil
}

// Lookup returns username's account as of the latest epoch that a
// witnessed checkpoint covers, with every proof a client needs
// (kdclient.VerifyLookup). An unknown username gets an absence proof.
func (d *Directory) Lookup(ctx context.Context, username string) (*LookupResponse, error) {
	cp, epoch, err := d.witnessed(ctx)
	if err != nil {
		return nil, err
	}
	label, vp := proveLabel(d.vrf, username)
	hp, err := d.headProof(ctx, epoch, cp)
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	t := d.trees[epoch]
	d.mu.RUnlock()
	if t == nil {
		return nil, fmt.Errorf("%w: the witnessed epoch %d lags behind the retention window", ErrHistoryPruned, epoch)
	}
	resp := &LookupResponse{Username: username, VRFProof: vp, Checkpoint: cp, HeadProof: hp, TreeProof: t.Prove(label)}
	value, ok := t.Get(label)
	if !ok {
		return resp, nil
	}
	vs, err := d.cfg.Store.Versions(ctx, label)
	if err != nil {
		return nil, err
	}
	n, err := committedVersion(vs, value)
	if err != nil {
		return nil, err
	}
	resp.Opening = vs[n].Opening
	for _, v := range vs[:n+1] {
		resp.Records = append(resp.Records, v.Record)
	}
	return resp, nil
}

func committedVersion(vs []StoredVersion, value [32]byte) (int, error) {
	for i := len(vs) - 1; i >= 0; i-- {
		r, err := account.ParseRecord(vs[i].Record)
		if err != nil {
			return 0, err
		}
		h, err := r.Hash()
		if err != nil {
			return 0, err
		}
		if Commitment(vs[i].Opening, h) == value {
			return i, nil
		}
	}
	return 0, errors.New("keydir: no stored version matches the tree")
}

// History returns, for an account's own monitoring, every version stored
// for username and its leaf in each epoch after `since` up to the latest
// witnessed one (at most Config.MaxHistoryEpochs; call again from the last
// epoch returned).
func (d *Directory) History(ctx context.Context, username string, since uint64) (*HistoryResponse, error) {
	return d.HistoryFrom(ctx, username, since, 0)
}

// HistoryFrom is History with only the versions from version from on (and
// their openings): a monitor that holds the versions before from, verified
// at an earlier sync, does not download them again. FirstVersion says where
// the served versions start; it is lower than from when the account has
// fewer versions (the monitor then asks again from 0, and kdclient sees the
// rollback or fork in the whole chain).
func (d *Directory) HistoryFrom(ctx context.Context, username string, since, from uint64) (*HistoryResponse, error) {
	cp, latest, err := d.witnessed(ctx)
	if err != nil {
		return nil, err
	}
	label, vp := proveLabel(d.vrf, username)
	resp := &HistoryResponse{Username: username, VRFProof: vp, Checkpoint: cp}
	vs, err := d.cfg.Store.Versions(ctx, label)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	resp.FirstVersion = min(from, uint64(len(vs)))
	for _, v := range vs[resp.FirstVersion:] {
		resp.Records = append(resp.Records, v.Record)
		resp.Openings = append(resp.Openings, v.Opening)
	}
	end := min(latest, since+uint64(d.cfg.MaxHistoryEpochs))
	d.mu.RLock()
	pruned := since+1 <= end && d.trees[since+1] == nil
	d.mu.RUnlock()
	if pruned {
		return nil, fmt.Errorf("%w: epoch %d", ErrHistoryPruned, since+1)
	}
	for e := since + 1; e <= end; e++ {
		hp, err := d.headProof(ctx, e, cp)
		if err != nil {
			return nil, err
		}
		d.mu.RLock()
		t, prevRoot := d.trees[e], prefix.EmptyRoot()
		if e >= 2 {
			prevRoot = d.epochs[e-2].Head.Root
		}
		d.mu.RUnlock()
		if t == nil {
			return nil, fmt.Errorf("%w: epoch %d", ErrHistoryPruned, e)
		}
		he := HistoryEpoch{HeadProof: hp}
		if e == since+1 || t.Root() != prevRoot {
			he.TreeProof = t.Prove(label)
		}
		resp.Epochs = append(resp.Epochs, he)
	}
	return resp, nil
}

// Label returns the VRF label of username (what the tree and the Store are
// keyed by).
func (d *Directory) Label(username string) [32]byte {
	l, _ := proveLabel(d.vrf, username)
	return l
}
