package accesslog

import "fmt"

// Policy logs an access policy (lawful-access.md A10): the policy document
// signed by every trustee and the provider, opaque here (policy/ parses it).
type Policy struct {
	PolicyID     [32]byte // hash of SignedPolicy as defined by policy/
	SignedPolicy []byte   // opaque signed policy document
	Time         uint64   // unix seconds
}

func (*Policy) Type() Type          { return TypePolicy }
func (e *Policy) EntryTime() uint64 { return e.Time }
func (e *Policy) marshalBody(w *writer) {
	w.hash(e.PolicyID)
	w.bytes("SignedPolicy", e.SignedPolicy)
	w.u64(e.Time)
}
func (e *Policy) parseBody(r *reader) {
	e.PolicyID = r.hash("PolicyID")
	e.SignedPolicy = r.bytes("SignedPolicy")
	e.Time = r.u64("Time")
}

// WarrantCommitment logs a warrant in committed form with its public metadata
// (lawful-access.md, "Warrant"): the log never holds targets or case details.
type WarrantCommitment struct {
	Commitment   [32]byte // H(warrant ‖ salt), defined by warrant/
	PolicyID     [32]byte
	Court        string
	Jurisdiction string
	NumTargets   uint16
	WindowStart  uint64 // unix seconds
	WindowEnd    uint64
	EmbargoEnd   uint64
	Filed        uint64 // time the commitment was filed (its entry time)
}

func (*WarrantCommitment) Type() Type          { return TypeWarrantCommitment }
func (e *WarrantCommitment) EntryTime() uint64 { return e.Filed }
func (e *WarrantCommitment) marshalBody(w *writer) {
	w.hash(e.Commitment)
	w.hash(e.PolicyID)
	w.str("Court", e.Court)
	w.str("Jurisdiction", e.Jurisdiction)
	w.u16(e.NumTargets)
	w.u64(e.WindowStart)
	w.u64(e.WindowEnd)
	w.u64(e.EmbargoEnd)
	w.u64(e.Filed)
}
func (e *WarrantCommitment) parseBody(r *reader) {
	e.Commitment = r.hash("Commitment")
	e.PolicyID = r.hash("PolicyID")
	e.Court = r.str("Court")
	e.Jurisdiction = r.str("Jurisdiction")
	e.NumTargets = r.u16("NumTargets")
	e.WindowStart = r.u64("WindowStart")
	e.WindowEnd = r.u64("WindowEnd")
	e.EmbargoEnd = r.u64("EmbargoEnd")
	e.Filed = r.u64("Filed")
}

// Release logs a trustee's release of shares for Count escrow records of a
// warrant (A3, A5, A12). Signature is the trustee's signature over
// SignedMessage(), the entry's encoding without the Signature field.
type Release struct {
	WarrantCommitment [32]byte
	Trustee           string
	Count             uint32
	RecordsHash       [32]byte // hash of the released record ids, defined by trustee/
	Time              uint64
	Signature         []byte
}

func (*Release) Type() Type          { return TypeRelease }
func (e *Release) EntryTime() uint64 { return e.Time }
func (e *Release) marshalBody(w *writer) {
	w.hash(e.WarrantCommitment)
	w.str("Trustee", e.Trustee)
	w.u32(e.Count)
	w.hash(e.RecordsHash)
	w.u64(e.Time)
	if !w.unsigned {
		w.bytes("Signature", e.Signature)
	}
}
func (e *Release) parseBody(r *reader) {
	e.WarrantCommitment = r.hash("WarrantCommitment")
	e.Trustee = r.str("Trustee")
	e.Count = r.u32("Count")
	e.RecordsHash = r.hash("RecordsHash")
	e.Time = r.u64("Time")
	e.Signature = r.bytes("Signature")
}

// SignedMessage returns the bytes the trustee signs: the entry's encoding
// (envelope included, so the message is domain-separated by magic, version
// and type) up to and excluding the Signature field.
func (e *Release) SignedMessage() ([]byte, error) { return marshal(e, true) }

