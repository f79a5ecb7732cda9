package serve

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
)

// randomCells are up to 256 cells of tile t (some of the 16x16 grid, in
// quadkey order) with random counts (violations may be negative), and
// some of four categories when cats.
func randomCells(rng *rand.Rand, t maptile.Tile, incidents, cats bool) []tileCell {
	names := []string{"airstrike", "shelling", "ground_clash", "arrest"}
	var out []tileCell
	for y := uint32(0); y < 1<<GridBits; y++ {
		for x := uint32(0); x < 1<<GridBits; x++ {
			if rng.IntN(3) == 0 {
				continue
			}
			n := func() int64 { return rng.Int64N(1 << uint(rng.IntN(40))) }
			c := tileCell{key: maptile.New(t.X<<GridBits+x, t.Y<<GridBits+y, t.Z+GridBits).Quadkey(),
				reports: n(), killed: n(), injured: n(), violations: n() - n(), possibleViolations: n(), coarse: n()}
			if incidents {
				c.incidents, c.single, c.corroborated, c.crossGroups, c.contested, c.killedMin = n(), n(), n(), n(), n(), n()
			}
			if cats {
				c.byCategory = map[string]int64{}
				for _, cat := range names[:rng.IntN(len(names)+1)] {
					c.byCategory[cat] = n()
				}
			}
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b tileCell) int { return cmp.Compare(a.key, b.key) })
	return out
}

// TestCellsMVTMatchesOrb: the hand-written vector tile decodes, with
// orb's decoder, to the features orb's encoder makes of the same cells
// (ids, every property and its type), except that each square is exact:
// its corners are the grid's, where orb's, projected back from degrees,
// may be one unit off; and it is wound as spec 2 wants an exterior ring.
func TestCellsMVTMatchesOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	for _, z := range []maptile.Zoom{0, 2, 6, 9, 12, 14, 17, 20} {
		for _, kind := range []struct{ incidents, cats bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
			name := fmt.Sprintf("z%d incidents=%v categories=%v", z, kind.incidents, kind.cats)
			tile := maptile.At(orb.Point{36.4 + rng.Float64(), 33.5 + rng.Float64()}, z)
			tr := &tileRequest{tile: tile, incidents: kind.incidents}
			cells := randomCells(rng, tile, kind.incidents, kind.cats)
			got, err := mvt.Unmarshal(cellsMVT(tr, cells))
			if err != nil {
				t.Fatalf("%s: decode: %v", name, err)
			}
			ls := mvt.NewLayers(map[string]*geojson.FeatureCollection{MVTLayer: cellFeatures(tr, cells)})
			ls.ProjectToTile(tile)
			b, err := mvt.Marshal(ls)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mvt.Unmarshal(b)
			compareLayers(t, name, got, want, tile)
		}
	}
}

func compareLayers(t *testing.T, name string, got, want mvt.Layers, tile maptile.Tile) {
	t.Helper()
	if len(got) != 1 || got[0].Name != MVTLayer || got[0].Version != 2 || got[0].Extent != mvtExtent {
		t.Fatalf("%s: layers %d, first %q v%d extent %d", name, len(got), got[0].Name, got[0].Version, got[0].Extent)
	}
	g, w := got[0].Features, want[0].Features
	if len(g) != len(w) || len(g) == 0 {
		t.Fatalf("%s: %d features, orb %d", name, len(g), len(w))
	}
	for i := range g {
		if fmt.Sprint(g[i].ID) != fmt.Sprint(w[i].ID) || !reflect.DeepEqual(g[i].Properties, w[i].Properties) {
			t.Fatalf("%s: feature %d: id %v props %v, orb id %v props %v", name, i, g[i].ID, g[i].Properties, w[i].ID, w[i].Properties)
		}
		id := int(g[i].ID.(float64))
		x, y := float64(id%(1<<GridBits)*(mvtExtent>>GridBits)), float64(id/(1<<GridBits)*(mvtExtent>>GridBits))
		s := float64(mvtExtent >> GridBits)
		square := orb.Polygon{{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}}
		if !orb.Equal(g[i].Geometry, square) {
			t.Fatalf("%s: feature %d: %v, want %v", name, i, g[i].Geometry, square)
		}
		if a := surveyorArea(square[0]); a <= 0 {
			t.Fatalf("%s: feature %d wound with area %v", name, i, a)
		}
		wb := w[i].Geometry.Bound()
		if math.Abs(wb.Min[0]-x) > 1 || math.Abs(wb.Min[1]-y) > 1 || math.Abs(wb.Max[0]-x-s) > 1 || math.Abs(wb.Max[1]-y-s) > 1 {
			t.Fatalf("%s: feature %d: square %v, orb's %v", name, i, square, wb)
		}
	}
}

// surveyorArea is the ring's area by the formula of the MVT spec (4.3.4.4):
// positive for an exterior ring in tile coordinates.
func surveyorArea(r orb.Ring) float64 {
	var a float64
	for i := 0; i+1 < len(r); i++ {
		a += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	return a / 2
}

func TestCellPropsSorted(t *testing.T) {
	c := tileCell{byCategory: map[string]int64{"zz": 1, "a": 2, "m": 3}}
	for _, inc := range []bool{false, true} {
		props := cellProps(nil, inc, maptile.New(1, 2, 3), &c)
		if !slices.IsSortedFunc(props, func(a, b cellProp) int { return cmp.Compare(a.key, b.key) }) || props[0].str != "3/1/2" {
			t.Errorf("incidents=%v: %v", inc, props)
		}
	}
}

func BenchmarkCellsMVT(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	tile := maptile.At(orb.Point{36.4, 33.5}, 12)
	tr := &tileRequest{tile: tile}
	cells := randomCells(rng, tile, false, false)
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			cellsMVT(tr, cells)
		}
	})
	b.Run("orb", func(b *testing.B) {
		for b.Loop() {
			ls := mvt.NewLayers(map[string]*geojson.FeatureCollection{MVTLayer: cellFeatures(tr, cells)})
			ls.ProjectToTile(tile)
			ls.Clip(mvt.MapboxGLDefaultExtentBound)
			mvt.Marshal(ls)
		}
	})
}
