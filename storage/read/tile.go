package read

import "math"

// TileZoom is the zoom of the tile key stored on every row: the
// Web-Mercator quadkey of the tile containing the report (about 38 m at the
// equator). A tile at any zoom z <= TileZoom covers the contiguous key
// range TileRange returns.
//
// The arithmetic is that of github.com/paulmach/orb/maptile (At, Quadkey,
// FromQuadkey), written out here because importing maptile pulls in
// orb/geojson and its BSON dependency; tile_test.go checks known values.
const TileZoom = 20

// Tile is a Web-Mercator (slippy map) tile, as maptile.Tile.
type Tile struct {
	X, Y uint32
	Z    uint32
}

// TileOf returns the tile at zoom z containing a point, as maptile.At.
// Longitudes are wrapped into [-180, 180); latitudes beyond ±85.0511 fall
// in the edge row.
func TileOf(lon, lat float64, z uint32) Tile {
	if math.IsNaN(lon) || math.IsNaN(lat) {
		return Tile{Z: z}
	}
	lon = math.Mod(lon+180, 360)
	if lon < 0 {
		lon += 360
	}
	n := float64(uint64(1) << z)
	fx := lon / 360 * n
	var fy float64
	switch {
	case lat < -85.0511:
		fy = n - 1
	case lat > 85.0511:
		fy = 0
	default:
		siny := math.Sin(lat * math.Pi / 180)
		fy = (0.5 + 0.5*math.Log((1+siny)/(1-siny))/(-2*math.Pi)) * n
	}
	max := uint32(uint64(1)<<z - 1)
	t := Tile{X: uint32(fx), Y: uint32(fy), Z: z}
	if fx >= n {
		t.X = max
	}
	if fy >= n {
		t.Y = max
	}
	return t
}

// Quadkey is the tile's quadkey as an integer (two bits per zoom level,
// the most significant pair being zoom 1), as maptile.Tile.Quadkey.
func (t Tile) Quadkey() uint64 {
	var k uint64
	for i := uint64(0); i < uint64(t.Z); i++ {
		k |= (uint64(t.X) & (1 << i)) << i
		k |= (uint64(t.Y) & (1 << i)) << (i + 1)
	}
	return k
}

// TileFromQuadkey is the inverse of Quadkey, as maptile.FromQuadkey.
func TileFromQuadkey(k uint64, z uint32) Tile {
	t := Tile{Z: z}
	for i := uint32(0); i < z; i++ {
		t.X |= uint32((k & (1 << (2 * i))) >> i)
		t.Y |= uint32((k & (1 << (2*i + 1))) >> (i + 1))
	}
	return t
}

// TileKey returns the storage tile key of a point: the quadkey, at
// TileZoom, of the tile containing it.
func TileKey(lon, lat float64) uint64 { return TileOf(lon, lat, TileZoom).Quadkey() }

// TileRange returns the half-open range [lo, hi) of storage tile keys
// inside tile t: a query for t is `tile >= lo AND tile < hi`. A tile finer
// than TileZoom yields the range of its TileZoom ancestor.
func TileRange(t Tile) (lo, hi uint64) {
	if t.Z > TileZoom {
		d := t.Z - TileZoom
		t = Tile{X: t.X >> d, Y: t.Y >> d, Z: TileZoom}
	}
	shift := 2 * uint64(TileZoom-t.Z)
	qk := t.Quadkey()
	return qk << shift, (qk + 1) << shift
}

// TileAt returns the tile at zoom z (<= TileZoom) containing storage key k.
func TileAt(k uint64, z uint32) Tile {
	if z > TileZoom {
		z = TileZoom
	}
	return TileFromQuadkey(k>>(2*uint64(TileZoom-z)), z)
}

// BoxRanges returns at most four storage key ranges [lo, hi) that hold
// every point of b: the tiles of the deepest zoom at which b touches no
// more than four (2x2). A query for the points of b may add `tile` in one
// of them to its conditions, so that ClickHouse reads only their part of
// the key. nil when that would not narrow anything (b wraps the
// antimeridian, reaches 180°, or needs the whole world).
func BoxRanges(b Box) [][2]uint64 {
	if b.MaxLon >= 180 || b.MinLon > b.MaxLon || b.MinLat > b.MaxLat {
		return nil
	}
	for z := uint32(TileZoom); z > 0; z-- {
		t0, t1 := TileOf(b.MinLon, b.MaxLat, z), TileOf(b.MaxLon, b.MinLat, z) // top left, bottom right
		if t1.X < t0.X || t1.Y < t0.Y {
			return nil
		}
		if (t1.X-t0.X+1)*(t1.Y-t0.Y+1) > 4 {
			continue
		}
		var out [][2]uint64
		for y := t0.Y; y <= t1.Y; y++ {
			for x := t0.X; x <= t1.X; x++ {
				lo, hi := TileRange(Tile{X: x, Y: y, Z: z})
				out = append(out, [2]uint64{lo, hi})
			}
		}
		return out
	}
	return nil
}
