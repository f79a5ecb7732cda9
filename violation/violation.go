// Package violation decides whether a matched report is a candidate
// ceasefire violation, and says why in a short machine-readable reason that
// storage keeps beside the flag.
//
// A report is a candidate violation when
//
//  1. it lies in a zone in force at observed_at whose kind is protected
//     (Rules.Kinds: ceasefire and de_escalation by default), and in no
//     excluded_area zone;
//  2. its category is an act of hostilities (report.Category.Hostile);
//  3. its perpetrator is not excluded from the arrangements: neither of an
//     excluded side (excluded_group by default) nor named like an excluded
//     group (ISIS, Jabhat al-Nusra, HTS, al-Qaeda, ... by default).
//
// A zone hit that is only Possible (the location's uncertainty crosses the
// zone boundary) counts unless Rules.IgnorePossible is set; its reason says
// possibly_in_zone instead of in_zone.
//
// Reasons:
//
//	in_zone:astana-4,nationwide-2016;hostile:shelling
//	possibly_in_zone:astana-1;hostile:airstrike
//	not_violation:no_zone
//	not_violation:excluded_area:<zone id>
//	not_violation:possibly_in_zone:<zone ids>     (with IgnorePossible)
//	not_violation:not_hostile:arrest             (or :none without a category)
//	not_violation:excluded_perpetrator
package violation

import (
	"slices"
	"strings"
	"unicode"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/report"
)

// defaultKinds are the zone kinds in which hostile acts are violations.
var defaultKinds = []string{geo.KindCeasefire, geo.KindDeEscalation}

// defaultExcludedSides are the perpetrator sides that no Syrian ceasefire
// covers.
var defaultExcludedSides = []report.Side{report.ExcludedGroup}

// defaultExcludedActors: see DefaultExcludedActors.
var defaultExcludedActors = []string{
	"ISIS", "ISIL", "=IS", "Islamic State", "Daesh", "Da'esh", "Daish",
	"Jabhat al-Nusra", "al-Nusra", "Nusra Front", "Jabhat Fateh al-Sham", "Jabhat Fatah al-Sham",
	"Hayat Tahrir al-Sham", "Hay'at Tahrir al-Sham", "Tahrir al-Sham", "HTS",
	"al-Qaeda", "al-Qaida", "al Qaeda", "Hurras al-Din", "Hurras ad-Din",
}

// DefaultKinds returns the zone kinds in which hostile acts are
// violations: ceasefire and de_escalation (a new slice).
func DefaultKinds() []string { return slices.Clone(defaultKinds) }

// DefaultExcludedSides returns the perpetrator sides that no Syrian
// ceasefire covers: excluded_group (a new slice).
func DefaultExcludedSides() []report.Side { return slices.Clone(defaultExcludedSides) }

// DefaultExcludedActors returns the names of groups excluded from the
// 30 December 2016 ceasefire and the Astana zones, ISIS and al-Qaeda-linked
// groups (a new slice). A name matches case-insensitively as a sequence of
// whole words, punctuation ignored ("Hay'at Tahrir al-Sham" matches "hayat
// tahrir al sham"); a name starting with '=' must be the whole actor name
// (UCDP calls the Islamic State "IS").
func DefaultExcludedActors() []string { return slices.Clone(defaultExcludedActors) }

// Rules configure Classify. The zero value uses the defaults.
type Rules struct {
	Kinds          []string      // protected zone kinds; nil = DefaultKinds()
	ExcludedSides  []report.Side // nil = DefaultExcludedSides()
	ExcludedActors []string      // nil = DefaultExcludedActors()
	IgnorePossible bool          // Possible zone hits do not make a violation

	// patterns are ExcludedActors normalized once by Compile, so that the
	// per-report check does not normalize constants again (it was a tenth
	// of ingest's CPU).
	patterns []pattern
}

type pattern struct {
	q      string // normalized
	padded string // " " + q + " ", to find it as whole words
	whole  bool   // must be the whole name
}

func compile(names []string) []pattern {
	ps := make([]pattern, 0, len(names))
	for _, p := range names {
		q := normalize(strings.TrimPrefix(p, "="))
		if q != "" {
			ps = append(ps, pattern{q: q, padded: " " + q + " ", whole: strings.HasPrefix(p, "=")})
		}
	}
	return ps
}

// Compile returns r with its actor patterns prepared; Classify is the same
// with or without it, only faster. Call it again after changing
// ExcludedActors.
func (r Rules) Compile() Rules {
	names := r.ExcludedActors
	if names == nil {
		names = defaultExcludedActors
	}
	r.patterns = compile(names)
	return r
}

// DefaultRules returns the default rules, spelled out and compiled.
func DefaultRules() Rules {
	return Rules{
		Kinds:          DefaultKinds(),
		ExcludedSides:  DefaultExcludedSides(),
		ExcludedActors: DefaultExcludedActors(),
	}.Compile()
}

// Classify says whether rep, matched as m, is a candidate violation, and
// why.
func (r Rules) Classify(rep *report.Report, m *geo.Match) (violation bool, reason string) {
	kinds := r.Kinds
	if kinds == nil {
		kinds = defaultKinds
	}
	var in, possible []string
	for _, h := range m.Zones {
		if h.Kind == geo.KindExcludedArea && !h.Possible {
			return false, "not_violation:excluded_area:" + h.ID
		}
		if !slices.Contains(kinds, h.Kind) {
			continue
		}
		if h.Possible {
			possible = append(possible, h.ID)
		} else {
			in = append(in, h.ID)
		}
	}
	var where string
	switch {
	case len(in) > 0:
		where = "in_zone:" + strings.Join(in, ",")
	case len(possible) > 0 && r.IgnorePossible:
		return false, "not_violation:possibly_in_zone:" + strings.Join(possible, ",")
	case len(possible) > 0:
		where = "possibly_in_zone:" + strings.Join(possible, ",")
	default:
		return false, "not_violation:no_zone"
	}
	if !rep.Category.Hostile() {
		c := string(rep.Category)
		if c == "" {
			c = "none"
		}
		return false, "not_violation:not_hostile:" + c
	}
	if r.Excluded(rep.Perpetrator) {
		return false, "not_violation:excluded_perpetrator"
	}
	return true, where + ";hostile:" + string(rep.Category)
}

// Excluded reports whether an actor is excluded from the ceasefires, by
// side or by name.
func (r Rules) Excluded(a report.Actor) bool {
	sides := r.ExcludedSides
	if sides == nil {
		sides = defaultExcludedSides
	}
	for _, s := range sides {
		if a.Side == s {
			return true
		}
	}
	if a.Name == "" {
		return false
	}
	ps := r.patterns
	if ps == nil {
		names := r.ExcludedActors
		if names == nil {
			names = defaultExcludedActors
		}
		ps = compile(names)
	}
	return matches(a.Name, ps)
}

// NameMatches reports whether name matches one of patterns (see
// DefaultExcludedActors for the rule).
func NameMatches(name string, patterns []string) bool {
	return matches(name, compile(patterns))
}

func matches(name string, ps []pattern) bool {
	n := normalize(name)
	if n == "" {
		return false
	}
	padded := " " + n + " "
	for _, p := range ps {
		if p.whole {
			if n == p.q {
				return true
			}
		} else if strings.Contains(padded, p.padded) {
			return true
		}
	}
	return false
}

// normalize lowercases s, drops apostrophes and turns every other
// non-alphanumeric run into one space.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c == '\'' || c == '’' || c == '‘' || c == 'ʿ' || c == 'ʾ' || c == '`':
			continue
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(c)
		default:
			space = true
		}
	}
	return b.String()
}
