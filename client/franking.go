package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/moderation"
)

// Message franking (docs/franking.md, docs/moderation.md): every application
// message this client sends carries a franking commitment in its
// authenticated_data, and every application message it accepts opens its
// commitment for the MLS-authenticated sender. A message that does not is
// dropped: an honest recipient never shows content it could not report.
// The plaintext, franking key and the provider's stamp are kept beside the
// history entry (groupState.Franks) so the message can be reported later.

// frankRecord is what a report of one received message reveals.
type frankRecord struct {
	Plain []byte `json:"plain"` // the franked application_data plaintext
	Key   []byte `json:"key"`   // franking key kf
	Stamp []byte `json:"stamp,omitempty"`
}

// ErrSuspended is returned when the provider refuses a send because a
// moderator suspended this account.
var ErrSuspended = errors.New("account suspended by the provider")

// ErrNotReportable: the message has no franking record and stamp (an own
// message, an event, or one the provider did not stamp).
var ErrNotReportable = errors.New("client: message cannot be reported")

// frankSender is the franking sender for an account's device, as the DS
// stamps it (ds.StampSender).
func frankSender(user string, dev api.DeviceID) franking.Sender {
	return ds.StampSender(ds.Principal{Username: user, Device: ds.DeviceID(dev)})
}

// frank frames an own payload: the application_data to encrypt and the
// commitment for authenticated_data.
func (c *Client) frank(gs *groupState, pt []byte) (content, aad []byte, err error) {
	content, cm, err := franking.Protect(c.cfg.Rand, gs.ID, frankSender(c.prof.Username, c.prof.DeviceID), pt)
	if err != nil {
		return nil, nil, err
	}
	return content, cm[:], nil
}

// unfrank is the check on receipt: it opens the commitment in aad for the
// MLS-authenticated sender (user, dev) and checks the delivered stamp (if the
// provider stamps) is for this commitment, sender and group. Any error means
// the message must be dropped.
func unfrank(groupID []byte, user string, dev api.DeviceID, aad, content, stamp []byte) ([]byte, *frankRecord, error) {
	if len(aad) != franking.CommitmentSize {
		return nil, nil, fmt.Errorf("%w: no franking commitment", franking.ErrCommitment)
	}
	cm := franking.Commitment(aad)
	s := frankSender(user, dev)
	pt, key, err := franking.Unprotect(content, cm, groupID, s)
	if err != nil {
		return nil, nil, err
	}
	rec := &frankRecord{Plain: pt, Key: key}
	switch {
	case len(stamp) == 0:
	case len(stamp) == franking.DeliveredSize:
		// The delivered form (time and tag): the rest is this message's
		// commitment, MLS sender and group, so the rebuilt stamp names them
		// by construction; only the provider can check the tag, on a report.
		st, err := franking.Rebuild(stamp, cm, groupID, s)
		if err != nil {
			return nil, nil, err
		}
		rec.Stamp = st.Marshal()
	default:
		// A full stamp (servers before the delivered form).
		st, err := franking.ParseStamp(stamp)
		if err != nil {
			return nil, nil, err
		}
		if err := st.Matches(cm, groupID, s); err != nil {
			return nil, nil, err
		}
		rec.Stamp = stamp
	}
	return pt, rec, nil
}

// sendError maps the provider's refusal of a suspended account.
func sendError(err error) error {
	if api.HasCode(err, api.CodeSuspended) {
		return fmt.Errorf("%w: %w", ErrSuspended, err)
	}
	return err
}

// ReportResult answers a report the provider accepted.
type ReportResult struct {
	ID      string `json:"id"`
	Group   string `json:"group"`
	Message int    `json:"message"`
	Context []int  `json:"context,omitempty"` // history ids sent as context
	Reason  string `json:"reason"`
}

// Report sends the provider an abuse report of message msgID in group ref
// (moderation.RouteReport): its franked plaintext, franking key and stamp,
// and those of up to contextN earlier reportable messages of the group. The
// provider verifies each against its stamp key; nothing else is revealed.
func (c *Client) Report(ctx context.Context, ref string, msgID int, reason, comment string, contextN int) (ReportResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return ReportResult{}, err
	}
	gs, err := c.resolveGroup(ref)
	if err != nil {
		return ReportResult{}, err
	}
	encode := func(id int) ([]byte, error) {
		fr := gs.Franks[id]
		if fr == nil || len(fr.Stamp) == 0 {
			return nil, fmt.Errorf("%w: message %d has no provider stamp (own messages and events cannot be reported)", ErrNotReportable, id)
		}
		st, err := franking.ParseStamp(fr.Stamp)
		if err != nil {
			return nil, err
		}
		return (&franking.Report{Plaintext: fr.Plain, Key: fr.Key, Stamp: *st}).Marshal()
	}
	msg, err := encode(msgID)
	if err != nil {
		return ReportResult{}, err
	}
	req := moderation.ReportRequest{Message: msg, Reason: reason, Comment: comment}
	res := ReportResult{Group: gs.hexID(), Message: msgID, Reason: reason}
	for id := msgID - 1; id > 0 && len(res.Context) < contextN; id-- {
		if b, err := encode(id); err == nil {
			req.Context = append(req.Context, b)
			res.Context = append(res.Context, id)
		}
	}
	slices.Reverse(req.Context)
	slices.Reverse(res.Context)
	var out moderation.ReportResponse
	if err := c.tr.PostJSON(ctx, strings.TrimPrefix(moderation.RouteReport, "POST "), req, &out); err != nil {
		return ReportResult{}, fmt.Errorf("report: %w", err)
	}
	res.ID = out.ID
	return res, nil
}
