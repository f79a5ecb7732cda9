package incident

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

var t0 = time.Date(2017, 3, 1, 10, 0, 0, 0, time.UTC).Unix()

func rep(partner, id string, lon, lat float64, at int64) read.Report {
	return read.Report{PartnerID: partner, ReportID: id, Revision: 1, ObservedAt: at, Lat: lat, Lon: lon, Category: "shelling"}
}

// metres east of 36.4E at 33.55N, in degrees of longitude.
func east(m float64) float64 { return 36.4 + m/(111_320*0.8334) }

func TestCompatible(t *testing.T) {
	var r Rule
	a := rep("p1", "a", east(0), 33.55, t0)
	cases := []struct {
		name string
		b    read.Report
		want bool
	}{
		{"close", rep("p2", "b", east(1500), 33.55, t0+1800), true},
		{"same partner", rep("p1", "b", east(100), 33.55, t0), false},
		{"too far", rep("p2", "b", east(2500), 33.55, t0), false},
		{"within the other's uncertainty", func() read.Report {
			b := rep("p2", "b", east(9000), 33.55, t0)
			b.AccuracyM = 10_000
			return b
		}(), true},
		{"within its precision's uncertainty", func() read.Report {
			b := rep("p2", "b", east(14000), 33.55, t0)
			b.GeoPrecision = "adm3"
			return b
		}(), true},
		{"too coarse to fuse", func() read.Report {
			b := rep("p2", "b", east(100), 33.55, t0)
			b.GeoPrecision = "adm2"
			return b
		}(), false},
		{"two hours apart", rep("p2", "b", east(100), 33.55, t0+2*3600+1), false},
		{"within the slack of both", rep("p2", "b", east(100), 33.55, t0+2*3600), true},
		{"within a day's precision", func() read.Report {
			b := rep("p2", "b", east(100), 33.55, t0+20*3600)
			b.TimePrecision = "day"
			return b
		}(), true},
		{"a month is too long", func() read.Report {
			b := rep("p2", "b", east(100), 33.55, t0)
			b.TimePrecision = "month"
			return b
		}(), false},
		{"overlapping windows", func() read.Report {
			b := rep("p2", "b", east(100), 33.55, t0-10*3600)
			b.ObservedUntil = t0 - 30*60
			return b
		}(), true},
		{"other category", func() read.Report {
			b := rep("p2", "b", east(100), 33.55, t0)
			b.Category = "airstrike"
			return b
		}(), false},
	}
	for _, c := range cases {
		if got := r.Compatible(a, c.b); got != c.want {
			t.Errorf("%s: linked %v, want %v", c.name, got, c.want)
		}
		if got := r.Compatible(c.b, a); got != c.want {
			t.Errorf("%s (reversed): linked %v, want %v", c.name, got, c.want)
		}
	}
}

// An incident's violation class is its most certain member's: definite
// over possible over none.
func TestSummaryViolationClass(t *testing.T) {
	possible := func(r read.Report) read.Report {
		r.Violation, r.ViolationReason = true, "possibly_in_zone:z1"
		return r
	}
	definite := func(r read.Report) read.Report { r.Violation, r.ViolationReason = true, "in_zone:z1"; return r }
	a, b := rep("p1", "a", east(0), 33.55, t0), rep("p2", "b", east(500), 33.55, t0)
	for _, c := range []struct {
		a, b read.Report
		want uint8
	}{
		{a, b, read.NotViolation},
		{possible(a), b, read.PossibleViolation},
		{possible(a), definite(b), read.DefiniteViolation},
		{definite(a), possible(b), read.DefiniteViolation},
	} {
		incs := Resolve(Rule{}, nil, []read.Report{c.a, c.b})
		if len(incs) != 1 || incs[0].ViolationClass != c.want || incs[0].Violation != (c.want != read.NotViolation) {
			t.Errorf("%s + %s: %+v, want one incident of class %d", c.a.ViolationReason, c.b.ViolationReason, incs, c.want)
		}
	}
}

