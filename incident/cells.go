package incident

import (
	"strings"

	"github.com/trucewatch/trucewatch/storage/read"
)

// cells are the incident aggregates of a Set's incidents (the
// incident_counts_* tables, storage/incident_cells.go), kept in memory by
// the Resolver beside the incidents so that it writes each cell's whole
// sums, never a delta: a cell written twice, or half a write redone,
// cannot count twice.
type cells struct {
	sums map[cellKey]read.IncidentSums
	// placed is each incident as it was placed (the Set's own pointer:
	// no copy), so that its old cells can be computed again when it
	// changes.
	placed map[string]*read.Incident
	strs   []string          // interned strings of the keys
	ids    map[string]uint32 // their indexes in strs
}

// cellKey is read.IncidentCellKey in memory, its strings interned: 40
// bytes instead of 136, most of the cells' memory.
type cellKey struct {
	kind, class, possible uint8
	cat, prec, a, b, c    uint32 // category, precision; adm1..3, or the zone in a
	time                  int64
	tile                  uint64
}

func (c *cells) intern(v string) uint32 {
	id, ok := c.ids[v]
	if !ok {
		id = uint32(len(c.strs))
		c.strs = append(c.strs, v)
		c.ids[v] = id
	}
	return id
}

func (c *cells) key(k read.IncidentCellKey) cellKey {
	a, b, cc := k.Adm1, k.Adm2, k.Adm3
	if k.Kind == read.CellZoneHour {
		a = k.Zone
	}
	return cellKey{kind: k.Kind, class: k.ViolationClass, possible: k.Possible, cat: c.intern(k.Category),
		prec: c.intern(k.Precision), a: c.intern(a), b: c.intern(b), c: c.intern(cc), time: k.Time, tile: k.Tile}
}

// cell is k as storage writes it, with sums.
func (c *cells) cell(k cellKey, sums read.IncidentSums) read.IncidentCell {
	ck := read.IncidentCellKey{Kind: k.kind, Tile: k.tile, Possible: k.possible, Time: k.time,
		Category: c.strs[k.cat], ViolationClass: k.class, Precision: c.strs[k.prec]}
	if k.kind == read.CellZoneHour {
		ck.Zone = c.strs[k.a]
	} else if k.kind == read.CellAdmDay {
		ck.Adm1, ck.Adm2, ck.Adm3 = c.strs[k.a], c.strs[k.b], c.strs[k.c]
	}
	return read.IncidentCell{IncidentCellKey: ck, IncidentSums: sums}
}

// placement is where one incident counts and what it adds there.
type placement struct {
	keys []read.IncidentCellKey
	sums read.IncidentSums
}

// newCells places every incident of s.
func newCells(s *Set) *cells {
	c := &cells{sums: map[cellKey]read.IncidentSums{}, placed: map[string]*read.Incident{}, ids: map[string]uint32{}}
	for _, inc := range s.incidents {
		c.place(inc.ID, inc, nil)
	}
	return c
}

// placementOf is where inc counts: its representative point's tile and
// admin areas on its day, each zone it lies in (or only possibly in) in
// its hour, by category, violation class and precision (IncidentPrecision
// of its uncertainty).
func placementOf(inc *read.Incident) placement {
	class := inc.ViolationClass
	prec := read.IncidentPrecision(inc.UncertaintyM)
	day, hour := floorTo(inc.ObservedAt, 86400), floorTo(inc.ObservedAt, 3600)
	key := read.IncidentCellKey{Time: day, Category: inc.Category, ViolationClass: class, Precision: prec}
	tile, adm := key, key
	tile.Kind, tile.Tile = read.CellTileDay, read.TileOf(inc.Lon, inc.Lat, read.IncidentTileZoom).Quadkey()
	adm.Kind, adm.Adm1, adm.Adm2, adm.Adm3 = read.CellAdmDay, inc.Adm1, inc.Adm2, inc.Adm3
	p := placement{keys: []read.IncidentCellKey{tile, adm}, sums: sumsOf(inc)}
	zone := func(z string, possible uint8) {
		k := read.IncidentCellKey{Kind: read.CellZoneHour, Zone: z, Possible: possible, Time: hour, Category: inc.Category, Precision: prec}
		if class != read.NotViolation {
			k.ViolationClass = 1
		}
		p.keys = append(p.keys, k)
	}
	for _, z := range inc.Zones {
		zone(z, 0)
	}
	for _, z := range inc.PossibleZones {
		zone(z, 1)
	}
	return p
}

