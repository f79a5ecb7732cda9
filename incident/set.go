package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage/read"
)

// Set is the current reports and their incidents, kept up to date by
// Apply: the resolution of its reports, whatever order they came in.
type Set struct {
	rule      Rule
	groups    map[string]string // partner id -> group
	items     map[read.ReportKey]*item
	cells     map[cell][]*item
	cats      map[string]int32          // category -> its number in cell keys
	sizes     []float64                 // the index's levels (index.go)
	levels    []int                     // indexed reports per level
	of        map[read.ReportKey]string // incident id of each report
	incidents map[string]*read.Incident
	// linkedBy is the reverse of the explicit links: the held reports
	// whose incident_of names a key (held or not yet).
	linkedBy map[read.ReportKey][]read.ReportKey
	// epoch numbers the calls of Apply: an item's scratch fields (seen,
	// nearest) hold for the call whose number they carry.
	epoch uint64
}

// NewSet is an empty set resolving by rule; groups maps a partner id to
// its group (partners without one are in none).
func NewSet(rule Rule, groups map[string]string) *Set {
	s := &Set{rule: rule.withDefaults(), groups: groups, items: map[read.ReportKey]*item{},
		cells: map[cell][]*item{}, cats: map[string]int32{}, of: map[read.ReportKey]string{}, incidents: map[string]*read.Incident{},
		linkedBy: map[read.ReportKey][]read.ReportKey{}}
	s.sizes = levelSizes(s.rule.DistanceM, s.rule.MaxUncertaintyM)
	s.levels = make([]int, len(s.sizes))
	return s
}

// Resolve returns the incidents of reports (current revisions, one per
// key), in id order: what a Set given them in any order holds.
func Resolve(rule Rule, groups map[string]string, reports []read.Report) []read.Incident {
	s := NewSet(rule, groups)
	s.Apply(nil, reports)
	return s.Incidents()
}

// Len is the number of reports in s.
func (s *Set) Len() int { return len(s.items) }

