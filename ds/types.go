package ds

import (
	"crypto/ed25519"
	"time"
)

// DeviceID names a device; assigned by the Store, never reused.
type DeviceID int64

// Device is one of an account's devices. Each device has its own Ed25519
// signature key, which is also its MLS leaf signature key.
type Device struct {
	ID         DeviceID
	Username   string
	Name       string // a label chosen by the user ("laptop"); not secret
	SigningKey ed25519.PublicKey
	Created    time.Time
	Revoked    time.Time // zero while active
}

// Active reports whether the device has not been revoked.
func (d Device) Active() bool { return d.Revoked.IsZero() }

// Principal is the authenticated actor of a request: always passed explicitly.
type Principal struct {
	Username string
	Device   DeviceID
}

// Challenge is a one-time nonce a device signs to obtain a token.
type Challenge struct {
	Device  DeviceID
	Nonce   []byte
	Expires time.Time
}

// Token is a short-lived bearer token. Only its SHA-256 is stored.
type Token struct {
	Value   string // base64url; secret: never log it
	Expires time.Time
}

// ChallengeRecord is a stored challenge: the nonce hash, never the nonce.
type ChallengeRecord struct {
	Device    DeviceID
	NonceHash [32]byte
	Expires   time.Time
}

// TokenRecord is a stored token: the hash, never the token.
type TokenRecord struct {
	Hash     [32]byte
	Username string
	Device   DeviceID
	Expires  time.Time
}

// KeyPackage is a stored KeyPackage of a device.
type KeyPackage struct {
	Ref        []byte // KeyPackageRef (RFC 9420, Section 5.2)
	Device     DeviceID
	Data       []byte // the MLSMessage-encoded KeyPackage, opaque to the store
	Expires    time.Time
	LastResort bool
}

// ClaimedKeyPackage is a KeyPackage handed out for one device of a user.
type ClaimedKeyPackage struct {
	Device     DeviceID
	Ref        []byte
	Data       []byte
	LastResort bool
}

// Group is the DS's record of a group's public state.
type Group struct {
	ID      []byte // MLS group_id
	Epoch   uint64
	Version uint64     // bumped by every accepted handshake message (compare-and-swap key)
	State   []byte     // validator-defined public state (PublicState.Opaque)
	LastSeq uint64     // sequence number of the last accepted message (0: none)
	Leaves  []DeviceID // devices holding a leaf in the current public state (revoked ones included)
	Created time.Time
}

// Kind says what a queued message is.
type Kind uint8

const (
	KindApplication Kind = 1 // PrivateMessage, content hidden from the DS
	KindProposal    Kind = 2 // PublicMessage carrying a proposal
	KindCommit      Kind = 3 // PublicMessage carrying a commit
	KindWelcome     Kind = 4 // a Welcome, queued for the devices it adds
)

func (k Kind) String() string {
	switch k {
	case KindApplication:
		return "application"
	case KindProposal:
		return "proposal"
	case KindCommit:
		return "commit"
	case KindWelcome:
		return "welcome"
	}
	return "unknown"
}

// Delivery is one entry of a device's queue.
type Delivery struct {
	Cursor   uint64 // position in the device's queue; ack up to it
	GroupID  []byte
	Seq      uint64 // per-group sequence number (0 for a Welcome)
	Epoch    uint64 // epoch the message was sent in (for a Welcome: the new epoch)
	Kind     Kind
	Sender   DeviceID // the sending device for handshake messages; 0 for application messages and Welcomes
	Data     []byte   // MLS bytes (media type message/mls)
	Received time.Time
	// Stamp is the provider's franking stamp of an application message
	// (franking.ParseStamp; nil if the DS stamps nothing). Recipients keep it
	// with the message for a later report.
	Stamp []byte
}

// Page is one read of a device's queue.
type Page struct {
	Deliveries []Delivery
	Cursor     uint64 // ack this once the page is processed; fetch after it next
}

// Receipt tells a sender its message is durable.
type Receipt struct {
	Cursor uint64
	Seq    uint64
	Epoch  uint64 // the group's epoch after the message
}

// BlobMeta describes an attachment. The bytes are encrypted by the client; the
// key and hash travel inside the MLS message.
type BlobMeta struct {
	ID        string // random, 128 bits, hex
	Owner     DeviceID
	Size      int64
	ChunkSize int
	SHA256    [32]byte // of the stored (encrypted) bytes
	Created   time.Time
	Complete  bool
}
