package intake

import (
	"crypto/ed25519"
	"fmt"
	"slices"
)

// Check checks a parsed, signed request against the agreements at time now
// (unix seconds). It returns nil if the request may proceed, or a *Refusal
// naming the first rule it breaks, in this order: unknown agreement, wrong
// authority, bad signature, forbidden category, too many targets, protected
// person, offence not covered, missing domestic review, past deadline.
func Check(ags *Agreements, s *Signed, r *Request, now uint64) *Refusal {
	ag, ok := ags.Agreement(r.Agreement)
	if !ok {
		return &Refusal{ReasonUnknownAgreement, fmt.Sprintf("no agreement %q is in force", r.Agreement)}
	}
	au, ok := ag.authority(r.Authority)
	if !ok {
		return &Refusal{ReasonWrongAuthority, fmt.Sprintf("authority %q may not request under agreement %q", r.Authority, ag.ID)}
	}
	if !ed25519.Verify(ed25519.PublicKey(au.Key), SignedMessage(s.Body), s.Signature) {
		return &Refusal{ReasonBadSignature, fmt.Sprintf("the signature does not verify under %q's key", au.ID)}
	}
	if !slices.Contains(ag.Categories, r.Category) {
		return &Refusal{ReasonForbiddenCategory, fmt.Sprintf("agreement %q does not cover %s data", ag.ID, r.Category)}
	}
	if len(r.Targets) > ag.MaxTargets {
		return &Refusal{ReasonTooManyTargets, fmt.Sprintf("%d targets, agreement %q allows %d", len(r.Targets), ag.ID, ag.MaxTargets)}
	}
	for i, t := range r.Targets {
		if slices.Contains(ag.ProtectedNationalities, t.Nationality) || slices.Contains(ag.ProtectedNationalities, t.Location) {
			return &Refusal{ReasonProtectedPerson, fmt.Sprintf("targets[%d] is a protected person under agreement %q", i, ag.ID)}
		}
		if ag.Instrument == CloudActDAA && (t.Nationality == "" || t.Location == "") {
			// Executive agreements require the authority to establish that the
			// target is not a protected person; unknown is not enough.
			return &Refusal{ReasonProtectedPerson, fmt.Sprintf("targets[%d]: nationality and location must be stated under %s", i, ag.Instrument)}
		}
	}
	if len(ag.Offences) > 0 && !slices.Contains(ag.Offences, r.Offence) {
		return &Refusal{ReasonOffenceNotCovered, fmt.Sprintf("offence %q is not a serious-crime category of agreement %q", r.Offence, ag.ID)}
	}
	if ag.RequiredReview != "" && (r.Review == nil || r.Review.Kind != ag.RequiredReview || r.Review.Reference == "") {
		return &Refusal{ReasonMissingReview, fmt.Sprintf("agreement %q requires a %s review with a reference", ag.ID, ag.RequiredReview)}
	}
	if now > r.AnswerBy {
		return &Refusal{ReasonPastDeadline, fmt.Sprintf("received after its answer-by time %d", r.AnswerBy)}
	}
	return nil
}
