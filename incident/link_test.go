package incident

import (
	"testing"

	"github.com/trucewatch/trucewatch/storage/read"
)

// members is the incidents of s as their member lists.
func members(incs []read.Incident) map[string][]read.ReportKey {
	out := map[string][]read.ReportKey{}
	for _, inc := range incs {
		out[inc.ID] = inc.Members
	}
	return out
}

// sameAsScratch checks that s holds what resolving its reports from
// scratch gives.
func sameAsScratch(t *testing.T, s *Set, reports ...read.Report) {
	t.Helper()
	want, got := Resolve(Rule{}, nil, reports), s.Incidents()
	if len(got) != len(want) {
		t.Fatalf("%d incidents, from scratch %d: %v", len(got), len(want), members(got))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Digest != want[i].Digest {
			t.Fatalf("incident %d: %+v, from scratch %+v", i, got[i], want[i])
		}
	}
}

// An explicit link joins two reports whatever the rule says: 50 km and
// two days apart, another category, the same partner, a report too coarse
// to fuse.
func TestLinkBeatsDistance(t *testing.T) {
	a := rep("p1", "a", east(0), 33.55, t0)
	b := rep("p2", "b", east(50_000), 33.55, t0+2*86400)
	b.Category, b.IncidentOf = "airstrike", keyOf(a)
	c := rep("p1", "c", east(80_000), 33.55, t0) // same partner, linking to b
	c.IncidentOf = keyOf(b)
	d := rep("p3", "d", east(0), 33.55, t0)
	d.GeoPrecision, d.IncidentOf = "adm1", keyOf(a) // joins nothing by the rule
	e := rep("p2", "e", east(100), 33.55, t0)       // a's geometric partner
	incs := Resolve(Rule{}, nil, []read.Report{a, b, c, d, e})
	if len(incs) != 1 || len(incs[0].Members) != 5 {
		t.Fatalf("want one incident of 5: %v", members(incs))
	}
	// Without the links: a and e, and three of their own.
	for _, r := range []*read.Report{&b, &c, &d} {
		r.IncidentOf = read.ReportKey{}
	}
	if incs := Resolve(Rule{}, nil, []read.Report{a, b, c, d, e}); len(incs) != 4 {
		t.Fatalf("without links: %v", members(incs))
	}
	// A link to itself is none.
	b.IncidentOf = keyOf(b)
	if incs := Resolve(Rule{}, nil, []read.Report{a, b}); len(incs) != 2 {
		t.Fatalf("self link: %v", members(incs))
	}
}

// A link to a report not held does nothing until it arrives, and again
// once it is withdrawn; the incident follows, as from scratch.
func TestLinkToMissingReport(t *testing.T) {
	a := rep("p1", "a", east(0), 33.55, t0)
	b := rep("p2", "b", east(30_000), 33.55, t0)
	b.IncidentOf = keyOf(a)
	s := NewSet(Rule{}, nil)
	s.Apply(nil, []read.Report{b})
	sameAsScratch(t, s, b)
	put, del := s.Apply(nil, []read.Report{a})
	if len(s.Incidents()) != 1 || s.IncidentOf(keyOf(a)) != s.IncidentOf(keyOf(b)) || len(put) != 1 || len(del) != 1 {
		t.Fatalf("a arrived: %v (put %d, del %v)", members(s.Incidents()), len(put), del)
	}
	sameAsScratch(t, s, a, b)
	s.Apply([]read.ReportKey{keyOf(a)}, nil) // withdrawn
	sameAsScratch(t, s, b)
	if len(s.Incidents()) != 1 || s.IncidentOf(keyOf(b)) != ID(keyOf(b)) {
		t.Fatalf("a withdrawn: %v", members(s.Incidents()))
	}
}

// A correction that drops or moves the link splits the incident, and one
// that brings it back joins it again.
func TestLinkRemovedByCorrection(t *testing.T) {
	a := rep("p1", "a", east(0), 33.55, t0)
	c := rep("p3", "c", east(60_000), 33.55, t0)
	b := rep("p2", "b", east(30_000), 33.55, t0)
	b.IncidentOf = keyOf(a)
	s := NewSet(Rule{}, nil)
	s.Apply(nil, []read.Report{a, b, c})
	sameAsScratch(t, s, a, b, c)
	if len(s.Incidents()) != 2 {
		t.Fatalf("linked: %v", members(s.Incidents()))
	}
	b2 := b
	b2.Revision, b2.IncidentOf = 2, keyOf(c) // the link moved to c
	s.Apply([]read.ReportKey{keyOf(b)}, []read.Report{b2})
	sameAsScratch(t, s, a, b2, c)
	if s.IncidentOf(keyOf(b)) != s.IncidentOf(keyOf(c)) || s.IncidentOf(keyOf(a)) == s.IncidentOf(keyOf(b)) {
		t.Fatalf("moved: %v", members(s.Incidents()))
	}
	b3 := b
	b3.Revision, b3.IncidentOf = 3, read.ReportKey{} // dropped
	s.Apply([]read.ReportKey{keyOf(b)}, []read.Report{b3})
	sameAsScratch(t, s, a, b3, c)
	if len(s.Incidents()) != 3 {
		t.Fatalf("dropped: %v", members(s.Incidents()))
	}
	s.Apply([]read.ReportKey{keyOf(b)}, []read.Report{b})
	sameAsScratch(t, s, a, b, c)
}
