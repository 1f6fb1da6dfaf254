package transport

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/daylight-im/daylight/api"
)

// PutEscrowRecord uploads the escrow record of an epoch of one of the
// device's groups (api.RouteEscrowUpload). The group and epoch are inside the
// record. A device that already uploaded a different record for that epoch
// gets api.CodeConflict.
func (c *Client) PutEscrowRecord(ctx context.Context, record []byte) (api.EscrowReceipt, error) {
	var out api.EscrowReceipt
	err := c.call(ctx, "POST", "/v1/escrow", true, api.MediaBinary, record, &out)
	return out, err
}

// EscrowRecords lists the escrow record candidates the DS holds for (group,
// epoch) (api.RouteEscrowList), for the caller to verify.
func (c *Client) EscrowRecords(ctx context.Context, groupID []byte, epoch uint64) ([]api.EscrowCandidate, error) {
	var out api.EscrowCandidates
	err := c.call(ctx, "GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(groupID)+"/epochs/"+strconv.FormatUint(epoch, 10)+"/escrow", true, "", nil, &out)
	return out.Candidates, err
}

// EscrowRecordIDs lists the candidates of (group, epoch) without their
// records (api.EscrowListIDsOnly): ids and uploaders only.
func (c *Client) EscrowRecordIDs(ctx context.Context, groupID []byte, epoch uint64) ([]api.EscrowCandidate, error) {
	var out api.EscrowCandidates
	err := c.call(ctx, "GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(groupID)+"/epochs/"+strconv.FormatUint(epoch, 10)+"/escrow?"+api.EscrowListIDsOnly, true, "", nil, &out)
	return out.Candidates, err
}

// PutEpochStatement uploads the committer's signed statement of the epoch
// its commit started (api.RouteEpochStatement).
func (c *Client) PutEpochStatement(ctx context.Context, stmt []byte) error {
	return c.call(ctx, "POST", "/v1/epochs", true, api.MediaBinary, stmt, nil)
}

// EpochEvidence returns the member-signed evidence of (group, epoch)
// (api.RouteEpochEvidence), in trustee.EncodeEpochEvidence form.
func (c *Client) EpochEvidence(ctx context.Context, groupID []byte, epoch uint64) ([]byte, error) {
	var out api.EpochEvidence
	err := c.call(ctx, "GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(groupID)+"/epochs/"+strconv.FormatUint(epoch, 10)+"/evidence", true, "", nil, &out)
	return out.Evidence, err
}