func TestSummary(t *testing.T) {
	a := rep("p1", "a", east(0), 33.55, t0)
	a.Killed, a.PerpetratorSide, a.AccuracyM = 3, "government", 500
	b := rep("p2", "b", east(1000), 33.55, t0-600)
	b.Killed, b.Injured, b.PerpetratorSide, b.AccuracyM, b.Zones = 5, 2, "opposition", 100, []string{"z1"}
	c := rep("p3", "c", east(1800), 33.55, t0+600) // links to b only
	c.Killed, c.Violation, c.AccuracyM = 4, true, 800
	d := rep("p1", "d", east(30000), 33.55, t0)
	incs := Resolve(Rule{}, map[string]string{"p1": "guarantor:ru", "p3": "guarantor:tr"}, []read.Report{c, d, a, b})
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2: %+v", len(incs), incs)
	}
	var inc read.Incident
	for _, i := range incs {
		if len(i.Members) == 3 {
			inc = i
		}
	}
	want := read.Incident{ID: ID(read.ReportKey{PartnerID: "p1", ReportID: "a"}), ObservedAt: t0 - 600, ObservedUntil: t0 + 600,
		Lat: b.Lat, Lon: b.Lon, UncertaintyM: 100, Tile: read.TileKey(b.Lon, b.Lat), Category: "shelling", Zones: []string{"z1"},
		Violation: true, ViolationClass: read.DefiniteViolation, Partners: []string{"p1", "p2", "p3"}, Groups: []string{"guarantor:ru", "guarantor:tr"},
		Members: []read.ReportKey{{PartnerID: "p1", ReportID: "a"}, {PartnerID: "p2", ReportID: "b"}, {PartnerID: "p3", ReportID: "c"}},
		Killed:  5, KilledMin: 3, Injured: 2, InjuredMin: 0, Sides: []string{"government", "opposition"}, Contested: true}
	want.Digest = Digest(&want)
	if fmt.Sprintf("%+v", inc) != fmt.Sprintf("%+v", want) {
		t.Fatalf("incident\n%+v\nwant\n%+v", inc, want)
	}
}

// randomReports are events reported by up to three partners with jitter,
// plus reports of one partner only.
func randomReports(rng *rand.Rand, events int) []read.Report {
	var out []read.Report
	for e := range events {
		lon, lat := 36.3+rng.Float64()*0.2, 33.5+rng.Float64()*0.1
		at := t0 + rng.Int64N(3*86400)
		cat := []string{"shelling", "airstrike"}[rng.IntN(2)]
		for p := range 3 {
			if p > 0 && rng.IntN(3) == 0 {
				continue
			}
			r := rep(fmt.Sprintf("p%d", p+1), fmt.Sprintf("e%d", e), lon+(rng.Float64()-0.5)*0.02, lat+(rng.Float64()-0.5)*0.02, at+rng.Int64N(5400)-2700)
			r.Category, r.Killed = cat, uint32(rng.IntN(6))
			if rng.IntN(5) == 0 {
				r.AccuracyM = float32(rng.IntN(5000))
			}
			out = append(out, r)
		}
	}
	return out
}

func keyOf(r read.Report) read.ReportKey {
	return read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}
}

// Applying reports in any order, in batches, with reports removed and
// moved on the way, gives the incidents of resolving the final set.
func TestApplyOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		final := randomReports(rng, 150)
		if trial%2 == 1 { // dense: reports compete to be each other's nearest
			for i := range final {
				final[i].Lon, final[i].Lat = 36.3+(final[i].Lon-36.3)/5, 33.5+(final[i].Lat-33.5)/5
			}
		}
		checkApplyOrder(t, rng, trial, final, false)
	}
}

// With explicit links: some final reports link to others (near or far,
// of their partner or another's, or to a report that never comes), and
// decoy revisions carry links that their correction changes or drops.
func TestApplyOrderIndependentLinks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		final := randomReports(rng, 150)
		for i := range final {
			switch rng.IntN(10) {
			case 0, 1:
				final[i].IncidentOf = keyOf(final[rng.IntN(len(final))]) // itself now and then: no link
			case 2:
				final[i].IncidentOf = read.ReportKey{PartnerID: "p2", ReportID: fmt.Sprintf("never-%d", i)}
			}
		}
		checkApplyOrder(t, rng, trial, final, true)
	}
}

