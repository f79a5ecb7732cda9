package geo

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Zone kinds.
const (
	KindCeasefire    = "ceasefire"     // a ceasefire area
	KindDeEscalation = "de_escalation" // a de-escalation zone
	KindExcludedArea = "excluded_area" // an area excluded from the arrangements around it
	KindBuffer       = "buffer"        // a buffer or demilitarised strip
)

// kinds lists the known zone kinds.
var kinds = []string{KindCeasefire, KindDeEscalation, KindExcludedArea, KindBuffer}

// Kinds returns the known zone kinds (a new slice).
func Kinds() []string { return slices.Clone(kinds) }

// Zone is one truce zone. Its area is either Geometry (inline) or the union
// of the sub-districts under PCodes.
type Zone struct {
	ID         string
	Name       string
	Kind       string
	ValidFrom  time.Time
	ValidTo    time.Time // zero: open-ended; exclusive
	Guarantors []string
	Sources    []string
	Excludes   []string // parties excluded from the arrangement, as written
	Note       string
	PCodes     []string     // admin pcodes whose sub-districts make the zone
	Geometry   orb.Geometry // orb.Polygon or orb.MultiPolygon, when inline
}

// InForce reports whether the zone is in force at t. A zero t is always.
func (z *Zone) InForce(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	return !t.Before(z.ValidFrom) && (z.ValidTo.IsZero() || t.Before(z.ValidTo))
}

// ZoneSet is a set of zones read from one file.
type ZoneSet struct {
	Name        string
	Description string
	Sources     []string
	Version     string // "sha256:" and 16 hex digits of the file's content
	Zones       []Zone
}

// ZoneError is one problem of one zone.
type ZoneError struct {
	Zone    string // the zone id, or "#N" (feature index) when it has none
	Problem string
}

func (e ZoneError) Error() string { return "zone " + e.Zone + ": " + e.Problem }

// ValidationError lists every problem found in a zone-set file.
type ValidationError struct {
	Set      string
	Problems []ZoneError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "geo: zone set %q: %d problem(s)", e.Set, len(e.Problems))
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-10)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// ErrNoAdmin is returned for a zone set that names pcodes when no Admin
// was given to resolve them.
var ErrNoAdmin = errors.New("geo: zone set uses pcodes but no admin boundaries were given")

var zoneIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadZoneSet reads and validates a zone-set file (see ZONES.md). a
// resolves pcodes and may be nil when every zone is inline. Problems are
// returned together as a *ValidationError.
func LoadZoneSet(r io.Reader, a *Admin) (*ZoneSet, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("geo: read zone set: %w", err)
	}
	return parseZoneSet(raw, a, "")
}

func parseZoneSet(raw []byte, a *Admin, defaultName string) (*ZoneSet, error) {
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		return nil, fmt.Errorf("geo: zone set: not a GeoJSON FeatureCollection: %w", err)
	}
	sum := sha256.Sum256(raw)
	zs := &ZoneSet{
		Name:    defaultName,
		Version: "sha256:" + hex.EncodeToString(sum[:])[:16],
	}
	if fc.ExtraMembers != nil {
		zs.Name = fc.ExtraMembers.MustString("name", zs.Name)
		zs.Description = fc.ExtraMembers.MustString("description", "")
		zs.Sources = stringList(fc.ExtraMembers["sources"])
	}
	if zs.Name == "" {
		zs.Name = zs.Version
	}
	verr := &ValidationError{Set: zs.Name}
	if len(fc.Features) == 0 {
		verr.Problems = append(verr.Problems, ZoneError{"-", "the set has no zones"})
	}
	seen := map[string]bool{}
	for i, f := range fc.Features {
		z, problems := parseZone(f, a)
		label := z.ID
		if label == "" {
			label = fmt.Sprintf("#%d", i)
		} else if seen[label] {
			problems = append(problems, "duplicate id")
		}
		seen[label] = true
		for _, p := range problems {
			verr.Problems = append(verr.Problems, ZoneError{label, p})
		}
		zs.Zones = append(zs.Zones, z)
	}
	if len(verr.Problems) > 0 {
		for _, p := range verr.Problems {
			if p.Problem == ErrNoAdmin.Error() {
				return nil, fmt.Errorf("%w (zone %s)", ErrNoAdmin, p.Zone)
			}
		}
		return nil, verr
	}
	return zs, nil
}

