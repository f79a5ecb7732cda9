package geo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/paulmach/orb"
)

// Match is the result of matching one point. Reuse one Match across calls
// to avoid allocations.
type Match struct {
	ZoneSet   string    // version id of the zone sets used (content hash), stored on every row
	Zones     []ZoneHit // every zone in force at `at` whose area contains p (or possibly does)
	Adm1      string    // governorate pcode
	Adm2      string    // district pcode
	Adm3      string    // sub-district pcode
	AdmApprox bool      // nearest area within AdminTolerance, not containing
	AdmDistM  float64   // with AdmApprox: distance to that area in metres

	// Nearest holds, for each zone kind with zones in force but no hit,
	// the nearest zone of that kind and the distance to it. Only
	// MatchDistances fills it.
	Nearest []ZoneNear

	hits []uint32 // scratch: sub-districts containing p
}

// ZoneHit is one zone that contains (or possibly contains) the point.
type ZoneHit struct {
	ID   string
	Kind string
	// Possible: the location's uncertainty circle (accuracyM) crosses the
	// zone boundary, or the point is outside Syria's polygons and only
	// its nearest sub-district (AdmApprox) is in the zone.
	Possible bool
	// DepthM is the distance in metres from the point to the zone
	// boundary: positive inside, negative outside (for Possible hits).
	// MatchDistances always computes it. Match only for Possible hits,
	// and then only as the distance to some part of the boundary within
	// accuracyM (not necessarily the nearest); else it leaves 0.
	DepthM float64
	Set    string // name of the zone set
}

// ZoneNear is the nearest zone of a kind for a point outside all of them.
type ZoneNear struct {
	ID        string
	Kind      string
	DistanceM float64
}

// Matcher matches points against the sub-districts and the zone sets it
// was built with. It is immutable and safe for concurrent use.
type Matcher struct {
	admin   *Admin
	idx     *adminIndex
	zones   []mzone
	inline  []int32 // zones with their own layer
	byShape [][]int32
	kinds   []string // kinds that have zones, in Kinds() order
	version string
	sets    []*ZoneSet
}

type mzone struct {
	*Zone
	set      string
	from, to int64 // unix ns; to = MaxInt64 when open
	bound    orb.Bound
	layer    *layer    // inline zones
	boundary *boundary // for distances
}

func (z *mzone) inForce(at int64, any bool) bool {
	return any || (at >= z.from && at < z.to)
}

// NewMatcher builds a matcher over the sub-districts of a and the zones of
// sets. Zone ids must be unique across the sets.
func NewMatcher(a *Admin, sets ...*ZoneSet) (*Matcher, error) {
	if a == nil {
		return nil, errors.New("geo: new matcher: nil admin")
	}
	idx, err := a.index()
	if err != nil {
		return nil, err
	}
	return newMatcher(a, idx, sets)
}

func newMatcher(a *Admin, idx *adminIndex, sets []*ZoneSet) (*Matcher, error) {
	m := &Matcher{admin: a, idx: idx, byShape: make([][]int32, len(a.adm3)), sets: sets}
	h := sha256.New()
	h.Write([]byte(a.Version()))
	seen := map[string]string{}
	for _, s := range sets {
		fmt.Fprintf(h, "\x00%s\x00%s", s.Name, s.Version)
		for i := range s.Zones {
			z := &s.Zones[i]
			if prev, dup := seen[z.ID]; dup {
				return nil, fmt.Errorf("geo: new matcher: zone id %q in both %q and %q", z.ID, prev, s.Name)
			}
			seen[z.ID] = s.Name
			mz := mzone{Zone: z, set: s.Name, from: z.ValidFrom.UnixNano(), to: math.MaxInt64}
			if z.ValidFrom.IsZero() {
				mz.from = math.MinInt64
			}
			if !z.ValidTo.IsZero() {
				mz.to = z.ValidTo.UnixNano()
			}
			zi := int32(len(m.zones))
			if len(z.PCodes) > 0 {
				var members []int
				in := make(map[int]bool)
				for _, pc := range z.PCodes {
					sub, ok := a.subDistricts(pc)
					if !ok {
						return nil, fmt.Errorf("geo: new matcher: zone %s: unknown pcode %q", z.ID, pc)
					}
					for _, sd := range sub {
						if !in[sd] {
							in[sd] = true
							members = append(members, sd)
						}
					}
				}
				for i, sd := range members {
					m.byShape[sd] = append(m.byShape[sd], zi)
					if i == 0 {
						mz.bound = a.adm3[sd].Bound
					} else {
						mz.bound = mz.bound.Union(a.adm3[sd].Bound)
					}
				}
				if len(members) == len(a.adm3) {
					mz.boundary = idx.exterior
				} else {
					mz.boundary = newBoundary(idx.unionBoundary(members))
				}
			} else {
				rings := geometryRings(z.Geometry)
				l, err := buildLayer([][]orb.Ring{rings}, 4)
				if err != nil {
					return nil, fmt.Errorf("geo: new matcher: zone %s: %w", z.ID, err)
				}
				l.compress()
				mz.layer = l
				mz.bound = l.bound
				mz.boundary = newBoundary(shapeEdges(rings, nil))
				m.inline = append(m.inline, zi)
			}
			m.zones = append(m.zones, mz)
		}
	}
	for _, k := range kinds {
		for i := range m.zones {
			if m.zones[i].Kind == k {
				m.kinds = append(m.kinds, k)
				break
			}
		}
	}
	m.version = "zs:" + hex.EncodeToString(h.Sum(nil))[:16]
	return m, nil
}