// classOf is a report's violation class.
func classOf(r *read.Report) uint8 {
	switch {
	case !r.Violation:
		return read.NotViolation
	case strings.HasPrefix(r.ViolationReason, "possibly_in_zone"):
		return read.PossibleViolation
	}
	return read.DefiniteViolation
}

// moreCertain is the class of an incident with members of classes a and
// b: definite over possible over none.
func moreCertain(a, b uint8) uint8 {
	if a == read.DefiniteViolation || b == read.DefiniteViolation {
		return read.DefiniteViolation
	}
	return max(a, b) // NotViolation 0 < PossibleViolation 2
}

func sumsOf(inc *read.Incident) read.IncidentSums {
	b := func(ok bool) int64 {
		if ok {
			return 1
		}
		return 0
	}
	return read.IncidentSums{Incidents: 1, Reports: int64(len(inc.Members)), Single: b(len(inc.Partners) == 1),
		Corroborated: b(len(inc.Partners) >= 2), CrossGroups: b(len(inc.Groups) >= 2), Contested: b(inc.Contested),
		Killed: int64(inc.Killed), KilledMin: int64(inc.KilledMin), Injured: int64(inc.Injured)}
}

// floorTo is t rounded down to a multiple of d.
func floorTo(t, d int64) int64 {
	r := t % d
	if r < 0 {
		r += d
	}
	return t - r
}

// place makes incident id count as inc instead of as it counted (inc
// nil: nowhere), adding the keys whose sums changed to touched.
func (c *cells) place(id string, inc *read.Incident, touched map[cellKey]bool) {
	old, had := c.placed[id]
	if had && inc != nil && old.Digest == inc.Digest {
		return // the digest covers every field placementOf reads
	}
	move := func(pl placement, sign int64) {
		for _, ek := range pl.keys {
			k := c.key(ek)
			s := c.sums[k]
			if sign > 0 {
				s.Add(pl.sums)
			} else {
				s.Sub(pl.sums)
			}
			if s == (read.IncidentSums{}) {
				delete(c.sums, k)
			} else {
				c.sums[k] = s
			}
			if touched != nil {
				touched[k] = true
			}
		}
	}
	if had {
		move(placementOf(old), -1)
		delete(c.placed, id)
	}
	if inc != nil {
		move(placementOf(inc), 1)
		c.placed[id] = inc
	}
}

// update places again the incidents put and those deleted (del), adding
// the cells whose sums changed to touched. An incident's violation class
// is one of its fields, so a report whose change moves no cell leaves its
// incident's digest as it was.
func (c *cells) update(s *Set, put []read.Incident, del []string, touched map[cellKey]bool) {
	for _, id := range del {
		c.place(id, nil, touched)
	}
	for i := range put {
		if inc := s.incidents[put[i].ID]; inc != nil {
			c.place(inc.ID, inc, touched)
		}
	}
}

// cellsOf returns the cells of keys with their sums now (zeros for an
// emptied cell).
func (c *cells) cellsOf(keys map[cellKey]bool) []read.IncidentCell {
	out := make([]read.IncidentCell, 0, len(keys))
	for k := range keys {
		out = append(out, c.cell(k, c.sums[k]))
	}
	return out
}

// diff returns the cells whose stored sums differ from c's: c's own, and
// zeros for a stored cell c does not hold.
func (c *cells) diff(stored []read.IncidentCell) []read.IncidentCell {
	have := make(map[cellKey]read.IncidentSums, len(stored))
	var out []read.IncidentCell
	for _, sc := range stored {
		k := c.key(sc.IncidentCellKey)
		have[k] = sc.IncidentSums
		if _, ok := c.sums[k]; !ok {
			out = append(out, c.cell(k, read.IncidentSums{}))
		}
	}
	for k, s := range c.sums {
		if h, ok := have[k]; !ok || h != s {
			out = append(out, c.cell(k, s))
		}
	}
	return out
}
