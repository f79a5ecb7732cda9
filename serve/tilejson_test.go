package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/trucewatch/trucewatch/storage/read"
)

// TestTileGeoJSONMatchesOrb holds the hand-written tile encoder to the
// bytes encoding/json gives for the orb features it replaced.
func TestTileGeoJSONMatchesOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tile := range []maptile.Tile{
		maptile.New(0, 0, 0), maptile.New(38, 25, 6), maptile.New(154, 100, 8), maptile.New(9847>>4, 6562>>4, 10),
		maptile.New(1<<17, 1<<17, 18), maptile.New(0, 0, 18), maptile.New(2464, 1616, 12), maptile.New(3, 1, 2),
	} {
		for _, kind := range []struct{ byCat, incidents bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			byCat := kind.byCat
			tr := &tileRequest{tile: tile, win: window{From: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC)},
				byCat: byCat, incidents: kind.incidents}
			cells := randomCells(rng, tile, kind.incidents, byCat)
			for _, cs := range [][]tileCell{cells, nil} {
				fc := cellFeatures(tr, cs)
				fc.ExtraMembers = geojson.Properties{}
				for _, kv := range tileExtra(tr, sourceTileAgg) {
					fc.ExtraMembers[kv[0]] = kv[1]
				}
				want, err := json.Marshal(fc)
				if err != nil {
					t.Fatal(err)
				}
				got := appendTileGeoJSON(nil, tr, cs, tileExtra(tr, sourceTileAgg))
				if !bytes.Equal(got, want) {
					t.Fatalf("tile %v %+v:\ngot  %.600s\nwant %.600s", tile, kind, got, want)
				}
			}
		}
	}
}

func TestAppendJSONFloat(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 36.36474609375, 1e-7, -3.2e-9, 1e21, 1.5e300, 123456789012, 5e-324} {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("%g: got %s, want %s", f, got, want)
		}
	}
}

func TestWeeks(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	for _, c := range []struct {
		from, to string
		want     []string // from..to
	}{
		{"2017-11-01", "2017-12-31", []string{"2017-11-01..2017-11-06", "2017-11-06..2017-11-13", "2017-11-13..2017-11-20", "2017-11-20..2017-11-27",
			"2017-11-27..2017-12-04", "2017-12-04..2017-12-11", "2017-12-11..2017-12-18", "2017-12-18..2017-12-25", "2017-12-25..2017-12-31"}},
		{"2017-01-02", "2017-01-09", []string{"2017-01-02..2017-01-09"}}, // a Monday to a Monday
		{"2017-01-08", "2017-01-10", []string{"2017-01-08..2017-01-09", "2017-01-09..2017-01-10"}},
		{"2017-01-03", "2017-01-04", []string{"2017-01-03..2017-01-04"}},
	} {
		var got []string
		for _, w := range weeks(window{From: d(c.from), To: d(c.to)}) {
			got = append(got, w.From.Format("2006-01-02")+".."+w.To.Format("2006-01-02"))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("weeks(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

// TestCellGrid: the weeks of a window summed into one tile's grid, narrow
// and wide pyramids alike, coarse reports apart, cells outside the tile
// left out; the pyramids' own category maps are left as they were, and
// the grid is empty again once taken.
func TestCellGrid(t *testing.T) {
	tile := read.TileOf(36.4, 33.55, 12)
	tr := &tileRequest{tile: maptile.New(tile.X, tile.Y, 12)}
	coarse := -1
	for i, pr := range read.Precisions {
		if read.MaxZoom(pr) < 12 {
			coarse = i
			break
		}
	}
	base := tile.Quadkey() << (2 * GridBits)
	key := func(cell uint64, prec int) uint64 { return (base+cell)<<precisionBits | uint64(prec) }
	narrow := newPyramid([]tileCell{{key: key(1, 0), reports: 2, killed: 1}, {key: key(1, coarse), reports: 5},
		{key: key(200, 0), reports: 1}, {key: key(256, 0), reports: 9}}, PyramidZoom)
	cats := map[string]int64{"shelling": 3}
	wide := newPyramid([]tileCell{{key: key(1, 0), reports: 3, byCategory: cats}}, PyramidZoom)
	if narrow.wide != nil || wide.wide == nil {
		t.Fatal("want one narrow and one wide pyramid")
	}
	want := fmt.Sprint([]tileCell{{key: base + 1, reports: 5, killed: 1, coarse: 5, byCategory: map[string]int64{"shelling": 3}}, {key: base + 200, reports: 1}})
	for range 2 {
		g := gridPool.Get().(*cellGrid)
		narrow.addTo(g, tr)
		wide.addTo(g, tr)
		if got := fmt.Sprint(g.take()); got != want {
			t.Errorf("summed %v, want %v", got, want)
		}
		if rest := g.take(); len(rest) != 0 || cats["shelling"] != 3 {
			t.Errorf("after take: %v left, the pyramid's categories %v", rest, cats)
		}
		gridPool.Put(g)
	}
}

// TestMetatile: every tile's metatile contains it with cells no coarser
// than the tile's own and no finer than the store's key; above the
// pyramids, zooms 13 and 14 (and 15 and 16) share theirs.
func TestMetatile(t *testing.T) {
	for _, maxCell := range []uint32{read.TileZoom, read.IncidentTileZoom} {
		for z := uint32(MetatileLevels); z+GridBits <= maxCell; z++ {
			region, cells := metatile(z, maxCell)
			if region > z || cells < z+GridBits || cells > maxCell || cells-region > 2*GridBits+2 {
				t.Errorf("max %d: zoom %d: region %d, cells %d", maxCell, z, region, cells)
			}
		}
	}
	for _, pair := range [][2]uint32{{13, 14}, {15, 16}} {
		r0, c0 := metatile(pair[0], read.TileZoom)
		r1, c1 := metatile(pair[1], read.TileZoom)
		if r0 != r1 || c0 != c1 {
			t.Errorf("zooms %v: metatiles %d/%d and %d/%d", pair, r0, c0, r1, c1)
		}
	}
	if r, c := metatile(12, read.TileZoom); r != 10 || c != 16 {
		t.Errorf("zoom 12: %d/%d, want the ancestor two up with its own cells", r, c)
	}
}

// cellFeatures turns cells into orb polygon features, the cell's square
// with the properties of cellProps, in quadkey order: the reference the
// hand-written tile encoders are held to.
func cellFeatures(tr *tileRequest, cells []tileCell) *geojson.FeatureCollection {
	cz := maptile.Zoom(uint32(tr.tile.Z) + GridBits)
	fc := geojson.NewFeatureCollection()
	fc.Features = make([]*geojson.Feature, 0, len(cells))
	var props []cellProp
	for i := range cells {
		t := maptile.FromQuadkey(cells[i].key, cz)
		f := geojson.NewFeature(t.Bound().ToPolygon())
		f.ID = int((t.Y-tr.tile.Y<<GridBits)<<GridBits + (t.X - tr.tile.X<<GridBits))
		props = cellProps(props[:0], tr.incidents, t, &cells[i])
		f.Properties = propsMap(props)
		fc.Features = append(fc.Features, f)
	}
	return fc
}

// propsMap is props as GeoJSON properties.
func propsMap(props []cellProp) geojson.Properties {
	m := make(geojson.Properties, len(props))
	for _, p := range props {
		if p.key == "cell" {
			m[p.key] = p.str
			continue
		}
		m[p.key] = p.n
	}
	return m
}
