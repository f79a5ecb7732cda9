package geo

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// TestEdgeCases names the UCDP places that the OCHA polygons leave out.
func TestEdgeCases(t *testing.T) {
	m := mustMatcher(t)
	at := time.Date(2017, 1, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		p    orb.Point
		adm3 string
		maxM float64
	}{
		{"Tartus town, off the coastline", orb.Point{35.88659, 34.88902}, "SY100000", 150},
		{"Jablah town, off the coastline", orb.Point{35.921702, 35.361508}, "SY060200", 600},
		{"Al Rukban camp, Jordanian border", orb.Point{38.657139, 33.298583}, "SY030202", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst Match
			m.Match(tc.p, at, 0, &dst)
			if dst.Adm3 != tc.adm3 || !dst.AdmApprox || dst.AdmDistM <= 0 || dst.AdmDistM > tc.maxM {
				t.Fatalf("got %s approx=%v at %.1f m, want %s approx within %.0f m", dst.Adm3, dst.AdmApprox, dst.AdmDistM, tc.adm3, tc.maxM)
			}
			if !strings.HasPrefix(dst.Adm3, dst.Adm2) || !strings.HasPrefix(dst.Adm2, dst.Adm1) {
				t.Fatalf("pcodes %s/%s/%s do not nest", dst.Adm1, dst.Adm2, dst.Adm3)
			}
			// The nationwide ceasefire is only possibly hit: the point is
			// outside every polygon.
			if len(dst.Zones) == 0 || dst.Zones[0].ID != "nationwide-2016" || !dst.Zones[0].Possible {
				t.Fatalf("zones %+v, want nationwide-2016 possible", dst.Zones)
			}
		})
	}
	// Far from Syria: no admin codes.
	var dst Match
	m.Match(orb.Point{30, 30}, at, 0, &dst)
	if dst.Adm3 != "" || dst.AdmApprox || len(dst.Zones) != 0 {
		t.Fatalf("Cairo: %+v", dst)
	}
}

