package serve

import (
	"math"
	"strconv"

	"github.com/paulmach/orb/maptile"
)

// appendTileGeoJSON writes the GeoJSON of a tile's cells, report or
// incident counts: the bytes json.Marshal gives for orb features of the
// cells with the tile's extra members (TestTileGeoJSONMatchesOrb holds it
// to that), without building features and property maps or re-compacting
// their JSON, which cost a quarter of the server's CPU under the load
// benchmark.
func appendTileGeoJSON(b []byte, tr *tileRequest, cells []tileCell, extra [][2]string) []byte {
	lines := gridLines(tr.tile)
	b = append(b, `{"features":[`...)
	var props []cellProp
	for i := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		t, dx, dy := tr.cellPlace(cells[i].key)
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, cellID(dx, dy), 10)
		b = append(b, `,"type":"Feature","geometry":{"type":"Polygon","coordinates":[[`...)
		// The cell's Bound, south-west corner first, anticlockwise.
		for j, c := range [5][2]uint32{{dx, dy + 1}, {dx + 1, dy + 1}, {dx + 1, dy}, {dx, dy}, {dx, dy + 1}} {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = append(b, lines.lon(c[0])...)
			b = append(b, ',')
			b = append(b, lines.lat(c[1])...)
			b = append(b, ']')
		}
		b = append(b, `]]},"properties":{`...)
		props = cellProps(props[:0], tr.incidents, t, &cells[i])
		for j, p := range props {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, p.key...) // property names and categories are plain ASCII
			b = append(b, `":`...)
			if p.key == "cell" {
				b = strconv.AppendQuote(b, p.str)
				continue
			}
			b = strconv.AppendInt(b, p.n, 10)
		}
		b = append(b, "}}"...)
	}
	b = append(b, ']')
	for _, kv := range extra { // sorted by key, before "type"
		b = append(b, ',')
		b = strconv.AppendQuote(b, kv[0])
		b = append(b, ':')
		b = strconv.AppendQuote(b, kv[1])
	}
	return append(b, `,"type":"FeatureCollection"}`...)
}

// tileGrid holds the coordinates of the lines of a tile's cell grid as
// JSON numbers: every cell corner is one of them, formatted once per tile
// rather than eight times per cell.
type tileGrid struct {
	buf []byte
	// Longitude line i is buf[off[i]:off[i+1]], latitude line i is
	// buf[off[n+i]:off[n+i+1]], n = 1<<GridBits + 1 lines each.
	off [2*(1<<GridBits+1) + 1]int
}

// gridLines are the grid's lines, west to east and north to south, taken
// from the cells' own Bounds so that each corner is the float a cell's
// Bound gives.
func gridLines(tile maptile.Tile) *tileGrid {
	const n = 1<<GridBits + 1
	var v [2 * n]float64
	for i := uint32(0); i < n-1; i++ {
		bd := maptile.New(tile.X<<GridBits+i, tile.Y<<GridBits+i, tile.Z+GridBits).Bound()
		v[i], v[n+i] = bd.Min[0], bd.Max[1]
		v[i+1], v[n+i+1] = bd.Max[0], bd.Min[1]
	}
	g := &tileGrid{buf: make([]byte, 0, 2*n*20)}
	for i, f := range v {
		g.off[i] = len(g.buf)
		g.buf = appendJSONFloat(g.buf, f)
	}
	g.off[2*n] = len(g.buf)
	return g
}

func (g *tileGrid) lon(i uint32) []byte { return g.buf[g.off[i]:g.off[i+1]] }

func (g *tileGrid) lat(i uint32) []byte {
	const n = 1<<GridBits + 1
	return g.buf[g.off[n+i]:g.off[n+i+1]]
}

// appendJSONFloat formats f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
