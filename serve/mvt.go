package serve

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/paulmach/orb/maptile"
)

// cellProp is one property of a cell feature: the cell's name (key
// "cell") or a count.
type cellProp struct {
	key string
	str string // the value of "cell"
	n   int64
}

// The properties of a cell, sorted by key (vector tile readers expect no
// order, but a fixed one makes a tile's bytes and its ETag depend on its
// counts only). n_<category> counts are merged in by cellProps. An
// incident cell's are the incident counts of the other endpoints
// (coarse_incidents: the incidents too coarse for the zoom), its
// n_<category> counting incidents.
var (
	reportPropKeys   = []string{"cell", "coarse_reports", "injured", "killed", "possible_violations", "reports", "violations"}
	incidentPropKeys = []string{"cell", "coarse_incidents", "contested", "corroborated", "cross_groups", "incidents",
		"injured", "killed", "killed_min", "possible_violations", "reports", "single", "violations"}
)

// cellProps appends the properties of cell c, the tile t of the cell
// zoom, to dst in key order: the one definition of a cell's properties,
// for MVT and GeoJSON tiles alike.
func cellProps(dst []cellProp, incidents bool, t maptile.Tile, c *tileCell) []cellProp {
	var name [32]byte
	b := strconv.AppendUint(name[:0], uint64(t.Z), 10)
	b = strconv.AppendUint(append(b, '/'), uint64(t.X), 10)
	b = strconv.AppendUint(append(b, '/'), uint64(t.Y), 10)
	dst = append(dst, cellProp{key: "cell", str: string(b)})
	if incidents {
		for i, n := range [...]int64{c.coarse, c.contested, c.corroborated, c.crossGroups, c.incidents,
			c.injured, c.killed, c.killedMin, c.possibleViolations, c.reports, c.single, c.violations} {
			dst = append(dst, cellProp{key: incidentPropKeys[i+1], n: n})
		}
	} else {
		for i, n := range [...]int64{c.coarse, c.injured, c.killed, c.possibleViolations, c.reports, c.violations} {
			dst = append(dst, cellProp{key: reportPropKeys[i+1], n: n})
		}
	}
	if len(c.byCategory) == 0 {
		return dst
	}
	for cat, n := range c.byCategory {
		dst = append(dst, cellProp{key: "n_" + cat, n: n})
	}
	slices.SortFunc(dst, func(a, b cellProp) int { return cmp.Compare(a.key, b.key) })
	return dst
}

// mvtExtent is the tile's coordinate range (the spec's default): a cell is
// mvtExtent>>GridBits units wide.
const mvtExtent = 4096

// cellsMVT encodes cells as a vector tile (spec 2.1) of one layer,
// MVTLayer: a polygon per cell, the square of its place in the tile's
// 2^GridBits grid in exact tile coordinates, with the properties of
// cellProps and the cell's index in the grid (row-major) as its id. The
// protobuf is written here rather than by orb's encoder, which takes a
// feature collection in longitude and latitude, projects every corner
// back (in a check over zooms 0-18, 44% of the cells had a corner one
// unit off) and was three quarters of a grid tile's cost under load.
func cellsMVT(tr *tileRequest, cells []tileCell) []byte {
	w := mvtWriter{keys: map[string]uint32{}, strs: make(map[string]uint32, len(cells)), ints: make(map[int64]uint32, 2*len(cells)),
		feats: make([]byte, 0, 40*len(cells)), vals: make([]byte, 0, 24*len(cells))}
	var props []cellProp
	for i := range cells {
		t, dx, dy := tr.cellPlace(cells[i].key)
		props = cellProps(props[:0], tr.incidents, t, &cells[i])
		w.feature(cellID(dx, dy), dx, dy, props)
	}
	return w.tile(MVTLayer)
}

// cellPlace is the tile of the cell with key at tr's cell zoom, and its
// column and row in tr's grid.
func (tr *tileRequest) cellPlace(key uint64) (t maptile.Tile, dx, dy uint32) {
	t = maptile.FromQuadkey(key, tr.tile.Z+GridBits)
	return t, t.X - tr.tile.X<<GridBits, t.Y - tr.tile.Y<<GridBits
}

// cellID is a cell's feature id in MVT and GeoJSON tiles: its place in
// the grid, row-major.
func cellID(dx, dy uint32) uint64 { return uint64(dy<<GridBits + dx) }

// mvtWriter builds one layer: its features, and its keys and values,
// each written once and referred to by index.
type mvtWriter struct {
	feats, vals, keyBytes []byte
	keys, strs            map[string]uint32
	ints                  map[int64]uint32
	tags, geom, feat, msg []byte
}