// Incidents returns every incident of s, in id order.
func (s *Set) Incidents() []read.Incident {
	out := make([]read.Incident, 0, len(s.incidents))
	for _, inc := range s.incidents {
		out = append(out, *inc)
	}
	slices.SortFunc(out, func(a, b read.Incident) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// IncidentOf is the id of the incident of report k, "" when s does not
// hold k.
func (s *Set) IncidentOf(k read.ReportKey) string { return s.of[k] }

// Apply updates s: every key of gone and of current loses its report,
// then current (one revision per key) is added. It returns the incidents
// that are new or changed (put) and the ids of those that no longer exist
// (del), each in id order. Only the incidents around what changed are
// resolved again: an incident with no changed report and no link to one
// is a connected component of the old graph and of the new.
func (s *Set) Apply(gone []read.ReportKey, current []read.Report) (put []read.Incident, del []string) {
	s.epoch++
	if len(s.items) == 0 && len(current) > 1000 { // a full resolution: no map grows step by step
		s.items = make(map[read.ReportKey]*item, len(current))
		s.of = make(map[read.ReportKey]string, len(current))
		s.cells = make(map[cell][]*item, len(current))
	}
	oldIDs := map[string]bool{}
	var starts, touched []*item
	// touch records a report compatible with a changed one (old revision
	// or new): its nearest report of that partner, and so its links, may
	// change. An explicit link changes only with a report at one of its ends: the
	// component of a new revision reaches the other end (component follows
	// linkedBy), and the old incident of a dropped one holds it.
	touch := func(n *item) {
		if n.added != s.epoch { // a new revision is a start already
			touched = append(touched, n)
		}
	}
	drop := func(k read.ReportKey) {
		it := s.items[k]
		if it == nil {
			return
		}
		if id := s.of[k]; id != "" {
			oldIDs[id] = true
		}
		s.neighbours(it, func(n *item) {
			if compatible(it, n) {
				touch(n)
			}
		})
		s.unindex(it)
		s.unlink(it)
		it.dropped = true
		delete(s.items, k)
		delete(s.of, k)
	}
	// A report held as it is (a key read again) changes nothing.
	same := map[read.ReportKey]bool{}
	for i := range current {
		r := &current[i]
		k := read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}
		if it := s.items[k]; it != nil && reflect.DeepEqual(it.r, *r) {
			same[k] = true
		}
	}
	for _, k := range gone {
		if !same[k] {
			drop(k)
		}
	}
	var added []*item
	for i := range current {
		if same[read.ReportKey{PartnerID: current[i].PartnerID, ReportID: current[i].ReportID}] {
			continue
		}
		it := s.rule.item(current[i])
		drop(it.key)
		it.added = s.epoch
		s.items[it.key] = it
		s.index(it)
		s.link(it)
		starts = append(starts, it)
		added = append(added, it)
	}
	// s no longer changes: one scan of each new revision's neighbours
	// finds both what it touches and its nearest of each partner.
	for _, it := range added {
		if !it.dropped { // not replaced by a later revision in current
			s.nearestAll(it, touch)
		}
	}
	for _, n := range touched {
		if !n.dropped {
			starts = append(starts, n)
			if id := s.of[n.key]; id != "" {
				oldIDs[id] = true
			}
		}
	}
	for id := range oldIDs {
		if inc := s.incidents[id]; inc != nil {
			for _, m := range inc.Members {
				if it := s.items[m]; it != nil {
					starts = append(starts, it)
				}
			}
		}
	}
	newIDs := map[string]bool{}
	var comp []*item
	var changed []*read.Incident
	for _, it := range starts {
		if it.dropped || it.seen == s.epoch {
			continue
		}
		comp = s.component(it, comp[:0])
		for _, it := range comp {
			if id := s.of[it.key]; id != "" {
				oldIDs[id] = true
			}
		}
		inc := s.summary(comp)
		newIDs[inc.ID] = true
		for _, it := range comp {
			s.of[it.key] = inc.ID
		}
		if old := s.incidents[inc.ID]; old == nil || old.Digest != inc.Digest {
			s.incidents[inc.ID] = inc
			changed = append(changed, inc)
		}
	}
	for id := range oldIDs {
		if !newIDs[id] {
			delete(s.incidents, id)
			del = append(del, id)
		}
	}
	// Sorted as pointers: an incident is a few hundred bytes.
	slices.SortFunc(changed, func(a, b *read.Incident) int { return strings.Compare(a.ID, b.ID) })
	put = make([]read.Incident, len(changed))
	for i, inc := range changed {
		put[i] = *inc
	}
	slices.Sort(del)
	return put, del
}

// component appends to comp the connected component of start, marking
// its members seen in this epoch. s must not change in the epoch (the
// nearest reports are cached).
func (s *Set) component(start *item, comp []*item) []*item {
	start.seen = s.epoch
	comp = append(comp, start)
	for i := 0; i < len(comp); i++ {
		a := comp[i]
		// a is linked only to reports that are its nearest of their partner.
		for _, n := range s.nearestAll(a, nil) {
			if n.seen != s.epoch && s.nearest(n, a.key.PartnerID) == a {
				n.seen = s.epoch
				comp = append(comp, n)
			}
		}
		// and explicitly to the report it names and those naming it.
		visit := func(k read.ReportKey) {
			if n := s.items[k]; n != nil && n.seen != s.epoch {
				n.seen = s.epoch
				comp = append(comp, n)
			}
		}
		if a.link != (read.ReportKey{}) {
			visit(a.link)
		}
		for _, k := range s.linkedBy[a.key] {
			visit(k)
		}
	}
	return comp
}

// link records it's explicit link in linkedBy.
func (s *Set) link(it *item) {
	if it.link != (read.ReportKey{}) {
		s.linkedBy[it.link] = append(s.linkedBy[it.link], it.key)
	}
}

func (s *Set) unlink(it *item) {
	if it.link == (read.ReportKey{}) {
		return
	}
	list := s.linkedBy[it.link]
	if i := slices.Index(list, it.key); i >= 0 {
		list[i] = list[len(list)-1]
		list = list[:len(list)-1]
	}
	if len(list) == 0 {
		delete(s.linkedBy, it.link)
	} else {
		s.linkedBy[it.link] = list
	}
}

// nearest is the report of partner compatible with x nearest to it (see
// closer), nil when there is none.
func (s *Set) nearest(x *item, partner string) *item {
	for _, b := range s.nearestAll(x, nil) {
		if b.key.PartnerID == partner {
			return b
		}
	}
	return nil
}

// nearestAll is x's nearest compatible report of each partner that has
// one. One scan finds them all, kept for the epoch (s must not change in
// it); the scan calls compatible, when set, with every compatible report.
func (s *Set) nearestAll(x *item, compatibleFn func(*item)) []*item {
	if x.nearAt == s.epoch {
		return x.near
	}
	all := x.near[:0]
	s.neighbours(x, func(n *item) {
		if !compatible(x, n) {
			return
		}
		if compatibleFn != nil {
			compatibleFn(n)
		}
		for i, b := range all {
			if b.key.PartnerID == n.key.PartnerID {
				if b != n && closer(x, n, b) {
					all[i] = n
				}
				return
			}
		}
		all = append(all, n)
	})
	x.near, x.nearAt = all, s.epoch
	return all
}

// ID is the incident id of a component whose smallest member key is k.
func ID(k read.ReportKey) string {
	h := sha256.Sum256([]byte(k.PartnerID + "\x00" + k.ReportID))
	return "i" + hex.EncodeToString(h[:8])
}

func keyLess(a, b read.ReportKey) int {
	if c := strings.Compare(a.PartnerID, b.PartnerID); c != 0 {
		return c
	}
	return strings.Compare(a.ReportID, b.ReportID)
}

// summary computes the incident of the reports comp (see the package
// comment for each field).
func (s *Set) summary(comp []*item) *read.Incident {
	slices.SortFunc(comp, func(a, b *item) int { return keyLess(a.key, b.key) })
	rep := comp[0]
	for _, it := range comp[1:] {
		if it.u < rep.u || it.u == rep.u && it.r.ObservedAt < rep.r.ObservedAt {
			rep = it
		}
	}
	r := &rep.r
	inc := &read.Incident{ID: ID(comp[0].key), ObservedAt: math.MaxInt64, Lat: r.Lat, Lon: r.Lon, UncertaintyM: float32(rep.u),
		Tile: read.TileKey(r.Lon, r.Lat), Category: r.Category, Zones: r.Zones, PossibleZones: r.PossibleZones,
		Adm1: r.Adm1, Adm2: r.Adm2, Adm3: r.Adm3, KilledMin: math.MaxUint32, InjuredMin: math.MaxUint32}
	for _, it := range comp {
		m := &it.r
		inc.Members = append(inc.Members, it.key)
		inc.ObservedAt = min(inc.ObservedAt, m.ObservedAt)
		inc.ObservedUntil = max(inc.ObservedUntil, m.ObservedAt, m.ObservedUntil)
		inc.Violation = inc.Violation || m.Violation
		inc.ViolationClass = moreCertain(inc.ViolationClass, classOf(m))
		inc.Partners = append(inc.Partners, m.PartnerID)
		if g := s.groups[m.PartnerID]; g != "" {
			inc.Groups = append(inc.Groups, g)
		}
		inc.Killed, inc.KilledMin = max(inc.Killed, m.Killed), min(inc.KilledMin, m.Killed)
		inc.Injured, inc.InjuredMin = max(inc.Injured, m.Injured), min(inc.InjuredMin, m.Injured)
		if m.PerpetratorSide != "" && m.PerpetratorSide != string(report.Unknown) {
			inc.Sides = append(inc.Sides, m.PerpetratorSide)
		}
	}
	if inc.ObservedUntil == inc.ObservedAt {
		inc.ObservedUntil = 0
	}
	inc.Partners = sortedSet(inc.Partners)
	inc.Groups = sortedSet(inc.Groups)
	inc.Sides = sortedSet(inc.Sides)
	inc.Contested = len(inc.Sides) > 1
	inc.Digest = Digest(inc)
	return inc
}

func sortedSet(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// Digest hashes every field of inc but Digest: FNV-1a (64) of its fmt
// %v form with Digest 0, in which a nil and an empty slice hash the same.
// The form is written out field by field (fmt's reflection took a fifth
// of Apply); TestDigestIsFmt holds it to fmt's.
func Digest(inc *read.Incident) uint64 {
	var buf [512]byte
	b := append(buf[:0], '{')
	b = append(append(b, inc.ID...), ' ')
	b = append(strconv.AppendInt(b, inc.ObservedAt, 10), ' ')
	b = append(strconv.AppendInt(b, inc.ObservedUntil, 10), ' ')
	b = append(appendFloat(b, inc.Lat, 64), ' ')
	b = append(appendFloat(b, inc.Lon, 64), ' ')
	b = append(appendFloat(b, float64(inc.UncertaintyM), 32), ' ')
	b = append(strconv.AppendUint(b, inc.Tile, 10), ' ')
	b = append(append(b, inc.Category...), ' ')
	b = append(appendStrings(b, inc.Zones), ' ')
	b = append(appendStrings(b, inc.PossibleZones), ' ')
	b = append(append(b, inc.Adm1...), ' ')
	b = append(append(b, inc.Adm2...), ' ')
	b = append(append(b, inc.Adm3...), ' ')
	b = append(strconv.AppendBool(b, inc.Violation), ' ')
	b = append(strconv.AppendUint(b, uint64(inc.ViolationClass), 10), ' ')
	b = append(appendStrings(b, inc.Partners), ' ')
	b = append(appendStrings(b, inc.Groups), ' ')
	b = append(b, '[')
	for i, m := range inc.Members {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(append(append(append(append(b, '{'), m.PartnerID...), ' '), m.ReportID...), '}')
	}
	b = append(b, "] "...)
	for _, n := range []uint32{inc.Killed, inc.KilledMin, inc.Injured, inc.InjuredMin} {
		b = append(strconv.AppendUint(b, uint64(n), 10), ' ')
	}
	b = append(appendStrings(b, inc.Sides), ' ')
	b = append(strconv.AppendBool(b, inc.Contested), " 0}"...)
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// appendFloat is fmt's %v of a float of size bits.
func appendFloat(b []byte, f float64, size int) []byte {
	return strconv.AppendFloat(b, f, 'g', -1, size)
}

// appendStrings is fmt's %v of a []string.
func appendStrings(b []byte, xs []string) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, x...)
	}
	return append(b, ']')
}
