// Package franking implements message franking for MLS application messages
// (docs/franking.md): a recipient can prove to the provider what a sender
// sent, and the provider learns nothing about messages nobody reports.
//
// Construction (after Facebook's "Messenger Secret Conversations" technical
// whitepaper, and Grubbs, Lu and Ristenpart, "Message Franking via Committing
// Authenticated Encryption", CRYPTO 2017):
//
//   - The sender draws a fresh 32-byte franking key kf and commits to the
//     plaintext: c = HMAC-SHA256(kf, "daylight franking v1" || group id ||
//     sender account || sender device || plaintext). kf and the plaintext go
//     inside the encrypted application_data (Protect); c goes in the
//     PrivateMessage's authenticated_data, which the delivery server sees and
//     which the MLS AEAD and the sender's signature both cover.
//   - On accepting the message the server computes a stamp: an HMAC-SHA256
//     under its own stamp key of (c, sender account, device, group, time).
//   - On receipt a recipient recomputes c from the decrypted content and the
//     MLS-authenticated sender and drops the message if it does not match
//     (Unprotect): nothing unreportable is ever shown.
//   - A report reveals plaintext, kf and the stamp; the provider checks the
//     stamp with its key and the commitment with kf (Stamper.VerifyReport).
package franking

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"golang.org/x/crypto/cryptobyte"
)

// Sizes.
const (
	KeySize        = 32
	CommitmentSize = sha256.Size
	version        = 1
	maxField       = 255
)

// Errors.
var (
	ErrMalformed  = errors.New("franking: malformed")
	ErrCommitment = errors.New("franking: commitment does not open")
	ErrStamp      = errors.New("franking: stamp does not verify")
	ErrMismatch   = errors.New("franking: stamp is for another message, sender or group")
)

// Sender identifies the sending account and device, as the MLS credential
// (for recipients) and the authenticated connection (for the server) name it.
type Sender struct {
	Account string
	Device  string
}

// Commitment is the sender's commitment to the plaintext.
type Commitment [CommitmentSize]byte

func checkIdentity(groupID []byte, s Sender) error {
	if len(groupID) == 0 || len(groupID) > maxField || len(s.Account) == 0 || len(s.Account) > maxField || len(s.Device) == 0 || len(s.Device) > maxField {
		return fmt.Errorf("%w: group id, account and device must be 1..%d bytes", ErrMalformed, maxField)
	}
	return nil
}

func commit(key, groupID []byte, s Sender, plaintext []byte) Commitment {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("daylight franking v1"))
	for _, f := range [][]byte{groupID, []byte(s.Account), []byte(s.Device)} {
		m.Write([]byte{byte(len(f))})
		m.Write(f)
	}
	m.Write(plaintext)
	var c Commitment
	m.Sum(c[:0])
	return c
}

// Protect frames plaintext for sending: it returns the application_data to
// encrypt (version || kf || plaintext) and the commitment to put in the
// PrivateMessage's authenticated_data.
func Protect(rand io.Reader, groupID []byte, s Sender, plaintext []byte) (content []byte, c Commitment, err error) {
	if err := checkIdentity(groupID, s); err != nil {
		return nil, c, err
	}
	content = make([]byte, 1+KeySize+len(plaintext))
	content[0] = version
	key := content[1 : 1+KeySize]
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, c, fmt.Errorf("franking: drawing the franking key: %w", err)
	}
	copy(content[1+KeySize:], plaintext)
	return content, commit(key, groupID, s, plaintext), nil
}

// Unprotect is the recipient's check on receipt: it splits the decrypted
// application_data, recomputes the commitment for the MLS-authenticated
// sender and group, and returns ErrCommitment (drop the message) if it is not
// the commitment in the authenticated_data. The returned key is kept with the
// message for a later report.
func Unprotect(content []byte, c Commitment, groupID []byte, s Sender) (plaintext, key []byte, err error) {
	if err := checkIdentity(groupID, s); err != nil {
		return nil, nil, err
	}
	if len(content) < 1+KeySize || content[0] != version {
		return nil, nil, fmt.Errorf("%w: franked content: short or unknown version", ErrMalformed)
	}
	key, plaintext = content[1:1+KeySize], content[1+KeySize:]
	got := commit(key, groupID, s, plaintext)
	if !hmac.Equal(got[:], c[:]) {
		return nil, nil, ErrCommitment
	}
	return plaintext, key, nil
}

// Stamp is the server's binding of a commitment to its sender, group and
// acceptance time. Tag is a MAC only the provider can check: a stamp proves
// nothing to third parties (deniability, see docs/franking.md).
type Stamp struct {
	Commitment Commitment
	Sender     Sender
	GroupID    []byte
	Time       uint64 // unix milliseconds, the server's acceptance time
	Tag        [sha256.Size]byte
}

// tbsPrefix is the to-be-signed label of a stamp tag.
const tbsPrefix = "daylight franking stamp v1"

