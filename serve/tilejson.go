package serve

import (
	"math"
	"sort"
	"strconv"

	"github.com/paulmach/orb/maptile"
)

// appendTileGeoJSON writes the GeoJSON of a tile's cells: the bytes
// json.Marshal gives for cellFeatures with the tile's extra members
// (TestTileGeoJSONMatchesOrb holds it to that), without building features
// and property maps or re-compacting their JSON, which cost a quarter of
// the server's CPU under the load benchmark.
func appendTileGeoJSON(b []byte, tr *tileRequest, cells []tileCell, extra [][2]string) []byte {
	cz := maptile.Zoom(uint32(tr.tile.Z) + GridBits)
	b = append(b, `{"features":[`...)
	var cats []string
	for i, c := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		t := maptile.FromQuadkey(c.key, cz)
		bd := t.Bound()
		id := int((t.Y-tr.tile.Y<<GridBits)<<GridBits + (t.X - tr.tile.X<<GridBits))
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, `,"type":"Feature","geometry":{"type":"Polygon","coordinates":[[`...)
		ring := [5][2]float64{
			{bd.Min[0], bd.Min[1]}, {bd.Max[0], bd.Min[1]}, {bd.Max[0], bd.Max[1]}, {bd.Min[0], bd.Max[1]}, {bd.Min[0], bd.Min[1]},
		}
		for j, p := range ring {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendJSONFloat(b, p[0])
			b = append(b, ',')
			b = appendJSONFloat(b, p[1])
			b = append(b, ']')
		}
		b = append(b, `]]},"properties":{"cell":"`...)
		b = strconv.AppendUint(b, uint64(t.Z), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(t.X), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(t.Y), 10)
		b = append(b, `","coarse_reports":`...)
		b = strconv.AppendInt(b, c.coarse, 10)
		b = append(b, `,"injured":`...)
		b = strconv.AppendInt(b, c.injured, 10)
		b = append(b, `,"killed":`...)
		b = strconv.AppendInt(b, c.killed, 10)
		// n_<category> sorts between "killed" and "reports".
		cats = cats[:0]
		for cat := range c.byCategory {
			cats = append(cats, cat)
		}
		sort.Strings(cats)
		for _, cat := range cats {
			b = append(b, `,"n_`...)
			b = append(b, cat...) // categories are report.Category values: plain ASCII
			b = append(b, `":`...)
			b = strconv.AppendInt(b, c.byCategory[cat], 10)
		}
		b = append(b, `,"possible_violations":`...)
		b = strconv.AppendInt(b, c.possibleViolations, 10)
		b = append(b, `,"reports":`...)
		b = strconv.AppendInt(b, c.reports, 10)
		b = append(b, `,"violations":`...)
		b = strconv.AppendInt(b, c.violations, 10)
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
