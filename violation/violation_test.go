package violation

import (
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/report"
)

func TestClassify(t *testing.T) {
	in := func(ids ...string) *geo.Match {
		m := &geo.Match{}
		for _, id := range ids {
			kind := geo.KindDeEscalation
			switch id {
			case "nationwide-2016":
				kind = geo.KindCeasefire
			case "buffer-1":
				kind = geo.KindBuffer
			case "excl-1":
				kind = geo.KindExcludedArea
			}
			m.Zones = append(m.Zones, geo.ZoneHit{ID: id, Kind: kind})
		}
		return m
	}
	possible := func(m *geo.Match) *geo.Match {
		for i := range m.Zones {
			m.Zones[i].Possible = true
		}
		return m
	}
	rep := func(c report.Category, name string, side report.Side) *report.Report {
		return &report.Report{Category: c, Perpetrator: report.Actor{Name: name, Side: side}}
	}
	for _, tc := range []struct {
		name   string
		rules  Rules
		rep    *report.Report
		m      *geo.Match
		want   bool
		reason string
	}{
		{"shelling in a zone", DefaultRules(), rep(report.Shelling, "Syrian Arab Army", report.Government), in("astana-4"), true, "in_zone:astana-4;hostile:shelling"},
		{"two zones", Rules{}, rep(report.Airstrike, "", report.Unknown), in("astana-1", "nationwide-2016"), true, "in_zone:astana-1,nationwide-2016;hostile:airstrike"},
		{"no zone", DefaultRules(), rep(report.Shelling, "", ""), in(), false, "not_violation:no_zone"},
		{"buffer is not protected by default", DefaultRules(), rep(report.Shelling, "", ""), in("buffer-1"), false, "not_violation:no_zone"},
		{"buffer protected when configured", Rules{Kinds: []string{geo.KindBuffer}}, rep(report.Shelling, "", ""), in("buffer-1"), true, "in_zone:buffer-1;hostile:shelling"},
		{"not hostile", DefaultRules(), rep(report.Arrest, "", ""), in("astana-3"), false, "not_violation:not_hostile:arrest"},
		{"excluded side", DefaultRules(), rep(report.Shelling, "someone", report.ExcludedGroup), in("astana-3"), false, "not_violation:excluded_perpetrator"},
		{"ISIS by name", DefaultRules(), rep(report.IED, "Islamic State of Iraq and the Levant", report.Unknown), in("nationwide-2016"), false, "not_violation:excluded_perpetrator"},
		{"UCDP IS", DefaultRules(), rep(report.IED, "IS", report.Unknown), in("nationwide-2016"), false, "not_violation:excluded_perpetrator"},
		{"HTS apostrophe", DefaultRules(), rep(report.GroundClash, "Hay’at Tahrir al-Sham", report.Opposition), in("astana-1"), false, "not_violation:excluded_perpetrator"},
		{"hts lower case", DefaultRules(), rep(report.GroundClash, "hts", report.Opposition), in("astana-1"), false, "not_violation:excluded_perpetrator"},
		{"al-Qaida spelling", DefaultRules(), rep(report.GroundClash, "AL-QAIDA", ""), in("astana-1"), false, "not_violation:excluded_perpetrator"},
		{"word boundary", DefaultRules(), rep(report.Shelling, "Thistle Brigade", report.Opposition), in("astana-1"), true, "in_zone:astana-1;hostile:shelling"},
		{"custom actor list", Rules{ExcludedActors: []string{"Thistle"}}, rep(report.Shelling, "Thistle Brigade", ""), in("astana-1"), false, "not_violation:excluded_perpetrator"},
		{"possible", DefaultRules(), rep(report.Shelling, "", ""), possible(in("astana-2")), true, "possibly_in_zone:astana-2;hostile:shelling"},
		{"possible ignored", Rules{IgnorePossible: true}, rep(report.Shelling, "", ""), possible(in("astana-2")), false, "not_violation:possibly_in_zone:astana-2"},
		{"excluded area wins", DefaultRules(), rep(report.Shelling, "", ""), in("nationwide-2016", "excl-1"), false, "not_violation:excluded_area:excl-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, reason := tc.rules.Classify(tc.rep, tc.m)
			if v != tc.want || reason != tc.reason {
				t.Fatalf("got %v %q, want %v %q", v, reason, tc.want, tc.reason)
			}
		})
	}
}

// TestClassifyMatched runs the default rules on real matches.
func TestClassifyMatched(t *testing.T) {
	m := geotest.Matcher(t)
	daraa := orb.Point{36.1021, 32.6189}
	var dst geo.Match
	r := &report.Report{Category: report.Shelling, ObservedAt: time.Date(2017, 8, 1, 10, 0, 0, 0, time.UTC)}
	m.Match(daraa, r.ObservedAt, 0, &dst)
	if v, reason := DefaultRules().Classify(r, &dst); !v || reason != "in_zone:astana-4,nationwide-2016;hostile:shelling" {
		t.Fatalf("Dar'a Aug 2017: %v %q", v, reason)
	}
	r.ObservedAt = time.Date(2016, 6, 1, 0, 0, 0, 0, time.UTC)
	m.Match(daraa, r.ObservedAt, 0, &dst)
	if v, reason := DefaultRules().Classify(r, &dst); v || reason != "not_violation:no_zone" {
		t.Fatalf("Dar'a Jun 2016: %v %q", v, reason)
	}
}