// Protobuf wire types and the fields of vector_tile.proto used here.
const (
	wireVarint = 0
	wireBytes  = 2

	fieldTileLayers = 3

	fieldLayerName, fieldLayerFeatures, fieldLayerKeys, fieldLayerValues, fieldLayerExtent, fieldLayerVersion = 1, 2, 3, 4, 5, 15

	fieldFeatureID, fieldFeatureTags, fieldFeatureType, fieldFeatureGeometry = 1, 2, 3, 4

	fieldValueString, fieldValueSint = 1, 6

	geomPolygon = 3
)

// feature appends the polygon of the cell at (dx, dy) of the grid.
func (w *mvtWriter) feature(id uint64, dx, dy uint32, props []cellProp) {
	w.tags = w.tags[:0]
	for _, p := range props {
		w.tags = appendVarint(w.tags, uint64(w.key(p.key)))
		w.tags = appendVarint(w.tags, uint64(w.value(p)))
	}
	// MoveTo the top left corner, LineTo the three others clockwise (a
	// positive area in tile coordinates, y down: an exterior ring for
	// spec 2), ClosePath. Moves are relative to the previous point.
	const size = mvtExtent >> GridBits
	w.geom = appendVarint(w.geom[:0], command(1, 1))
	w.geom = appendVarint(w.geom, zigzag(int64(dx)*size))
	w.geom = appendVarint(w.geom, zigzag(int64(dy)*size))
	w.geom = appendVarint(w.geom, command(2, 3))
	for _, d := range [...][2]int64{{size, 0}, {0, size}, {-size, 0}} {
		w.geom = appendVarint(w.geom, zigzag(d[0]))
		w.geom = appendVarint(w.geom, zigzag(d[1]))
	}
	w.geom = appendVarint(w.geom, command(7, 1))

	w.feat = appendVarint(appendTag(w.feat[:0], fieldFeatureID, wireVarint), id)
	w.feat = appendBytes(appendTag(w.feat, fieldFeatureTags, wireBytes), w.tags)
	w.feat = appendVarint(appendTag(w.feat, fieldFeatureType, wireVarint), geomPolygon)
	w.feat = appendBytes(appendTag(w.feat, fieldFeatureGeometry, wireBytes), w.geom)
	w.feats = appendBytes(appendTag(w.feats, fieldLayerFeatures, wireBytes), w.feat)
}

func (w *mvtWriter) key(k string) uint32 {
	i, ok := w.keys[k]
	if !ok {
		i = uint32(len(w.keys))
		w.keys[k] = i
		w.keyBytes = appendString(appendTag(w.keyBytes, fieldLayerKeys, wireBytes), k)
	}
	return i
}

// value is the index of p's value, written the first time it is seen:
// the cell's name as a string, a count as a sint (as orb writes Go ints).
func (w *mvtWriter) value(p cellProp) uint32 {
	n := uint32(len(w.strs) + len(w.ints))
	if p.key == "cell" {
		if i, ok := w.strs[p.str]; ok {
			return i
		}
		w.strs[p.str] = n
		w.msg = appendString(appendTag(w.msg[:0], fieldValueString, wireBytes), p.str)
	} else {
		if i, ok := w.ints[p.n]; ok {
			return i
		}
		w.ints[p.n] = n
		w.msg = appendVarint(appendTag(w.msg[:0], fieldValueSint, wireVarint), zigzag(p.n))
	}
	w.vals = appendBytes(appendTag(w.vals, fieldLayerValues, wireBytes), w.msg)
	return n
}

// tile is the encoded tile of the one layer, fields in number order.
func (w *mvtWriter) tile(name string) []byte {
	layer := make([]byte, 0, len(name)+len(w.feats)+len(w.keyBytes)+len(w.vals)+16)
	layer = appendString(appendTag(layer, fieldLayerName, wireBytes), name)
	layer = append(layer, w.feats...)
	layer = append(layer, w.keyBytes...)
	layer = append(layer, w.vals...)
	layer = appendVarint(appendTag(layer, fieldLayerExtent, wireVarint), mvtExtent)
	layer = appendVarint(appendTag(layer, fieldLayerVersion, wireVarint), 2)
	out := make([]byte, 0, len(layer)+8)
	return appendBytes(appendTag(out, fieldTileLayers, wireBytes), layer)
}

func command(id, count uint32) uint64 { return uint64(id&7 | count<<3) }

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func appendTag(b []byte, field, wire int) []byte { return appendVarint(b, uint64(field<<3|wire)) }

func appendBytes(b, v []byte) []byte { return append(appendVarint(b, uint64(len(v))), v...) }

func appendString(b []byte, v string) []byte { return append(appendVarint(b, uint64(len(v))), v...) }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