// tbsSize is the length of the stamp's to-be-signed fields (after the
// label): commitment, three uint8-length-prefixed fields, time.
func (s *Stamp) tbsSize() int {
	return CommitmentSize + 3 + len(s.Sender.Account) + len(s.Sender.Device) + len(s.GroupID) + 8
}

// appendTBS appends commitment || account<u8> || device<u8> || group_id<u8> ||
// time (uint64) to b. checkIdentity bounds the fields to 255 bytes.
func (s *Stamp) appendTBS(b []byte) []byte {
	b = append(b, s.Commitment[:]...)
	b = append(b, byte(len(s.Sender.Account)))
	b = append(b, s.Sender.Account...)
	b = append(b, byte(len(s.Sender.Device)))
	b = append(b, s.Sender.Device...)
	b = append(b, byte(len(s.GroupID)))
	b = append(b, s.GroupID...)
	return binary.BigEndian.AppendUint64(b, s.Time)
}

// Matches is the recipient's check of a delivered stamp: it is for this
// commitment, sender and group (recipients cannot check the tag).
func (s *Stamp) Matches(c Commitment, groupID []byte, sender Sender) error {
	if s.Commitment != c || !bytes.Equal(s.GroupID, groupID) || s.Sender != sender {
		return ErrMismatch
	}
	return nil
}

// Stamper is the provider's stamping key (32 random bytes, shared by its
// replicas, never logged).
type Stamper struct {
	key  []byte
	macs sync.Pool // of *stampMAC: HMAC states keyed with key, reset before use
}

// stampMAC is a reusable HMAC-SHA256 state and a buffer for the
// to-be-signed bytes, so a stamp's tag costs no allocation.
type stampMAC struct {
	h   hash.Hash
	buf []byte
}

// NewStamper returns a Stamper for key.
func NewStamper(key []byte) (*Stamper, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("franking: stamp key must be %d bytes", KeySize)
	}
	st := &Stamper{key: bytes.Clone(key)}
	st.macs.New = func() any {
		return &stampMAC{h: hmac.New(sha256.New, st.key), buf: make([]byte, 0, 128)}
	}
	return st, nil
}

// tag is HMAC-SHA256(stamp key, "daylight franking stamp v1" || TBS).
func (st *Stamper) tag(s *Stamp) [sha256.Size]byte {
	m := st.macs.Get().(*stampMAC)
	m.h.Reset()
	m.buf = s.appendTBS(append(m.buf[:0], tbsPrefix...))
	m.h.Write(m.buf)
	var t [sha256.Size]byte
	m.h.Sum(t[:0])
	st.macs.Put(m)
	return t
}

// Stamp binds commitment c to sender, group and time.
func (st *Stamper) Stamp(c Commitment, sender Sender, groupID []byte, time uint64) (*Stamp, error) {
	if err := checkIdentity(groupID, sender); err != nil {
		return nil, err
	}
	s := &Stamp{Commitment: c, Sender: sender, GroupID: bytes.Clone(groupID), Time: time}
	s.Tag = st.tag(s)
	return s, nil
}

// Report is what a recipient sends the provider to report a message.
type Report struct {
	Plaintext []byte
	Key       []byte // franking key kf
	Stamp     Stamp
}

// VerifiedReport is a report whose stamp and commitment verified: the
// provider knows Sender sent Plaintext to GroupID at Time.
type VerifiedReport struct {
	Plaintext []byte
	Sender    Sender
	GroupID   []byte
	Time      uint64
}

// VerifyReport checks the stamp's tag under the provider's key and that the
// commitment opens to the reported plaintext for the stamped sender and group.
func (st *Stamper) VerifyReport(r *Report) (*VerifiedReport, error) {
	want := st.tag(&r.Stamp)
	if !hmac.Equal(want[:], r.Stamp.Tag[:]) {
		return nil, ErrStamp
	}
	if len(r.Key) != KeySize {
		return nil, fmt.Errorf("%w: franking key size", ErrMalformed)
	}
	c := commit(r.Key, r.Stamp.GroupID, r.Stamp.Sender, r.Plaintext)
	if !hmac.Equal(c[:], r.Stamp.Commitment[:]) {
		return nil, ErrCommitment
	}
	return &VerifiedReport{Plaintext: bytes.Clone(r.Plaintext), Sender: r.Stamp.Sender, GroupID: bytes.Clone(r.Stamp.GroupID), Time: r.Stamp.Time}, nil
}

// Marshal encodes a stamp: version || TBS || tag.
func (s *Stamp) Marshal() []byte {
	return s.AppendMarshal(make([]byte, 0, 1+s.tbsSize()+sha256.Size))
}

// AppendMarshal appends the encoding of Marshal to b.
func (s *Stamp) AppendMarshal(b []byte) []byte {
	b = append(b, version)
	b = s.appendTBS(b)
	return append(b, s.Tag[:]...)
}