// Opening logs the opening of a warrant to its target at the embargo end
// (A7). Sealed is encrypted to the target account's key; clients find theirs
// by trial decryption.
type Opening struct {
	WarrantCommitment [32]byte
	Trustee           string
	Time              uint64
	Sealed            []byte
}

func (*Opening) Type() Type          { return TypeOpening }
func (e *Opening) EntryTime() uint64 { return e.Time }
func (e *Opening) marshalBody(w *writer) {
	w.hash(e.WarrantCommitment)
	w.str("Trustee", e.Trustee)
	w.u64(e.Time)
	w.bytes("Sealed", e.Sealed)
}
func (e *Opening) parseBody(r *reader) {
	e.WarrantCommitment = r.hash("WarrantCommitment")
	e.Trustee = r.str("Trustee")
	e.Time = r.u64("Time")
	e.Sealed = r.bytes("Sealed")
}

// EvidenceKind says what an Evidence entry commits to.
type EvidenceKind uint8

// Evidence kinds. Values are part of the wire format.
const (
	EvidenceBundle           EvidenceKind = 1 // an evidence bundle produced by an authority
	EvidenceAbuseReport      EvidenceKind = 2 // a franked abuse report acted on by the provider
	EvidenceNonContentAnswer EvidenceKind = 3 // an answer to a non-content (metadata) request
)

func (k EvidenceKind) String() string {
	switch k {
	case EvidenceBundle:
		return "bundle"
	case EvidenceAbuseReport:
		return "abuse-report"
	case EvidenceNonContentAnswer:
		return "non-content-answer"
	}
	return fmt.Sprintf("EvidenceKind(%d)", uint8(k))
}

// Evidence logs the digest of an evidence artefact so it cannot be altered
// or back-dated later.
type Evidence struct {
	Kind         EvidenceKind
	Digest       [32]byte
	Jurisdiction string
	Time         uint64
	Ref          string // case or request reference (no personal data)
}

func (*Evidence) Type() Type          { return TypeEvidence }
func (e *Evidence) EntryTime() uint64 { return e.Time }
func (e *Evidence) marshalBody(w *writer) {
	if w.err == nil && (e.Kind < EvidenceBundle || e.Kind > EvidenceNonContentAnswer) {
		w.err = fmt.Errorf("accesslog: Evidence.Kind %d: %w", e.Kind, ErrUnknownKind)
		return
	}
	w.u8(uint8(e.Kind))
	w.hash(e.Digest)
	w.str("Jurisdiction", e.Jurisdiction)
	w.u64(e.Time)
	w.str("Ref", e.Ref)
}
func (e *Evidence) parseBody(r *reader) {
	e.Kind = EvidenceKind(r.u8("Kind"))
	if r.err == nil && (e.Kind < EvidenceBundle || e.Kind > EvidenceNonContentAnswer) {
		r.fail("Kind", fmt.Errorf("%d: %w", e.Kind, ErrUnknownKind))
	}
	e.Digest = r.hash("Digest")
	e.Jurisdiction = r.str("Jurisdiction")
	e.Time = r.u64("Time")
	e.Ref = r.str("Ref")
}

// KeyDirectory logs a key-transparency directory root per epoch (keydir/).
// Signature is the directory key's signature over SignedMessage().
type KeyDirectory struct {
	Epoch     uint64
	Root      [32]byte
	Time      uint64
	Signature []byte
}

func (*KeyDirectory) Type() Type          { return TypeKeyDirectory }
func (e *KeyDirectory) EntryTime() uint64 { return e.Time }
func (e *KeyDirectory) marshalBody(w *writer) {
	w.u64(e.Epoch)
	w.hash(e.Root)
	w.u64(e.Time)
	if !w.unsigned {
		w.bytes("Signature", e.Signature)
	}
}
func (e *KeyDirectory) parseBody(r *reader) {
	e.Epoch = r.u64("Epoch")
	e.Root = r.hash("Root")
	e.Time = r.u64("Time")
	e.Signature = r.bytes("Signature")
}

