package geo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// The embedded boundaries are data/admin.bin, a compact form of
// data/syria-adm{1,2,3}.geojson (the source of truth), made and checked by
//
//	go test ./geo -run TestAdminData -update
//
// It parses in a few milliseconds where the GeoJSON takes about 0.3 s.
// Format: the magic line, then for each level 1..3 a uvarint count of
// areas, each as strings (uvarint length + bytes) pcode, name, Arabic
// name, adm1, adm2, a byte 0 (Polygon) or 1 (MultiPolygon), uvarint counts
// of polygons, rings and positions, and the positions as zigzag varint
// deltas of integer micro-degrees (the GeoJSON has 6 decimals; the encoder
// refuses any coordinate that does not round-trip exactly).
const adminMagic = "trucewatch admin v1\n"

// parseAdminGeoJSON reads the three GeoJSON levels from fsys.
func parseAdminGeoJSON(fsys fs.FS) ([3][]*Area, error) {
	var levels [3][]*Area
	for level := 1; level <= 3; level++ {
		name := fmt.Sprintf("syria-adm%d.geojson", level)
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return levels, fmt.Errorf("geo: load admin: %w", err)
		}
		fc, err := geojson.UnmarshalFeatureCollection(raw)
		if err != nil {
			return levels, fmt.Errorf("geo: load admin %s: %w", name, err)
		}
		areas := make([]*Area, 0, len(fc.Features))
		for i, f := range fc.Features {
			ar := &Area{
				Level:  level,
				PCode:  f.Properties.MustString(fmt.Sprintf("adm%d_pcode", level), ""),
				Name:   f.Properties.MustString(fmt.Sprintf("adm%d_name", level), ""),
				NameAR: f.Properties.MustString(fmt.Sprintf("adm%d_name1", level), ""),
				Adm1:   f.Properties.MustString("adm1_pcode", ""),
			}
			if level == 3 {
				ar.Adm2 = f.Properties.MustString("adm2_pcode", "")
			}
			switch g := f.Geometry.(type) {
			case orb.Polygon, orb.MultiPolygon:
				ar.Geometry = g
			default:
				return levels, fmt.Errorf("geo: load admin %s: feature %d: geometry %T is not a polygon", name, i, f.Geometry)
			}
			areas = append(areas, ar)
		}
		sort.Slice(areas, func(i, j int) bool { return areas[i].PCode < areas[j].PCode })
		levels[level-1] = areas
	}
	return levels, nil
}

func encodeAdmin(levels [3][]*Area) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(adminMagic)
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { b.Write(tmp[:binary.PutUvarint(tmp[:], v)]) }
	sv := func(v int64) { b.Write(tmp[:binary.PutVarint(tmp[:], v)]) }
	str := func(s string) { uv(uint64(len(s))); b.WriteString(s) }
	for _, areas := range levels {
		uv(uint64(len(areas)))
		for _, ar := range areas {
			str(ar.PCode)
			str(ar.Name)
			str(ar.NameAR)
			str(ar.Adm1)
			str(ar.Adm2)
			var polys []orb.Polygon
			switch g := ar.Geometry.(type) {
			case orb.Polygon:
				b.WriteByte(0)
				polys = []orb.Polygon{g}
			case orb.MultiPolygon:
				b.WriteByte(1)
				polys = g
			default:
				return nil, fmt.Errorf("geo: encode admin %s: geometry %T", ar.PCode, ar.Geometry)
			}
			uv(uint64(len(polys)))
			var px, py int64
			for _, p := range polys {
				uv(uint64(len(p)))
				for _, r := range p {
					uv(uint64(len(r)))
					for _, pt := range r {
						x, y := int64(math.Round(pt[0]*1e6)), int64(math.Round(pt[1]*1e6))
						if float64(x)/1e6 != pt[0] || float64(y)/1e6 != pt[1] {
							return nil, fmt.Errorf("geo: encode admin %s: %v has more than 6 decimals", ar.PCode, pt)
						}
						sv(x - px)
						sv(y - py)
						px, py = x, y
					}
				}
			}
		}
	}
	return b.Bytes(), nil
}

var errAdminData = errors.New("geo: embedded admin data is corrupt")

func decodeAdmin(raw []byte) ([3][]*Area, error) {
	var levels [3][]*Area
	if !bytes.HasPrefix(raw, []byte(adminMagic)) {
		return levels, errAdminData
	}
	d := adminReader{d: raw[len(adminMagic):]}
	for level := 1; level <= 3 && !d.bad; level++ {
		n := d.count()
		areas := make([]*Area, 0, n)
		for i := 0; i < n && !d.bad; i++ {
			ar := d.area(level)
			if ar == nil {
				break
			}
			areas = append(areas, ar)
		}
		levels[level-1] = areas
	}
	if d.bad || len(d.d) != 0 {
		return levels, errAdminData
	}
	return levels, nil
}

// adminReader reads the encoding of data/admin.bin from d; a read past the
// end or a bad varint sets bad: the data is corrupt.
type adminReader struct {
	d   []byte // what is left to read
	bad bool
}

func (d *adminReader) uv() uint64 {
	v, n := binary.Uvarint(d.d)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.d = d.d[n:]
	return v
}

func (d *adminReader) str() string {
	n := d.count() // a length, bounded the same way
	s := string(d.d[:n])
	d.d = d.d[n:]
	return s
}

// count reads a count. Every count is bounded by the bytes left, so
// corrupt data cannot make huge allocations.
func (d *adminReader) count() int {
	n := d.uv()
	if n > uint64(len(d.d)) {
		d.bad = true
		return 0
	}
	return int(n)
}

// area reads one area of the level: nil when the data ends before its
// geometry type.
func (d *adminReader) area(level int) *Area {
	ar := &Area{Level: level, PCode: d.str(), Name: d.str(), NameAR: d.str(), Adm1: d.str(), Adm2: d.str()}
	if len(d.d) == 0 {
		d.bad = true
		return nil
	}
	multi := d.d[0] == 1
	d.d = d.d[1:]
	polys := d.polygons()
	if multi {
		ar.Geometry = orb.MultiPolygon(polys)
	} else if len(polys) == 1 {
		ar.Geometry = polys[0]
	} else {
		d.bad = true
	}
	return ar
}

// polygons reads the polygons of one area, whose positions are deltas
// from the previous one of the area.
func (d *adminReader) polygons() []orb.Polygon {
	polys := make([]orb.Polygon, d.count())
	var px, py int64
	for pi := range polys {
		p := make(orb.Polygon, d.count())
		for ri := range p {
			r := make(orb.Ring, d.count())
			px, py = d.positions(r, px, py)
			p[ri] = r
		}
		polys[pi] = p
	}
	return polys
}

// positions fills r with positions read as zigzag varint deltas of
// micro-degrees from (px, py), and returns the last one.
func (d *adminReader) positions(r orb.Ring, px, py int64) (int64, int64) {
	b := d.d
	for k := range r {
		dx, n := binary.Varint(b)
		if n <= 0 {
			d.bad = true
			break
		}
		dy, m := binary.Varint(b[n:])
		if m <= 0 {
			d.bad = true
			break
		}
		b = b[n+m:]
		px, py = px+dx, py+dy
		r[k] = orb.Point{float64(px) / 1e6, float64(py) / 1e6}
	}
	d.d = b
	return px, py
}
