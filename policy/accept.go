package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Change is one difference between two policies, for display to a user.
type Change struct {
	Field    string // e.g. "k", "trustees[gov-oversight]", "budgets.max_window"
	Old, New string
	// Material is false only for changes that do not weaken anything a user
	// relied on: new trustee keys for future key periods, and dropping keys of
	// past periods (destruction after the lookback).
	Material bool
}

func (c Change) String() string { return fmt.Sprintf("%s: %s -> %s", c.Field, c.Old, c.New) }

func keyFP(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

// Diff lists the differences from old to new (old may be nil: everything is new).
func Diff(old, new *Policy) []Change {
	var out []Change
	add := func(field, o, n string, material bool) {
		if o != n {
			out = append(out, Change{Field: field, Old: o, New: n, Material: material})
		}
	}
	if old == nil {
		old = &Policy{}
	}
	add("name", old.Name, new.Name, false)
	add("no_escrow", fmt.Sprint(old.NoEscrow), fmt.Sprint(new.NoEscrow), true)
	add("provider", keyFP(old.Provider), keyFP(new.Provider), true)
	add("k", fmt.Sprint(old.K), fmt.Sprint(new.K), true)
	add("n", fmt.Sprint(len(old.Trustees)), fmt.Sprint(len(new.Trustees)), true)
	add("w", fmt.Sprint(old.W), fmt.Sprint(new.W), true)
	add("periods", fmt.Sprint(old.Periods), fmt.Sprint(new.Periods), true)
	add("log", old.Log.Origin+" "+old.Log.VerifierKey, new.Log.Origin+" "+new.Log.VerifierKey, true)

	trusteeDesc := func(t Trustee) string { return t.Jurisdiction + " key " + keyFP(t.SigningKey) }
	oldT := map[string]Trustee{}
	for i, t := range old.Trustees {
		oldT[t.ID] = t
		if i >= len(new.Trustees) || new.Trustees[i].ID != t.ID {
			add("trustee_order", strings.Join(trusteeIDs(old.Trustees), ","), strings.Join(trusteeIDs(new.Trustees), ","), true)
			break
		}
	}
	for _, t := range new.Trustees {
		o, ok := oldT[t.ID]
		if !ok {
			add("trustees["+t.ID+"]", "(none)", trusteeDesc(t), true)
			continue
		}
		delete(oldT, t.ID)
		add("trustees["+t.ID+"]", trusteeDesc(o), trusteeDesc(t), true)
		oldKeys := map[uint32][]byte{}
		for _, k := range o.PeriodKeys {
			oldKeys[k.Period] = k.Key
		}
		for _, k := range t.PeriodKeys {
			ok, had := oldKeys[k.Period]
			switch {
			case !had:
				lastOld := uint32(0)
				if len(o.PeriodKeys) > 0 {
					lastOld = o.PeriodKeys[len(o.PeriodKeys)-1].Period
				}
				// A key for a period after all old ones is a routine rollover.
				add(fmt.Sprintf("trustees[%s].period_keys[%d]", t.ID, k.Period), "(none)", keyFP(k.Key), k.Period <= lastOld)
			case !bytes.Equal(ok, k.Key):
				add(fmt.Sprintf("trustees[%s].period_keys[%d]", t.ID, k.Period), keyFP(ok), keyFP(k.Key), true)
			}
			delete(oldKeys, k.Period)
		}
		for period, k := range oldKeys {
			// Dropping a key only removes access (destruction after lookback),
			// but only for periods before every remaining one.
			material := len(t.PeriodKeys) == 0 || period > t.PeriodKeys[0].Period
			add(fmt.Sprintf("trustees[%s].period_keys[%d]", t.ID, period), keyFP(k), "(removed)", material)
		}
	}
	for id, t := range oldT {
		add("trustees["+id+"]", trusteeDesc(t), "(removed)", true)
	}

	oldC := map[string]Court{}
	for _, c := range old.Courts {
		oldC[c.ID] = c
	}
	for _, c := range new.Courts {
		d := c.Jurisdiction + " key " + keyFP(c.Key)
		if o, ok := oldC[c.ID]; ok {
			add("courts["+c.ID+"]", o.Jurisdiction+" key "+keyFP(o.Key), d, true)
			delete(oldC, c.ID)
		} else {
			add("courts["+c.ID+"]", "(none)", d, true)
		}
	}
	for id, c := range oldC {
		add("courts["+id+"]", c.Jurisdiction+" key "+keyFP(c.Key), "(removed)", true)
	}

	oldW := map[string]string{}
	for _, w := range old.Witnesses {
		oldW[w.Name] = w.VerifierKey
	}
	for _, w := range new.Witnesses {
		if o, ok := oldW[w.Name]; ok {
			add("witnesses["+w.Name+"]", o, w.VerifierKey, true)
			delete(oldW, w.Name)
		} else {
			add("witnesses["+w.Name+"]", "(none)", w.VerifierKey, true)
		}
	}
	for n, k := range oldW {
		add("witnesses["+n+"]", k, "(removed)", true)
	}

	ob, nb := old.Budgets, new.Budgets
	for _, f := range []struct {
		name string
		o, n uint64
	}{
		{"records_per_warrant", uint64(ob.RecordsPerWarrant), uint64(nb.RecordsPerWarrant)},
		{"records_per_jurisdiction_30d", uint64(ob.RecordsPerJurisdiction30d), uint64(nb.RecordsPerJurisdiction30d)},
		{"records_overall_30d", uint64(ob.RecordsOverall30d), uint64(nb.RecordsOverall30d)},
		{"max_targets", uint64(ob.MaxTargets), uint64(nb.MaxTargets)},
		{"max_window", ob.MaxWindow, nb.MaxWindow},
		{"max_embargo", ob.MaxEmbargo, nb.MaxEmbargo},
		{"lookback", ob.Lookback, nb.Lookback},
		{"epoch_max_age", ob.EpochMaxAge, nb.EpochMaxAge},
		{"retention_grace", ob.RetentionGrace, nb.RetentionGrace},
		{"historic_retention", ob.HistoricRetention, nb.HistoricRetention},
	} {
		add("budgets."+f.name, fmt.Sprint(f.o), fmt.Sprint(f.n), true)
	}
	return out
}

func trusteeIDs(ts []Trustee) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// Limits are a client's own bounds: a policy outside them is refused outright.
// Zero means "no limit" for maxima and "no requirement" for minima.
type Limits struct {
	AllowNoEscrow        bool
	AllowEscrow          bool
	MinK                 uint8
	MinW                 uint8
	MinJurisdictions     int // distinct trustee jurisdictions
	MaxRecordsOverall30d uint32
	MaxWindow            uint64
	MaxEmbargo           uint64
	MaxLookback          uint64
	MaxHistoricRetention uint64
}

// Decision is the outcome of Check.
type Decision int

const (
	Refuse Decision = iota // never join or stay in a group under this policy
	Ask                    // show the changes and ask the user
	Accept                 // already accepted, or a non-material change of an accepted one
)

func (d Decision) String() string {
	return [...]string{"refuse", "ask", "accept"}[d]
}

// Check decides whether a client accepts policy v for a group (A10, T16).
// accepted are the ids the user has accepted before; prev is the policy the
// group used until now (nil for a new group). A policy outside the limits is
// refused with a reason; an accepted one is accepted; a change from an
// accepted prev that is not material (key rollover) is accepted; anything
// else is shown (the returned changes) and asked.
func Check(v *Verified, prev *Verified, accepted map[ID]bool, lim Limits) (Decision, []Change, error) {
	p := v.Policy
	switch {
	case p.NoEscrow && !lim.AllowNoEscrow:
		return Refuse, nil, fmt.Errorf("%w: no-escrow policies are not accepted by this client", ErrInvalid)
	case !p.NoEscrow && !lim.AllowEscrow:
		return Refuse, nil, fmt.Errorf("%w: escrow policies are not accepted by this client", ErrInvalid)
	}
	if !p.NoEscrow {
		juris := map[string]bool{}
		for _, t := range p.Trustees {
			juris[t.Jurisdiction] = true
		}
		bu := p.Budgets
		for _, c := range []struct {
			bad  bool
			what string
		}{
			{p.K < lim.MinK, fmt.Sprintf("k=%d below %d", p.K, lim.MinK)},
			{p.W < lim.MinW, fmt.Sprintf("w=%d below %d", p.W, lim.MinW)},
			{len(juris) < lim.MinJurisdictions, fmt.Sprintf("%d trustee jurisdictions, want %d", len(juris), lim.MinJurisdictions)},
			{lim.MaxRecordsOverall30d > 0 && (bu.RecordsOverall30d == 0 || bu.RecordsOverall30d > lim.MaxRecordsOverall30d), fmt.Sprintf("records_overall_30d=%d above %d", bu.RecordsOverall30d, lim.MaxRecordsOverall30d)},
			{lim.MaxWindow > 0 && (bu.MaxWindow == 0 || bu.MaxWindow > lim.MaxWindow), fmt.Sprintf("max_window=%ds above %ds", bu.MaxWindow, lim.MaxWindow)},
			{lim.MaxEmbargo > 0 && (bu.MaxEmbargo == 0 || bu.MaxEmbargo > lim.MaxEmbargo), fmt.Sprintf("max_embargo=%ds above %ds", bu.MaxEmbargo, lim.MaxEmbargo)},
			{lim.MaxLookback > 0 && (bu.Lookback == 0 || bu.Lookback > lim.MaxLookback), fmt.Sprintf("lookback=%ds above %ds", bu.Lookback, lim.MaxLookback)},
			{bu.HistoricRetention > lim.MaxHistoricRetention, fmt.Sprintf("historic_retention=%ds above %ds", bu.HistoricRetention, lim.MaxHistoricRetention)},
		} {
			if c.bad {
				return Refuse, nil, fmt.Errorf("%w: outside this client's limits: %s", ErrInvalid, c.what)
			}
		}
	}
	if accepted[v.ID] {
		return Accept, nil, nil
	}
	var old *Policy
	if prev != nil {
		old = prev.Policy
	}
	changes := Diff(old, p)
	if prev != nil && accepted[prev.ID] {
		material := false
		for _, c := range changes {
			material = material || c.Material
		}
		if !material {
			return Accept, changes, nil
		}
	}
	return Ask, changes, nil
}