// Version identifies the boundaries and zone sets of the matcher; Match
// puts it in Match.ZoneSet.
func (m *Matcher) Version() string { return m.version }

// Admin returns the boundaries the matcher uses.
func (m *Matcher) Admin() *Admin { return m.admin }

// ZoneSets returns the zone sets the matcher was built with.
func (m *Matcher) ZoneSets() []*ZoneSet { return m.sets }

// Zone returns the zone with the given id.
func (m *Matcher) Zone(id string) (*Zone, bool) {
	for i := range m.zones {
		if m.zones[i].ID == id {
			return m.zones[i].Zone, true
		}
	}
	return nil, false
}

// Match finds the admin areas of p and the zones in force at `at` that
// contain it; a zero `at` ignores validity. A point that is not a
// longitude/latitude (NaN, infinite, out of range) matches nothing. With accuracyM > 0, zones whose
// boundary passes within accuracyM of p are Possible hits. dst is reset;
// reusing it makes Match allocation-free.
func (m *Matcher) Match(p orb.Point, at time.Time, accuracyM float64, dst *Match) {
	// The phases that run on every call stay in this one function: a
	// call per phase made the common case (no accuracy) 10% slower.
	dst.reset(m.version)
	x, y := p[0], p[1]
	if !(x >= -180 && x <= 180 && y >= -90 && y <= 90) { // also NaN
		return
	}
	anyTime := at.IsZero()
	var atNS int64
	if !anyTime {
		atNS = at.UnixNano()
	}
	if !(accuracyM > 0) { // also NaN
		accuracyM = 0
	}

	// Sub-districts containing p, else the nearest within AdminTolerance.
	dst.hits = m.idx.layer.appendHits(x, y, dst.hits)
	approx := false
	if len(dst.hits) > 0 {
		ar := m.admin.adm3[dst.hits[0]]
		dst.Adm1, dst.Adm2, dst.Adm3 = ar.Adm1, ar.Adm2, ar.PCode
	} else if !m.idx.mayBeNear(x, y) {
		// farther than AdminTolerance from Syria
	} else if sd, d, ok := m.idx.layer.nearest(x, y, AdminTolerance); ok {
		ar := m.admin.adm3[sd]
		dst.Adm1, dst.Adm2, dst.Adm3 = ar.Adm1, ar.Adm2, ar.PCode
		dst.AdmApprox, dst.AdmDistM = true, d
		dst.hits = append(dst.hits, sd)
		approx = true
	}

	// Zones made of sub-districts.
	for _, sd := range dst.hits {
		for _, zi := range m.byShape[sd] {
			z := &m.zones[zi]
			if !z.inForce(atNS, anyTime) || hasZone(dst.Zones, z.ID) {
				continue
			}
			h := ZoneHit{ID: z.ID, Kind: z.Kind, Set: z.set}
			if approx {
				h.Possible, h.DepthM = true, -dst.AdmDistM
			} else if accuracyM > 0 {
				if d, near := z.boundary.nearest(x, y, accuracyM, true); near {
					h.Possible, h.DepthM = true, d
				}
			}
			dst.Zones = append(dst.Zones, h)
		}
	}
	// Inline zones.
	for _, zi := range m.inline {
		z := &m.zones[zi]
		if !z.inForce(atNS, anyTime) || !nearBound(&z.bound, x, y, accuracyM) {
			continue
		}
		if z.layer.contains(x, y) {
			h := ZoneHit{ID: z.ID, Kind: z.Kind, Set: z.set}
			if accuracyM > 0 {
				if d, near := z.boundary.nearest(x, y, accuracyM, true); near {
					h.Possible, h.DepthM = true, d
				}
			}
			dst.Zones = append(dst.Zones, h)
		}
	}
	if accuracyM > 0 {
		m.matchNear(x, y, atNS, anyTime, accuracyM, dst)
	}
}

