package api

// Escrow record routes (docs/lawful-access.md, "Upload"; A8, T8, T9). A member
// device uploads the escrow record of an epoch of its group as raw bytes
// (MediaBinary); the DS parses it strictly, deduplicates identical records and
// keeps at most one, unchangeable, candidate per device and (group, epoch).
// Members list the candidates to verify them byte for byte.
const (
	RouteEscrowUpload = "POST /v1/escrow"
	RouteEscrowList   = "GET /v1/groups/{group}/epochs/{epoch}/escrow"
)

// EscrowReceipt answers RouteEscrowUpload.
type EscrowReceipt struct {
	ID      []byte `json:"id"` // escrow.RecordID of the record, 32 bytes
	Epoch   uint64 `json:"epoch"`
	Created bool   `json:"created"` // false: the DS already held these bytes
}

// EscrowListIDsOnly is the RouteEscrowList query ("?ids=1") that leaves out
// the records: a member first compares the id of the record it computed
// itself (records are deterministic, so an equal id is a byte-for-byte
// match) and downloads the candidates only when its own is not among them.
const EscrowListIDsOnly = "ids=1"

// EscrowCandidate is one distinct record held for a (group, epoch).
type EscrowCandidate struct {
	ID        []byte     `json:"id"`
	Record    []byte     `json:"record,omitempty"` // absent with EscrowListIDsOnly
	Uploaders []DeviceID `json:"uploaders"`
	FirstMs   int64      `json:"first_ms"`
}

// EscrowCandidates answers RouteEscrowList: candidates by first upload.
type EscrowCandidates struct {
	Candidates []EscrowCandidate `json:"candidates"`
}

// Epoch statement routes (A4, T11): the committer uploads its signed
// trustee.CommitStatement of the epoch its commit started (MediaBinary); a
// member reads the evidence of an epoch (trustee.EncodeEpochEvidence form).
const (
	RouteEpochStatement = "POST /v1/epochs"
	RouteEpochEvidence  = "GET /v1/groups/{group}/epochs/{epoch}/evidence"
)

// EpochEvidence answers RouteEpochEvidence.
type EpochEvidence struct {
	Evidence []byte `json:"evidence"`
}
