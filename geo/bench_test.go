package geo

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/paulmach/orb"
	tgeojson "github.com/tidwall/geojson"
	"github.com/tidwall/geojson/geometry"
)

// syriaBound is the extent of the OCHA boundaries, for random points.
var syriaBound = orb.Bound{Min: orb.Point{35.6139, 32.3164}, Max: orb.Point{42.3850, 37.3191}}

func randomPoints(n int) []orb.Point {
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{
			syriaBound.Min[0] + r.Float64()*(syriaBound.Max[0]-syriaBound.Min[0]),
			syriaBound.Min[1] + r.Float64()*(syriaBound.Max[1]-syriaBound.Min[1]),
		}
	}
	return pts
}

func benchPoints(b *testing.B) map[string][]orb.Point {
	ucdp := loadUCDP(b)
	up := make([]orb.Point, len(ucdp))
	for i, p := range ucdp {
		up[i] = p.P
	}
	return map[string][]orb.Point{"random": randomPoints(1 << 16), "ucdp": up}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkMatch matches against the 272 sub-districts and every shipped
// zone set, at a time when all shipped zones are in force.
func BenchmarkMatch(b *testing.B) {
	m := mustMatcher(b)
	at := time.Date(2017, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"random", "ucdp"} {
		pts := benchPoints(b)[name]
		b.Run(name, func(b *testing.B) {
			var dst Match
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Match(pts[i%len(pts)], at, 0, &dst)
			}
			reportRate(b)
		})
	}
	pts := benchPoints(b)["ucdp"]
	b.Run("ucdp-accuracy-1km", func(b *testing.B) {
		var dst Match
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.Match(pts[i%len(pts)], at, 1000, &dst)
		}
		reportRate(b)
	})
	// The uncertainty that ingest derives from UCDP's where_prec through
	// report.GeoPrecision.UncertaintyM (exact, near, adm2, adm1, region,
	// country).
	ucdp := loadUCDP(b)
	uncertainty := map[int]float64{1: 0, 2: 25000, 3: 40000, 4: 80000, 5: 25000, 6: 400000, 7: 400000}
	b.Run("ucdp-precision", func(b *testing.B) {
		var dst Match
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p := &ucdp[i%len(ucdp)]
			m.Match(p.P, at, uncertainty[p.WherePrec], &dst)
		}
		reportRate(b)
	})
	b.Run("ucdp-distances", func(b *testing.B) {
		var dst Match
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.MatchDistances(pts[i%len(pts)], at, 0, &dst)
		}
		reportRate(b)
	})
}

// BenchmarkTidwall is github.com/tidwall/geojson on the same sub-district
// polygons and points: a FeatureCollection parsed with its default
// options (an R-tree over the features, and each polygon of 64 points or
// more indexed), queried for the feature containing each point.
func BenchmarkTidwall(b *testing.B) {
	raw, err := os.ReadFile("data/syria-adm3.geojson")
	if err != nil {
		b.Fatal(err)
	}
	obj, err := tgeojson.Parse(string(raw), nil)
	if err != nil {
		b.Fatal(err)
	}
	fc := obj.(*tgeojson.FeatureCollection)
	for _, name := range []string{"random", "ucdp"} {
		pts := benchPoints(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			found := 0
			for i := 0; i < b.N; i++ {
				p := pts[i%len(pts)]
				gp := geometry.Point{X: p[0], Y: p[1]}
				fc.Search(geometry.Rect{Min: gp, Max: gp}, func(child tgeojson.Object) bool {
					if child.Spatial().IntersectsPoint(gp) {
						found++
						return false
					}
					return true
				})
			}
			reportRate(b)
		})
	}
}

// BenchmarkIndexBuild builds every shipped layer from the parsed
// boundaries: the sub-district grid and the zone sets' boundaries.
func BenchmarkIndexBuild(b *testing.B) {
	a := mustAdmin(b)
	sets, err := ShippedZoneSets(a)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		idx, err := buildAdminIndex(a)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := newMatcher(a, idx, sets); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAdmin parses the embedded GeoJSON.
func BenchmarkLoadAdmin(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := parseAdmin(); err != nil {
			b.Fatal(err)
		}
	}
}
