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