// TestBoundaryIsInside: vertices and points on edges are inside, in both
// sub-districts when the edge is shared.
func TestBoundaryIsInside(t *testing.T) {
	a := mustAdmin(t)
	m := mustMatcher(t)
	ix, _ := a.index()
	var dst Match
	checked := 0
	for s, ar := range a.Areas(3) {
		if s%9 != 0 {
			continue
		}
		ring := geometryRings(ar.Geometry)[0]
		for i := 0; i+1 < len(ring); i += len(ring)/7 + 1 {
			for _, p := range []orb.Point{ring[i], {(ring[i][0] + ring[i+1][0]) / 2, (ring[i][1] + ring[i+1][1]) / 2}} {
				hits := ix.layer.appendHits(p[0], p[1], nil)
				found := false
				for _, h := range hits {
					found = found || int(h) == s
				}
				if !found {
					t.Errorf("%s: boundary point %v not inside (hits %v)", ar.PCode, p, hits)
				}
				m.Match(p, time.Time{}, 0, &dst)
				if dst.Adm3 == "" || dst.AdmApprox {
					t.Errorf("%s: boundary point %v: %+v", ar.PCode, p, dst)
				}
				// The first hit in pcode order is reported.
				if want := a.Areas(3)[hits[0]].PCode; dst.Adm3 != want {
					t.Errorf("%v: adm3 %s, want %s", p, dst.Adm3, want)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d points", checked)
	}
}

// TestLayerAgainstPlanar compares the grid with orb/planar on random
// points over inline shapes with holes and several members.
func TestLayerAgainstPlanar(t *testing.T) {
	star := func(cx, cy, r0, r1 float64, n int) orb.Ring {
		var r orb.Ring
		for i := 0; i < 2*n; i++ {
			rad := r0
			if i%2 == 1 {
				rad = r1
			}
			a := float64(i) * math.Pi / float64(n)
			r = append(r, orb.Point{cx + rad*math.Cos(a), cy + rad*math.Sin(a)})
		}
		return append(r, r[0])
	}
	square := func(x0, y0, x1, y1 float64) orb.Ring {
		return orb.Ring{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
	}
	mp := orb.MultiPolygon{
		{star(36, 34, 1, 0.4, 37), star(36, 34, 0.3, 0.1, 11)},                         // star with a star hole
		{square(38, 33, 39, 34), square(38.25, 33.25, 38.75, 33.75)},                   // square with a square hole
		{square(38.4, 33.4, 38.6, 33.6)},                                               // island in the hole
		{square(40, 35, 40.5, 35.5)},                                                   // separate member
		{{{41, 36}, {41.5, 36}, {41, 36.5}, {41, 36}}, square(41.1, 36.1, 41.2, 36.2)}, // triangle, hole
	}
	l, err := buildLayer([][]orb.Ring{geometryRings(mp)}, 4)
	if err != nil {
		t.Fatal(err)
	}
	l.compress()
	pts := randomPoints(200000)
	for i := range pts { // squeeze into the shapes' extent
		pts[i] = orb.Point{34.9 + (pts[i][0]-35.6)/6.8*7, 32.9 + (pts[i][1]-32.3)/5*4}
	}
	bad := 0
	for _, p := range pts {
		want := planar.MultiPolygonContains(mp, p)
		if got := l.contains(p[0], p[1]); got != want {
			bad++
			if bad < 10 {
				t.Errorf("%v: grid %v, planar %v", p, got, want)
			}
		}
	}
	// Boundary points, including hole boundaries, are inside.
	for _, p := range []orb.Point{{38.25, 33.5}, {38.5, 33.25}, {38.4, 33.4}, {40, 35.2}, {41.25, 36.25}, {41.15, 36.1}, {36.3, 34}} {
		if !l.contains(p[0], p[1]) {
			t.Errorf("boundary point %v not inside", p)
		}
	}
	// Interior of holes is outside, islands inside.
	for p, want := range map[orb.Point]bool{{38.3, 33.3}: false, {38.5, 33.5}: true, {36, 34}: false, {36.5, 34}: true, {41.15, 36.15}: false} {
		if got := l.contains(p[0], p[1]); got != want {
			t.Errorf("%v: %v, want %v", p, got, want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	m := mustMatcher(t)
	pts := loadUCDP(t)
	var dst Match
	at := time.Date(2017, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, acc := range []float64{0, 2000} {
		i := 0
		n := testing.AllocsPerRun(2000, func() {
			m.Match(pts[i%len(pts)].P, at, acc, &dst)
			i += 7
		})
		if n != 0 {
			t.Errorf("accuracy %v: %v allocs per Match, want 0", acc, n)
		}
	}
}

func TestShippedZones(t *testing.T) {
	m := mustMatcher(t)
	var dst Match
	idlib := orb.Point{36.6337, 35.9306} // Idleb city
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2016, 12, 1, 0, 0, 0, 0, time.UTC), ""},
		{time.Date(2017, 1, 15, 0, 0, 0, 0, time.UTC), "nationwide-2016"},
		{time.Date(2017, 6, 1, 0, 0, 0, 0, time.UTC), "astana-1,nationwide-2016"},
	} {
		m.Match(idlib, tc.at, 0, &dst)
		var ids []string
		for _, h := range dst.Zones {
			if h.Possible {
				t.Errorf("%v: %s possible", tc.at, h.ID)
			}
			ids = append(ids, h.ID)
		}
		sort.Strings(ids)
		if got := strings.Join(ids, ","); got != tc.want {
			t.Errorf("Idleb at %v: zones %q, want %q", tc.at, got, tc.want)
		}
		if dst.Adm1 != "SY07" || dst.ZoneSet != m.Version() || !strings.HasPrefix(dst.ZoneSet, "zs:") {
			t.Errorf("Idleb: %+v", dst)
		}
	}
}

// TestAdminAgainstPlanar compares the sub-district grid with orb/planar on
// random points over Syria's extent.
func TestAdminAgainstPlanar(t *testing.T) {
	a := mustAdmin(t)
	ix, err := a.index()
	if err != nil {
		t.Fatal(err)
	}
	areas := a.Areas(3)
	var hits []uint32
	for _, p := range randomPoints(20000) {
		hits = ix.layer.appendHits(p[0], p[1], hits[:0])
		var want []uint32
		for i, ar := range areas {
			if !ar.Bound.Contains(p) {
				continue
			}
			var in bool
			switch g := ar.Geometry.(type) {
			case orb.Polygon:
				in = planar.PolygonContains(g, p)
			case orb.MultiPolygon:
				in = planar.MultiPolygonContains(g, p)
			}
			if in {
				want = append(want, uint32(i))
			}
		}
		if len(hits) != len(want) || (len(want) > 0 && hits[0] != want[0]) {
			t.Errorf("%v: grid %v, planar %v", p, hits, want)
		}
	}
}

func TestMatchOddInput(t *testing.T) {
	m := mustMatcher(t)
	var dst Match
	for _, p := range []orb.Point{{math.NaN(), 35}, {36, math.NaN()}, {math.Inf(1), 35}, {36, math.Inf(-1)}, {-180, -90}, {180, 90}, {200, 35}} {
		for _, acc := range []float64{0, 1000, math.NaN(), math.Inf(1)} {
			m.MatchDistances(p, time.Time{}, acc, &dst)
			if math.IsInf(acc, 1) && math.Abs(p[0]) <= 180 && math.Abs(p[1]) <= 90 {
				// An infinite uncertainty possibly hits every zone.
				if len(dst.Zones) != 5 || !dst.Zones[0].Possible {
					t.Errorf("%v acc %v: %+v", p, acc, dst)
				}
				continue
			}
			if dst.Adm3 != "" || len(dst.Zones) != 0 {
				t.Errorf("%v acc %v: %+v", p, acc, dst)
			}
		}
	}
}

// TestPossibleNearBorder: a point 1 km inside Syria from the Jordanian
// border is possibly in the nationwide ceasefire with a 2 km accuracy,
// plainly in it with 500 m.
func TestPossibleNearBorder(t *testing.T) {
	m := mustMatcher(t)
	at := time.Date(2017, 1, 15, 0, 0, 0, 0, time.UTC)
	var dst Match
	// Walk north from Jordan until inside Syria, then 1 km more.
	p := orb.Point{36.3, 32.2}
	for ; p[1] < 33; p[1] += 0.0005 {
		m.Match(p, at, 0, &dst)
		if dst.Adm3 != "" && !dst.AdmApprox {
			break
		}
	}
	p[1] += 1000 / (EarthRadius * degToRad)
	m.MatchDistances(p, at, 2000, &dst)
	if len(dst.Zones) != 1 || !dst.Zones[0].Possible || dst.Zones[0].DepthM < 500 || dst.Zones[0].DepthM > 1100 {
		t.Fatalf("2 km: %+v", dst.Zones)
	}
	m.Match(p, at, 500, &dst)
	if len(dst.Zones) != 1 || dst.Zones[0].Possible {
		t.Fatalf("500 m: %+v", dst.Zones)
	}
}