func parseZone(f *geojson.Feature, a *Admin) (Zone, []string) {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	p := f.Properties
	z := Zone{
		ID:         propString(p, "id"),
		Name:       propString(p, "name"),
		Kind:       propString(p, "kind"),
		Guarantors: stringList(p["guarantors"]),
		Sources:    append(stringList(p["source"]), stringList(p["sources"])...),
		Excludes:   stringList(p["excludes"]),
		Note:       propString(p, "note"),
		PCodes:     stringList(p["pcodes"]),
	}
	if z.ID == "" {
		if f.ID != nil {
			z.ID = fmt.Sprint(f.ID)
		}
	}
	switch {
	case z.ID == "":
		bad("missing id")
	case !zoneIDRe.MatchString(z.ID):
		bad("id %q: use letters, digits, '.', '_' or '-' (at most 64)", z.ID)
	}
	if z.Name == "" {
		z.Name = z.ID
	}
	if z.Kind == "" {
		bad("missing kind (one of %s)", strings.Join(kinds, ", "))
	} else if !knownKind(z.Kind) {
		bad("unknown kind %q (one of %s)", z.Kind, strings.Join(kinds, ", "))
	}
	var err error
	if s := propString(p, "valid_from"); s == "" {
		bad("missing valid_from")
	} else if z.ValidFrom, err = parseZoneTime(s, false); err != nil {
		bad("valid_from: %v", err)
	}
	if s := propString(p, "valid_to"); s != "" {
		if z.ValidTo, err = parseZoneTime(s, true); err != nil {
			bad("valid_to: %v", err)
		} else if !z.ValidFrom.IsZero() && !z.ValidTo.After(z.ValidFrom) {
			bad("valid_to %s is not after valid_from %s", s, propString(p, "valid_from"))
		}
	}
	switch {
	case f.Geometry != nil && len(z.PCodes) > 0:
		bad("has both a geometry and pcodes: give one")
	case f.Geometry == nil && len(z.PCodes) == 0:
		bad("has neither a geometry nor pcodes")
	case len(z.PCodes) > 0:
		if a == nil {
			bad("%s", ErrNoAdmin.Error())
			break
		}
		for _, pc := range z.PCodes {
			if _, ok := a.subDistricts(pc); !ok {
				bad("unknown pcode %q", pc)
			}
		}
	default:
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			z.Geometry = g
		case orb.MultiPolygon:
			z.Geometry = g
		default:
			bad("geometry is a %s, want Polygon or MultiPolygon", f.Geometry.GeoJSONType())
		}
		if z.Geometry != nil {
			probs = append(probs, checkGeometry(z.Geometry)...)
		}
	}
	return z, probs
}

func knownKind(k string) bool {
	for _, x := range kinds {
		if k == x {
			return true
		}
	}
	return false
}

// parseZoneTime reads an RFC 3339 time or a date. A date means the start of
// that day in UTC; as an end (valid_to) it means the end of that day.
func parseZoneTime(s string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2017-05-06) nor an RFC 3339 time", s)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

func propString(p geojson.Properties, key string) string {
	switch v := p[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

// stringList reads a string or a list of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		if v = strings.TrimSpace(v); v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return out
	}
	return nil
}

// checkGeometry names the problems of an inline polygon: bad coordinates,
// open or short rings, and edges that cross or touch other than at the
// shared vertex of consecutive edges (self-intersection; this also rejects
// a hole touching its shell, and members of a MultiPolygon that overlap).
func checkGeometry(g orb.Geometry) []string {
	var polys []orb.Polygon
	switch g := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{g}
	case orb.MultiPolygon:
		polys = g
	}
	if len(polys) == 0 {
		return []string{"empty geometry"}
	}
	edges, probs := polygonEdges(polys)
	if len(probs) > 0 {
		return probs
	}
	return selfIntersections(edges)
}

// ringEdge is an edge of a checked ring: edge i of the n edges of ring
// number ring.
type ringEdge struct {
	seg
	ring, i, n int
}

// polygonEdges returns the edges of polys' rings, repeated positions
// dropped, or the problems of their rings; after a coordinate that is not
// a longitude/latitude it stops.
func polygonEdges(polys []orb.Polygon) (edges []ringEdge, probs []string) {
	ringNo := 0
	for pi, poly := range polys {
		if len(poly) == 0 {
			probs = append(probs, fmt.Sprintf("polygon %d has no rings", pi))
		}
		for ri, r := range poly {
			name := fmt.Sprintf("ring %d", ri)
			if len(polys) > 1 {
				name = fmt.Sprintf("polygon %d ring %d", pi, ri)
			}
			rr, prob, fatal := checkRing(name, r)
			if prob != "" {
				probs = append(probs, prob)
				if fatal {
					return edges, probs
				}
				continue
			}
			n := len(rr) - 1
			for i := 0; i < n; i++ {
				edges = append(edges, ringEdge{seg{rr[i][0], rr[i][1], rr[i+1][0], rr[i+1][1]}, ringNo, i, n})
			}
			ringNo++
		}
	}
	return edges, probs
}

// checkRing returns r without repeated positions, or the problem of r
// (fatal: a coordinate that is not a longitude/latitude).
func checkRing(name string, r orb.Ring) (rr orb.Ring, prob string, fatal bool) {
	for _, pt := range r {
		if !(pt[0] >= -180 && pt[0] <= 180 && pt[1] >= -90 && pt[1] <= 90) {
			return nil, fmt.Sprintf("%s: coordinate %v is not a longitude/latitude", name, pt), true
		}
	}
	if len(r) > 0 && r[0] != r[len(r)-1] {
		return nil, fmt.Sprintf("%s is not closed (first position %v, last %v)", name, r[0], r[len(r)-1]), false
	}
	// Drop repeated positions before counting.
	for i, pt := range r {
		if i == 0 || pt != r[i-1] {
			rr = append(rr, pt)
		}
	}
	if len(rr) < 4 {
		return nil, fmt.Sprintf("%s has %d distinct positions, need at least 4 with the closing one", name, len(rr)), false
	}
	return rr, "", false
}

