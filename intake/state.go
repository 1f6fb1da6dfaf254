package intake

import (
	"errors"
	"fmt"
)

// State is a request's state. The names are what Request entries in the
// access log carry (accesslog.Request.State) and what the report counts.
type State string

// States.
const (
	Received           State = "received"             // arrived, not yet checked
	Validated          State = "validated"            // checked against its agreement
	Refused            State = "refused"              // refused, with a reason code
	Logged             State = "logged"               // accepted and on the record, awaiting an answer
	UnderTrusteeReview State = "under-trustee-review" // content: in the trustee quorum flow (Reason names the warrant commitment)
	Fulfilled          State = "fulfilled"            // answered
	Appealed           State = "appealed"             // the authority appealed a refusal
)

// next is the state machine: the states each state may move to (nil for a
// final state; ok false for an unknown state).
func next(s State) (to []State, ok bool) {
	switch s {
	case Received:
		return []State{Validated, Refused}, true
	case Validated:
		return []State{Logged, Refused}, true
	case Logged:
		return []State{UnderTrusteeReview, Fulfilled, Refused}, true
	case UnderTrusteeReview:
		return []State{Fulfilled, Refused}, true
	case Refused:
		return []State{Appealed}, true
	case Appealed:
		return []State{Validated, Refused}, true
	case Fulfilled:
		return nil, true
	}
	return nil, false
}

// ErrIllegalTransition is returned for a state change the machine forbids.
var ErrIllegalTransition = errors.New("intake: illegal state transition")

// Valid reports whether s is a known state.
func (s State) Valid() bool { _, ok := next(s); return ok }

// Final reports whether s is an answer (the report's "time to answer" ends
// at the first Fulfilled or Refused).
func (s State) Final() bool { return s == Fulfilled || s == Refused }

// CanMove reports whether the machine allows from -> to.
func CanMove(from, to State) error {
	to2, ok := next(from)
	if !ok {
		return fmt.Errorf("%w: unknown state %q", ErrIllegalTransition, from)
	}
	for _, n := range to2 {
		if n == to {
			return nil
		}
	}
	return fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, from, to)
}

// Reason is a refusal reason code, logged in the Request entry's Reason
// field and counted in the transparency report.
type Reason string

// Refusal reasons.
const (
	ReasonUnknownAgreement  Reason = "unknown-agreement"
	ReasonWrongAuthority    Reason = "wrong-authority"
	ReasonBadSignature      Reason = "bad-signature"
	ReasonForbiddenCategory Reason = "forbidden-category"
	ReasonProtectedPerson   Reason = "protected-person"
	ReasonMissingReview     Reason = "missing-review"
	ReasonPastDeadline      Reason = "past-deadline"
	ReasonTooManyTargets    Reason = "too-many-targets"
	ReasonOffenceNotCovered Reason = "offence-not-covered"
	ReasonTrusteesRefused   Reason = "trustees-refused"
	ReasonProviderDecision  Reason = "provider-decision" // e.g. after legal review; detail kept in the record
)

// Refusal is a refusal with its reason code and a human-readable detail.
// The detail stays in the intake record; only the code goes to the log.
type Refusal struct {
	Code   Reason
	Detail string
}

func (r *Refusal) Error() string { return fmt.Sprintf("refused (%s): %s", r.Code, r.Detail) }
