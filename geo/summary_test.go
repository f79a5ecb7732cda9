package geo

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func TestSummarize(t *testing.T) {
	a := mustAdmin(t)
	zs, err := LoadZoneSet(strings.NewReader(validSet), a)
	if err != nil {
		t.Fatal(err)
	}
	got := Summarize(zs, a)
	if len(got) != 2 {
		t.Fatalf("%d summaries, want 2: %+v", len(got), got)
	}
	sq, homs := got[0], got[1]
	if sq.ID != "square" || sq.Kind != "buffer" || sq.PCodes != 0 || sq.SubDistricts != 0 ||
		sq.GeometryType != "Polygon" || sq.Rings != 2 || sq.Bound != (orb.Bound{Min: orb.Point{36, 35}, Max: orb.Point{37, 36}}) {
		t.Errorf("square: %+v", sq)
	}
	if !sq.ValidFrom.Equal(time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)) || !sq.ValidTo.Equal(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("square in force %v .. %v", sq.ValidFrom, sq.ValidTo)
	}
	want := 0
	for _, ar := range a.Areas(3) {
		if strings.HasPrefix(ar.PCode, "SY04") {
			want++
		}
	}
	if homs.ID != "homs" || homs.PCodes != 1 || homs.SubDistricts != want || want == 0 || homs.GeometryType != "" || homs.Rings != 0 || !homs.ValidTo.IsZero() {
		t.Errorf("homs: %+v, want %d sub-districts", homs, want)
	}
}

// TestSummarizeShipped pins the summary of a shipped zone made of three
// governorates.
func TestSummarizeShipped(t *testing.T) {
	a := mustAdmin(t)
	f, err := os.Open("zones/astana-2017.geojson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zs, err := LoadZoneSet(f, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Summarize(zs, a) {
		if s.ID == "astana-4" {
			if s.PCodes != 3 || s.SubDistricts != 35 {
				t.Errorf("astana-4: %d pcode(s) = %d sub-district(s), want 3 = 35", s.PCodes, s.SubDistricts)
			}
			return
		}
	}
	t.Error("no zone astana-4")
}
