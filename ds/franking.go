package ds

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/daylight-im/daylight/franking"
)

// ErrSuspended refuses a send from a suspended account (moderation). It wraps
// ErrForbidden, so transports map it to 403.
var ErrSuspended = fmt.Errorf("ds: account suspended by the provider: %w", ErrForbidden)

// Suspensions tells the DS which accounts a moderator suspended
// (moderation.Service implements it).
type Suspensions interface {
	// Suspended reports whether username may not send. An error refuses the
	// send (fail closed).
	Suspended(ctx context.Context, username string) (bool, error)
}

// Franking is the provider side of message franking (docs/franking.md):
// stamping accepted application messages and refusing suspended accounts.
type Franking struct {
	// Stamper, if set, stamps every accepted application message whose
	// authenticated_data is a franking commitment (32 bytes): the stamp binds
	// the commitment to the sending account, device, group and acceptance time
	// and is delivered with each Delivery. Messages without a commitment are
	// delivered unstamped (they cannot be reported, and franking clients drop
	// them on receipt).
	Stamper *franking.Stamper
	// Suspensions, if set, is consulted before every Send.
	Suspensions Suspensions
}

// admission is Send's franking outcome: the acceptance time and the stamp.
type admission struct {
	at    time.Time
	stamp []byte
}

// admit refuses suspended accounts and stamps application messages.
func (s *Service) admit(ctx context.Context, p Principal, env Envelope, msg []byte) (admission, error) {
	fr := s.cfg.Franking
	adm := admission{at: s.now()}
	if fr.Suspensions != nil {
		susp, err := fr.Suspensions.Suspended(ctx, p.Username)
		if err != nil {
			return admission{}, fmt.Errorf("ds: checking suspension of %q: %w", p.Username, err)
		}
		if susp {
			return admission{}, ErrSuspended
		}
	}
	if fr.Stamper == nil || env.WireFormat != WirePrivateMessage || env.ContentType != ContentApplication {
		return adm, nil
	}
	ad, err := privateAuthenticatedData(msg)
	if err != nil {
		return admission{}, fmt.Errorf("ds: message: %w", err)
	}
	if len(ad) != franking.CommitmentSize {
		return adm, nil
	}
	st, err := fr.Stamper.Stamp(franking.Commitment(ad), StampSender(p), env.GroupID, uint64(adm.at.UnixMilli()))
	if err != nil {
		return admission{}, fmt.Errorf("ds: stamping: %w", err)
	}
	adm.stamp = st.Marshal()
	return adm, nil
}

// StampSender is the franking sender the DS stamps for a principal: the
// account name and the decimal device ID, as in the device's MLS credential
// (Identity). Clients pass the same to franking.Protect and Unprotect.
func StampSender(p Principal) franking.Sender {
	return franking.Sender{Account: p.Username, Device: strconv.FormatInt(int64(p.Device), 10)}
}

var errShort = errors.New("truncated")

// privateAuthenticatedData returns the authenticated_data of an MLSMessage
// holding a PrivateMessage (RFC 9420, Section 6.3.1: group_id<V>, epoch,
// content_type, authenticated_data<V>, ...). Inspect has already checked
// version and wire format.
func privateAuthenticatedData(msg []byte) ([]byte, error) {
	b := msg
	if len(b) < 4 {
		return nil, fmt.Errorf("MLSMessage header: %w: %w", errShort, ErrInvalidMessage)
	}
	b = b[4:] // version, wire_format
	_, b, err := readOpaque(b)
	if err != nil {
		return nil, fmt.Errorf("PrivateMessage.group_id: %w", err)
	}
	if len(b) < 9 {
		return nil, fmt.Errorf("PrivateMessage.epoch: %w: %w", errShort, ErrInvalidMessage)
	}
	ad, _, err := readOpaque(b[9:])
	if err != nil {
		return nil, fmt.Errorf("PrivateMessage.authenticated_data: %w", err)
	}
	return ad, nil
}

// readOpaque reads opaque<V> with the RFC 9420 variable-length header
// (Section 2.1.2), rejecting non-minimal lengths.
func readOpaque(b []byte) (v, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: %w", errShort, ErrInvalidMessage)
	}
	var n uint64
	var hl int
	switch b[0] >> 6 {
	case 0:
		n, hl = uint64(b[0]&0x3f), 1
	case 1:
		if len(b) < 2 {
			return nil, nil, fmt.Errorf("%w: %w", errShort, ErrInvalidMessage)
		}
		n, hl = uint64(b[0]&0x3f)<<8|uint64(b[1]), 2
		if n < 64 {
			return nil, nil, fmt.Errorf("non-minimal length: %w", ErrInvalidMessage)
		}
	case 2:
		if len(b) < 4 {
			return nil, nil, fmt.Errorf("%w: %w", errShort, ErrInvalidMessage)
		}
		n, hl = uint64(b[0]&0x3f)<<24|uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3]), 4
		if n < 16384 {
			return nil, nil, fmt.Errorf("non-minimal length: %w", ErrInvalidMessage)
		}
	default:
		return nil, nil, fmt.Errorf("invalid length prefix: %w", ErrInvalidMessage)
	}
	if uint64(len(b)-hl) < n {
		return nil, nil, fmt.Errorf("%w: %w", errShort, ErrInvalidMessage)
	}
	return b[hl : hl+int(n)], b[hl+int(n):], nil
}