// reset empties dst for a Match with the given zone set version.
func (dst *Match) reset(version string) {
	dst.ZoneSet = version
	dst.Zones = dst.Zones[:0]
	dst.Nearest = dst.Nearest[:0]
	dst.Adm1, dst.Adm2, dst.Adm3 = "", "", ""
	dst.AdmApprox, dst.AdmDistM = false, 0
	dst.hits = dst.hits[:0]
}

// matchNear adds, as Possible hits, the zones in force that do not contain
// (x, y) but whose boundary is within accuracyM of it.
func (m *Matcher) matchNear(x, y float64, atNS int64, anyTime bool, accuracyM float64, dst *Match) {
	for zi := range m.zones {
		z := &m.zones[zi]
		if !z.inForce(atNS, anyTime) || hasZone(dst.Zones, z.ID) || !nearBound(&z.bound, x, y, accuracyM) {
			continue
		}
		if d, near := z.boundary.nearest(x, y, accuracyM, true); near {
			dst.Zones = append(dst.Zones, ZoneHit{ID: z.ID, Kind: z.Kind, Set: z.set, Possible: true, DepthM: -d})
		}
	}
}

// MatchDistances is Match, plus the depth of every hit (DepthM) and, for
// every kind with zones in force but no hit, the nearest zone of that kind
// (Nearest). It costs a few microseconds more than Match.
func (m *Matcher) MatchDistances(p orb.Point, at time.Time, accuracyM float64, dst *Match) {
	m.Match(p, at, accuracyM, dst)
	x, y := p[0], p[1]
	if !(x >= -180 && x <= 180 && y >= -90 && y <= 90) {
		return
	}
	anyTime := at.IsZero()
	var atNS int64
	if !anyTime {
		atNS = at.UnixNano()
	}
	for i := range dst.Zones {
		h := &dst.Zones[i]
		if dst.AdmApprox && h.Possible && h.DepthM == -dst.AdmDistM {
			continue // outside Syria: the distance to the nearest sub-district
		}
		z := m.zoneByID(h.ID)
		if d, ok := z.boundary.nearest(x, y, math.Inf(1), false); ok {
			if h.DepthM < 0 {
				d = -d
			}
			h.DepthM = d
		}
	}
	for _, k := range m.kinds {
		hit := false
		for i := range dst.Zones {
			if dst.Zones[i].Kind == k {
				hit = true
				break
			}
		}
		if hit {
			continue
		}
		best := ZoneNear{DistanceM: math.Inf(1)}
		for zi := range m.zones {
			z := &m.zones[zi]
			if z.Kind != k || !z.inForce(atNS, anyTime) {
				continue
			}
			if d, ok := z.boundary.nearest(x, y, best.DistanceM, false); ok && d < best.DistanceM {
				best = ZoneNear{ID: z.ID, Kind: k, DistanceM: d}
			}
		}
		if best.ID != "" {
			dst.Nearest = append(dst.Nearest, best)
		}
	}
}

func (m *Matcher) zoneByID(id string) *mzone {
	for i := range m.zones {
		if m.zones[i].ID == id {
			return &m.zones[i]
		}
	}
	return nil
}

func hasZone(hs []ZoneHit, id string) bool {
	for i := range hs {
		if hs[i].ID == id {
			return true
		}
	}
	return false
}

// nearBound reports whether (x, y) is within bound widened by r metres.
func nearBound(b *orb.Bound, x, y, r float64) bool {
	if r == 0 {
		return x >= b.Min[0] && x <= b.Max[0] && y >= b.Min[1] && y <= b.Max[1]
	}
	kx, ky := metresPerDegree(y)
	return boundDist2M(b, x, y, kx, ky) <= r*r
}