// selfIntersections names the edges that cross or touch other than at
// the shared vertex of consecutive edges, the first 5 at most. It sorts
// edges.
func selfIntersections(edges []ringEdge) []string {
	var probs []string
	sort.Slice(edges, func(i, j int) bool {
		return math.Min(edges[i].ax, edges[i].bx) < math.Min(edges[j].ax, edges[j].bx)
	})
	found := 0
	for i := range edges {
		e := &edges[i]
		maxX := math.Max(e.ax, e.bx)
		for j := i + 1; j < len(edges) && math.Min(edges[j].ax, edges[j].bx) <= maxX; j++ {
			f := &edges[j]
			if math.Max(e.ay, e.by) < math.Min(f.ay, f.by) || math.Max(f.ay, f.by) < math.Min(e.ay, e.by) {
				continue
			}
			adjacent := e.ring == f.ring && ((e.i+1)%e.n == f.i || (f.i+1)%f.n == e.i)
			if adjacent {
				if collinearOverlap(&e.seg, &f.seg) {
					probs = append(probs, fmt.Sprintf("self-intersection: consecutive edges fold back near %v", orb.Point{f.ax, f.ay}))
					found++
				}
			} else if segmentsIntersect(&e.seg, &f.seg) {
				probs = append(probs, fmt.Sprintf("self-intersection: edges %v-%v and %v-%v meet",
					orb.Point{e.ax, e.ay}, orb.Point{e.bx, e.by}, orb.Point{f.ax, f.ay}, orb.Point{f.bx, f.by}))
				found++
			}
			if found == 5 {
				return append(probs, "self-intersection: stopped after 5")
			}
		}
	}
	return probs
}

func orient(ax, ay, bx, by, cx, cy float64) float64 {
	return (bx-ax)*(cy-ay) - (by-ay)*(cx-ax)
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func onSeg(e *seg, x, y float64) bool {
	return x >= math.Min(e.ax, e.bx) && x <= math.Max(e.ax, e.bx) && y >= math.Min(e.ay, e.by) && y <= math.Max(e.ay, e.by)
}

// segmentsIntersect reports whether e and f share any point.
func segmentsIntersect(e, f *seg) bool {
	d1 := sign(orient(f.ax, f.ay, f.bx, f.by, e.ax, e.ay))
	d2 := sign(orient(f.ax, f.ay, f.bx, f.by, e.bx, e.by))
	d3 := sign(orient(e.ax, e.ay, e.bx, e.by, f.ax, f.ay))
	d4 := sign(orient(e.ax, e.ay, e.bx, e.by, f.bx, f.by))
	if d1*d2 < 0 && d3*d4 < 0 {
		return true
	}
	return (d1 == 0 && onSeg(f, e.ax, e.ay)) || (d2 == 0 && onSeg(f, e.bx, e.by)) ||
		(d3 == 0 && onSeg(e, f.ax, f.ay)) || (d4 == 0 && onSeg(e, f.bx, f.by))
}

// collinearOverlap reports whether two consecutive edges lie on one line
// and overlap beyond their shared vertex (a spike).
func collinearOverlap(e, f *seg) bool {
	if orient(e.ax, e.ay, e.bx, e.by, f.ax, f.ay) != 0 || orient(e.ax, e.ay, e.bx, e.by, f.bx, f.by) != 0 {
		return false
	}
	// Shared vertex s; the other ends p (of e) and q (of f) must be on
	// opposite sides of s.
	var sx, sy, px, py, qx, qy float64
	switch {
	case e.bx == f.ax && e.by == f.ay:
		sx, sy, px, py, qx, qy = e.bx, e.by, e.ax, e.ay, f.bx, f.by
	case f.bx == e.ax && f.by == e.ay:
		sx, sy, px, py, qx, qy = e.ax, e.ay, e.bx, e.by, f.ax, f.ay
	default:
		return true
	}
	return (px-sx)*(qx-sx)+(py-sy)*(qy-sy) > 0
}

// The shipped zone sets, see zones/*.geojson.
//
//go:embed zones/*.geojson
var zonesFS embed.FS

// ShippedZoneSets returns the zone sets embedded in the binary, sorted by
// name.
func ShippedZoneSets(a *Admin) ([]*ZoneSet, error) {
	names, err := fs.Glob(zonesFS, "zones/*.geojson")
	if err != nil {
		return nil, fmt.Errorf("geo: shipped zone sets: %w", err)
	}
	var sets []*ZoneSet
	for _, n := range names {
		raw, err := zonesFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("geo: shipped zone sets: %w", err)
		}
		zs, err := parseZoneSet(raw, a, strings.TrimSuffix(strings.TrimPrefix(n, "zones/"), ".geojson"))
		if err != nil {
			return nil, fmt.Errorf("geo: shipped zone set %s: %w", n, err)
		}
		sets = append(sets, zs)
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	return sets, nil
}
