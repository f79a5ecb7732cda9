package read

import "testing"

func TestTile(t *testing.T) {
	// Known slippy-map tiles (as maptile.At computes them).
	for _, c := range []struct {
		lon, lat float64
		z        uint32
		want     Tile
	}{
		{0, 0, 1, Tile{1, 1, 1}},
		{-180, 85.06, 3, Tile{0, 0, 3}},
		{180, -86, 3, Tile{7, 7, 3}}, // 180 wraps to -180
		{179.9999, -86, 3, Tile{7, 7, 3}},
		{37.15, 36.2, 10, Tile{617, 401, 10}}, // standard slippy-map formula
	} {
		got := TileOf(c.lon, c.lat, c.z)
		if c.lon == 180 {
			c.want.X = 0
		}
		if got != c.want {
			t.Errorf("TileOf(%v, %v, %d) = %+v, want %+v", c.lon, c.lat, c.z, got, c.want)
		}
	}
	// Quadkey round trip and nesting: every point's key lies in the range
	// of each of its ancestors.
	for _, p := range [][2]float64{{37.15, 36.2}, {-122.4, 37.8}, {151.2, -33.9}, {0, 0}} {
		k := TileKey(p[0], p[1])
		if TileFromQuadkey(k, TileZoom) != TileOf(p[0], p[1], TileZoom) {
			t.Fatalf("round trip %v", p)
		}
		for z := uint32(0); z <= TileZoom+2; z++ {
			lo, hi := TileRange(TileOf(p[0], p[1], z))
			if k < lo || k >= hi {
				t.Fatalf("%v: key %d not in zoom %d range [%d, %d)", p, k, z, lo, hi)
			}
			if z <= TileZoom && TileAt(k, z) != TileOf(p[0], p[1], z) {
				t.Fatalf("%v: TileAt zoom %d", p, z)
			}
		}
	}
	if lo, hi := TileRange(Tile{}); lo != 0 || hi != 1<<(2*TileZoom) {
		t.Fatalf("world range [%d, %d)", lo, hi)
	}
}

// TestBoxRanges: every point of a box lies in one of its ranges, and the
// ranges are tiles deeper than the world.
func TestBoxRanges(t *testing.T) {
	boxes := []Box{
		{36.30, 33.50, 36.45, 33.60}, // eastern Ghouta
		{35.0, 32.0, 42.5, 37.5},     // Syria
		{36.2999, 33.4999, 36.3001, 33.5001},
		{-0.01, -0.01, 0.01, 0.01}, // across the meridian and the equator
		{170, -10, 179.99, 10},
	}
	for _, b := range boxes {
		rs := BoxRanges(b)
		if len(rs) == 0 || len(rs) > 4 {
			t.Fatalf("%+v: %d ranges", b, len(rs))
		}
		for i := 0; i <= 20; i++ {
			for j := 0; j <= 20; j++ {
				lon := b.MinLon + (b.MaxLon-b.MinLon)*float64(i)/20
				lat := b.MinLat + (b.MaxLat-b.MinLat)*float64(j)/20
				k, in := TileKey(lon, lat), false
				for _, r := range rs {
					in = in || (k >= r[0] && k < r[1])
				}
				if !in {
					t.Fatalf("%+v: point %v,%v (key %d) in no range %v", b, lon, lat, k, rs)
				}
			}
		}
	}
	for _, b := range []Box{{-180, -90, 180, 90}, {170, 0, 180, 1}, {10, 0, 5, 1}} {
		if rs := BoxRanges(b); rs != nil {
			t.Errorf("%+v: %v, want none", b, rs)
		}
	}
}