// The delivered form of a stamp (docs/franking.md, "Delivered stamps"): the
// recipient already knows the commitment (the message's authenticated_data),
// the MLS-authenticated sender and the group, so the provider delivers only
// what it alone knows: deliveredVersion || time (uint64) || tag.
const (
	deliveredVersion = 2
	// DeliveredSize is the length of a delivered stamp.
	DeliveredSize = 1 + 8 + sha256.Size
)

// AppendDelivered appends the delivered form of the stamp encoding full
// (Marshal's output) to b, without decoding the rest: time and tag are the
// encoding's last 40 bytes.
func AppendDelivered(b, full []byte) ([]byte, error) {
	if len(full) < 1+CommitmentSize+3+8+sha256.Size || full[0] != version {
		return nil, fmt.Errorf("%w: stamp: short or unknown version", ErrMalformed)
	}
	b = append(b, deliveredVersion)
	return append(b, full[len(full)-8-sha256.Size:]...), nil
}

// Rebuild is the recipient's side of a delivered stamp: it restores the full
// stamp from the delivered time and tag and what the recipient knows itself
// (the commitment it opened, the MLS-authenticated sender and the group). The
// result names this message by construction; whether the tag is right only the
// provider can tell, on a report.
func Rebuild(delivered []byte, c Commitment, groupID []byte, sender Sender) (*Stamp, error) {
	if err := checkIdentity(groupID, sender); err != nil {
		return nil, err
	}
	if len(delivered) != DeliveredSize || delivered[0] != deliveredVersion {
		return nil, fmt.Errorf("%w: delivered stamp: size or version", ErrMalformed)
	}
	s := &Stamp{Commitment: c, Sender: sender, GroupID: bytes.Clone(groupID), Time: binary.BigEndian.Uint64(delivered[1:9])}
	copy(s.Tag[:], delivered[9:])
	return s, nil
}

func parseStamp(str *cryptobyte.String) (*Stamp, error) {
	var s Stamp
	var ver uint8
	var c, tag []byte
	var acct, dev, gid cryptobyte.String
	if !str.ReadUint8(&ver) || ver != version {
		return nil, fmt.Errorf("%w: stamp.version", ErrMalformed)
	}
	if !str.ReadBytes(&c, CommitmentSize) || !str.ReadUint8LengthPrefixed(&acct) || !str.ReadUint8LengthPrefixed(&dev) ||
		!str.ReadUint8LengthPrefixed(&gid) || !str.ReadUint64(&s.Time) || !str.ReadBytes(&tag, sha256.Size) {
		return nil, fmt.Errorf("%w: stamp: truncated", ErrMalformed)
	}
	copy(s.Commitment[:], c)
	copy(s.Tag[:], tag)
	s.Sender = Sender{Account: string(acct), Device: string(dev)}
	s.GroupID = bytes.Clone(gid)
	if err := checkIdentity(s.GroupID, s.Sender); err != nil {
		return nil, fmt.Errorf("stamp: %w", err)
	}
	return &s, nil
}

// ParseStamp decodes a stamp strictly.
func ParseStamp(data []byte) (*Stamp, error) {
	str := cryptobyte.String(data)
	s, err := parseStamp(&str)
	if err != nil {
		return nil, err
	}
	if !str.Empty() {
		return nil, fmt.Errorf("%w: stamp: trailing bytes", ErrMalformed)
	}
	return s, nil
}

// MaxPlaintext bounds a reported plaintext (the DS's message size limit).
const MaxPlaintext = 1 << 20

// Marshal encodes a report: stamp || key[32] || opaque plaintext<u24>.
func (r *Report) Marshal() ([]byte, error) {
	if len(r.Key) != KeySize || len(r.Plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("%w: report: key size or plaintext too long", ErrMalformed)
	}
	var b cryptobyte.Builder
	b.AddBytes(r.Stamp.Marshal())
	b.AddBytes(r.Key)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Plaintext) })
	return b.Bytes()
}

// ParseReport decodes a report strictly.
func ParseReport(data []byte) (*Report, error) {
	str := cryptobyte.String(data)
	s, err := parseStamp(&str)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var key []byte
	var pt cryptobyte.String
	if !str.ReadBytes(&key, KeySize) || !str.ReadUint24LengthPrefixed(&pt) || !str.Empty() || len(pt) > MaxPlaintext {
		return nil, fmt.Errorf("%w: report: key or plaintext", ErrMalformed)
	}
	return &Report{Plaintext: bytes.Clone(pt), Key: bytes.Clone(key), Stamp: *s}, nil
}

// ParseContent splits franked application_data (as Protect made it) into
// plaintext and franking key without checking a commitment (evidence bundles
// use it to show the text of a signed message).
func ParseContent(content []byte) (plaintext, key []byte, err error) {
	if len(content) < 1+KeySize || content[0] != version {
		return nil, nil, fmt.Errorf("%w: franked content: short or unknown version", ErrMalformed)
	}
	return content[1+KeySize:], content[1 : 1+KeySize], nil
}
