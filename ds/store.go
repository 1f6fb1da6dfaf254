package ds

import (
	"context"
	"time"
)

// Store is the storage the delivery service needs. store/sqlite and
// store/postgres implement it; store/storetest.Run is its conformance suite.
// Every method is one explicit transaction: it either happens entirely or not
// at all, and it returns only after its effect is durable. Errors wrap this
// package's sentinels (ErrNotFound, ErrUsernameTaken, ErrGroupExists, ...).
type Store interface {
	AccountStore
	KeyPackageStore
	GroupStore
	BlobStore
	// Check verifies the database's invariants and returns one line per
	// violation (none: a consistent database). See docs/storage.md.
	Check(ctx context.Context) ([]string, error)
	Close() error
}

// AccountStore holds accounts, devices, challenges and tokens.
type AccountStore interface {
	// CreateAccount registers username with its first device and returns the
	// device with its assigned ID. ErrUsernameTaken if the name exists.
	CreateAccount(ctx context.Context, first Device) (Device, error)
	// AddDevice adds a device to an existing account (ErrNotFound if none).
	AddDevice(ctx context.Context, d Device) (Device, error)
	Device(ctx context.Context, id DeviceID) (Device, error)
	// Devices lists an account's devices, revoked ones included, by ID.
	Devices(ctx context.Context, username string) ([]Device, error)
	// RevokeDevice marks the device revoked and, in the same transaction,
	// deletes its tokens, challenges, KeyPackages and direct messages and ends
	// its group memberships. Revoking twice is not an error.
	RevokeDevice(ctx context.Context, id DeviceID, at time.Time) error
	PutChallenge(ctx context.Context, c ChallengeRecord) error
	// TakeChallenge deletes the challenge and returns nil if it existed for
	// that device and had not expired at now; ErrUnauthenticated otherwise.
	TakeChallenge(ctx context.Context, device DeviceID, nonceHash [32]byte, now time.Time) error
	PutToken(ctx context.Context, t TokenRecord) error
	// Token returns the unexpired token with that hash (ErrUnauthenticated).
	Token(ctx context.Context, hash [32]byte, now time.Time) (TokenRecord, error)
}

// KeyPackageStore is the KeyPackage directory.
type KeyPackageStore interface {
	// PutKeyPackages stores a batch; a last-resort KeyPackage replaces the
	// device's previous one. A Ref already stored fails the whole batch with
	// ErrInvalidInput.
	PutKeyPackages(ctx context.Context, kps []KeyPackage) error
	// ClaimKeyPackage hands out one KeyPackage of the device: an unexpired
	// one-time KeyPackage (soonest expiry first), deleted in the same
	// transaction so no two callers ever receive it; else the unexpired
	// last-resort one, which is kept; else ErrNoKeyPackage.
	ClaimKeyPackage(ctx context.Context, device DeviceID, now time.Time) (KeyPackage, error)
	// CountKeyPackages counts the device's unexpired one-time KeyPackages.
	CountKeyPackages(ctx context.Context, device DeviceID, now time.Time) (int, error)
}

// Append is one message to accept into a group's log.
type Append struct {
	GroupID  []byte
	Kind     Kind // KindApplication, KindProposal or KindCommit
	Sender   DeviceID
	Epoch    uint64   // the message's epoch: must equal the group's epoch
	Data     []byte   // MLS bytes
	Digest   [32]byte // SHA-256 of Data: a digest already retained in the group is ErrReplay
	Received time.Time
	// Stamp is the franking stamp of an application message (nil: none),
	// returned with each Delivery of it.
	Stamp []byte

	// SenderMustBeMember requires an open membership of Sender in the group
	// (ErrNotMember otherwise). False only for an external commit.
	SenderMustBeMember bool

	// For handshake messages: compare-and-swap on the group's Version. A
	// different Version is ErrConflict (ErrStaleEpoch if the epoch moved).
	ExpectVersion uint64
	NewEpoch      uint64
	NewState      []byte
	NewLeaves     []DeviceID // Group.Leaves after the message
	Add           []DeviceID // memberships that start after this message
	Remove        []DeviceID // memberships that end with this message (they receive it)
	Welcome       []byte     // queued as a direct message to each device in Add
}

// DeviceAck is one device's acknowledgement of its queue up to a cursor.
type DeviceAck struct {
	Device DeviceID
	UpTo   uint64
}

// AppendResult is the outcome of one Append.
type AppendResult struct {
	Receipt    Receipt
	Recipients []DeviceID // devices whose queue received the message (to wake)
	Err        error
}

// GroupStore holds groups, their logs, memberships and device queues.
type GroupStore interface {
	// CreateGroup creates a group with its first members (ErrGroupExists).
	// Members receive messages accepted after the creation.
	CreateGroup(ctx context.Context, g Group, members []DeviceID) error
	Group(ctx context.Context, id []byte) (Group, error)
	// GroupMembers lists the devices with an open membership, by ID.
	GroupMembers(ctx context.Context, id []byte) ([]DeviceID, error)
	// Accepted reports whether a message with this SHA-256 digest is retained
	// in the group's log (so a resent message can be told apart from a stale one).
	Accepted(ctx context.Context, groupID []byte, digest [32]byte) (bool, error)
	// AppendBatch accepts a batch in one transaction. Each item succeeds or
	// fails on its own (Err), in order: a later item sees the effect of earlier
	// ones. It returns a non-nil error (and no results) only if the transaction
	// failed, in which case nothing was written. Returns after the commit is
	// durable.
	AppendBatch(ctx context.Context, batch []Append) ([]AppendResult, error)
	// Fetch returns up to limit entries of the device's queue with Cursor >
	// after, in cursor order, read from one snapshot. A device never receives
	// the messages it sent itself. Page.Cursor is the position the device may
	// ack once it has processed the page: the last entry's cursor if the page
	// is full, else the service-wide last id of that snapshot.
	Fetch(ctx context.Context, device DeviceID, after uint64, limit int) (Page, error)
	// Ack records, in one transaction, that each device has processed its
	// queue up to UpTo (cumulative; lower values than already acked are
	// ignored, higher values than the last id are clamped). Direct messages up
	// to UpTo are deleted.
	Ack(ctx context.Context, acks []DeviceAck) error
	// GC deletes messages every recipient device has acked, messages
	// received before retainAfter, expired challenges, tokens and KeyPackages,
	// and blobs created before retainAfter (incomplete ones before
	// staleUploads). It returns the number of messages deleted.
	GC(ctx context.Context, now, retainAfter, staleUploads time.Time) (int, error)
}

// BlobStore holds attachment metadata and bytes, in chunks.
type BlobStore interface {
	CreateBlob(ctx context.Context, m BlobMeta) error
	// PutBlobChunk stores chunk index of an incomplete blob.
	PutBlobChunk(ctx context.Context, id string, index int, data []byte) error
	// CompleteBlob records the final size and hash; the blob becomes readable.
	CompleteBlob(ctx context.Context, id string, size int64, sum [32]byte) error
	Blob(ctx context.Context, id string) (BlobMeta, error)
	BlobChunk(ctx context.Context, id string, index int) ([]byte, error)
	DeleteBlob(ctx context.Context, id string) error
}
