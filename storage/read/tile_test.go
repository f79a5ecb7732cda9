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
