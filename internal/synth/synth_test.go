package synth

import (
	"math"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/report"
)

func TestFeedIsValidDeterministicAndShaped(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := New(Options{Seed: 9, Malformed: 0.02}), New(Options{Seed: 9, Malformed: 0.02})
	const n = 20000
	ids := map[string]bool{}
	malformed, damascus, hostile := 0, 0, 0
	cats := map[report.Category]int{}
	for range n {
		m, m2 := a.Next(), b.Next()
		if string(m.Value) != string(m2.Value) {
			t.Fatal("same seed, different feed")
		}
		r, err := report.Decode(m.Value, now)
		if m.Malformed != "" {
			malformed++
			if err == nil {
				t.Fatalf("malformed (%s) message decodes: %s", m.Malformed, m.Value)
			}
			continue
		}
		if err != nil {
			t.Fatalf("valid message rejected: %v\n%s", err, m.Value)
		}
		if ids[r.ID] {
			t.Fatalf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		cats[r.Category]++
		if r.Category.Hostile() {
			hostile++
		}
		if math.Abs(r.Lon-36.35) < 0.3 && math.Abs(r.Lat-33.5) < 0.3 {
			damascus++
		}
	}
	if f := float64(malformed) / n; f < 0.01 || f > 0.03 {
		t.Errorf("malformed fraction %.3f, want about 0.02", f)
	}
	if f := float64(damascus) / n; f < 0.15 {
		t.Errorf("only %.2f of reports around Damascus", f)
	}
	if len(cats) != len(report.Categories()) || float64(hostile)/n < 0.7 {
		t.Errorf("category mix %v", cats)
	}
}

// Repeats and corrections come at their rates, repeat reports already
// sent, and correct them to higher revisions.
func TestRepeatsAndCorrections(t *testing.T) {
	f := New(Options{Seed: 3, Repeats: 0.02, Corrections: 0.01})
	sent := map[string]uint32{}
	repeats, corrections := 0, 0
	const n = 50_000
	for range n {
		m := f.Next()
		r := m.Report
		prev, seen := sent[r.ID]
		switch {
		case seen && r.Revision == prev:
			repeats++
		case seen && r.Revision > prev:
			corrections++
		case seen:
			t.Fatalf("%s: revision %d after %d", r.ID, r.Revision, prev)
		}
		sent[r.ID] = max(prev, r.Revision)
	}
	if repeats < n*15/1000 || repeats > n*25/1000 || corrections < n*6/1000 || corrections > n*14/1000 {
		t.Errorf("%d repeats and %d corrections in %d messages, want about 2%% and 1%%", repeats, corrections, n)
	}
}