// checkApplyOrder applies final in a random order, in batches, after
// decoys (revisions corrected later, reports withdrawn; with links, the
// corrected revisions link elsewhere and the withdrawn ones link to final
// reports), and checks the Set's incidents, and what Apply reported as
// written and deleted, against resolving final from scratch.
func checkApplyOrder(t *testing.T, rng *rand.Rand, trial int, final []read.Report, links bool) {
	t.Helper()
	want := Resolve(Rule{}, nil, final)
	s := NewSet(Rule{}, nil)
	stored := map[string]uint64{}
	write := func(put []read.Incident, del []string) {
		for _, inc := range put {
			stored[inc.ID] = inc.Digest
		}
		for _, id := range del {
			if _, ok := stored[id]; !ok {
				t.Fatalf("trial %d: deleted %s, not stored", trial, id)
			}
			delete(stored, id)
		}
	}
	other := func() read.ReportKey { return keyOf(final[rng.IntN(len(final))]) }
	order := rng.Perm(len(final))
	for i := 0; i < len(order); {
		n := 1 + rng.IntN(20)
		var batch []read.Report
		var gone []read.ReportKey
		for _, j := range order[i:min(i+n, len(order))] {
			r := final[j]
			switch rng.IntN(6) {
			case 0: // first somewhere else, corrected later
				d := r
				d.Lon += 0.05
				if links {
					d.IncidentOf = other()
				}
				write(s.Apply(nil, []read.Report{d}))
			case 1: // a decoy that is withdrawn
				d := r
				d.ReportID += "-withdrawn"
				if links {
					d.IncidentOf = other()
				}
				write(s.Apply(nil, []read.Report{d}))
				gone = append(gone, keyOf(d))
			}
			batch = append(batch, r)
		}
		write(s.Apply(gone, batch))
		i += n
	}
	got := s.Incidents()
	if len(got) != len(want) {
		t.Fatalf("trial %d: %d incidents, want %d", trial, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Digest != want[i].Digest || stored[got[i].ID] != got[i].Digest {
			t.Fatalf("trial %d: incident %d\n%+v\nwant\n%+v", trial, i, got[i], want[i])
		}
	}
	if len(stored) != len(want) {
		t.Fatalf("trial %d: %d stored, want %d", trial, len(stored), len(want))
	}
	// Reading every report again (a pass's overlap) changes nothing.
	var keys []read.ReportKey
	for _, r := range final {
		keys = append(keys, keyOf(r))
	}
	if put, del := s.Apply(keys, final); len(put)+len(del) != 0 {
		t.Fatalf("trial %d: the same reports again wrote %d, deleted %d", trial, len(put), len(del))
	}
	multi := 0
	for _, inc := range want {
		if len(inc.Partners) > 1 {
			multi++
		}
	}
	if multi < len(want)/3 {
		t.Fatalf("trial %d: only %d of %d incidents corroborated", trial, multi, len(want))
	}
}

func TestResolveShuffled(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rs := randomReports(rng, 300)
	want := Resolve(Rule{}, nil, rs)
	for range 5 {
		rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		got := Resolve(Rule{}, nil, slices.Clone(rs))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatal("resolution depends on the order of the reports")
		}
	}
}

// A partner's report joins the nearest of another partner's reports of
// the same kind, not all of them: two events of p1 500 m apart, p2
// reporting the first, make two incidents.
func TestNearest(t *testing.T) {
	a1 := rep("p1", "a1", east(0), 33.55, t0)
	a2 := rep("p1", "a2", east(500), 33.55, t0-1000)
	b := rep("p2", "b", east(100), 33.55, t0+600)  // a1 and a2 are compatible with it; a1 is nearer
	c := rep("p3", "c", east(550), 33.55, t0-7000) // too early for b; a1 and a2 are compatible, a2 is nearer
	incs := Resolve(Rule{}, nil, []read.Report{a1, a2, b, c})
	var got []string
	for _, inc := range incs {
		got = append(got, fmt.Sprint(inc.Members))
	}
	slices.Sort(got)
	want := []string{"[{p1 a1} {p2 b}]", "[{p1 a2} {p3 c}]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("incidents %v, want %v", got, want)
	}
	// b moved next to a2 joins it (and c): a1 is alone.
	b.Lon, b.ObservedAt = east(480), t0-1200
	s := NewSet(Rule{}, nil)
	s.Apply(nil, []read.Report{a1, a2, c})
	s.Apply(nil, []read.Report{b})
	if n := len(s.Incidents()); n != 2 || s.IncidentOf(keyOf(b)) != s.IncidentOf(keyOf(a2)) || s.IncidentOf(keyOf(c)) != s.IncidentOf(keyOf(a2)) {
		t.Fatalf("after the move: %+v", s.Incidents())
	}
}