// SignedMessage returns the bytes the directory key signs: the entry's
// encoding up to and excluding the Signature field.
func (e *KeyDirectory) SignedMessage() ([]byte, error) { return marshal(e, true) }

// Request logs a state change of a cross-border legal request (intake/). The
// state names are defined by intake/; this package keeps them opaque.
type Request struct {
	RequestID    [32]byte
	Jurisdiction string
	Authority    string
	Instrument   string
	Category     string
	State        string
	Reason       string
	Time         uint64
}

func (*Request) Type() Type          { return TypeRequest }
func (e *Request) EntryTime() uint64 { return e.Time }
func (e *Request) marshalBody(w *writer) {
	w.hash(e.RequestID)
	w.str("Jurisdiction", e.Jurisdiction)
	w.str("Authority", e.Authority)
	w.str("Instrument", e.Instrument)
	w.str("Category", e.Category)
	w.str("State", e.State)
	w.str("Reason", e.Reason)
	w.u64(e.Time)
}
func (e *Request) parseBody(r *reader) {
	e.RequestID = r.hash("RequestID")
	e.Jurisdiction = r.str("Jurisdiction")
	e.Authority = r.str("Authority")
	e.Instrument = r.str("Instrument")
	e.Category = r.str("Category")
	e.State = r.str("State")
	e.Reason = r.str("Reason")
	e.Time = r.u64("Time")
}

// TrusteeKey logs a trustee's escrow public key for one key period and the
// time by which the trustee promises to destroy the private key (A6, bounded
// lookback). Added beyond the brief: without it the lookback promise is not
// on the record, and clients could not check that escrow records are
// encrypted to a key whose destruction date was published in advance.
// Signature is the trustee's signature over SignedMessage().
type TrusteeKey struct {
	Trustee   string
	Period    uint64
	PublicKey []byte // X-Wing public key (escrow/)
	NotBefore uint64 // start of the period, unix seconds
	NotAfter  uint64 // end of the period
	DestroyBy uint64 // the private key is destroyed by this time (NotAfter + lookback)
	Time      uint64
	Signature []byte
}

func (*TrusteeKey) Type() Type          { return TypeTrusteeKey }
func (e *TrusteeKey) EntryTime() uint64 { return e.Time }
func (e *TrusteeKey) marshalBody(w *writer) {
	w.str("Trustee", e.Trustee)
	w.u64(e.Period)
	w.bytes("PublicKey", e.PublicKey)
	w.u64(e.NotBefore)
	w.u64(e.NotAfter)
	w.u64(e.DestroyBy)
	w.u64(e.Time)
	if !w.unsigned {
		w.bytes("Signature", e.Signature)
	}
}
func (e *TrusteeKey) parseBody(r *reader) {
	e.Trustee = r.str("Trustee")
	e.Period = r.u64("Period")
	e.PublicKey = r.bytes("PublicKey")
	e.NotBefore = r.u64("NotBefore")
	e.NotAfter = r.u64("NotAfter")
	e.DestroyBy = r.u64("DestroyBy")
	e.Time = r.u64("Time")
	e.Signature = r.bytes("Signature")
}

// SignedMessage returns the bytes the trustee signs: the entry's encoding up
// to and excluding the Signature field.
func (e *TrusteeKey) SignedMessage() ([]byte, error) { return marshal(e, true) }

// Jurisdiction returns the jurisdiction an entry names directly, or "" for
// entry types that name none (Release and Opening inherit theirs from the
// warrant commitment they reference).
func Jurisdiction(e Entry) string {
	switch e := e.(type) {
	case *WarrantCommitment:
		return e.Jurisdiction
	case *Evidence:
		return e.Jurisdiction
	case *Request:
		return e.Jurisdiction
	}
	return ""
}
