// Package incident fuses the reports that several partners send of one
// event into an incident: the rule (Rule), the order-independent
// resolution of a set of reports (Resolve, Set) and the stage that keeps
// the stored incidents equal to the resolution of the current reports
// (Resolver). See docs/incidents.md.
//
// # The rule
//
// Two current reports a and b are linked when all of these hold:
//
//   - they come from different partners (one partner's reports with
//     different ids are separate events unless a third report links them);
//   - they have the same category;
//   - both may be fused: an uncertainty radius (report.UncertaintyM) of at
//     most MaxUncertaintyM and a widened window of at most MaxWindow, so
//     that a governorate-wide or month-long report joins nothing;
//   - they are close in space: the great-circle distance between their
//     points is at most max(U(a), U(b), DistanceM);
//   - they are close in time: their windows observed_at..observed_until,
//     each widened on both sides by max(Slack, its time precision: an hour,
//     a day, a week, 31 days), overlap;
//   - they are each other's nearest: of the reports of b's partner that
//     the conditions above allow with a, b is the nearest to a (by
//     distance, then time apart, then key), and a is the nearest to b of
//     a's partner's. So a partner's report joins another partner's
//     report of the same event, not every report of that partner nearby,
//     and dense places do not chain whole days of reports into one.
//
// Two current reports are also linked, whatever the conditions above say,
// when one names the other as a report of the same event (incident_of,
// report.Report.IncidentOf): an explicit link, also between two reports
// of one partner. A link to a report not held (not yet sent, withdrawn)
// links nothing until that report is current.
//
// An incident is a connected component of the graph of links over the
// current reports. The links, and so the components, depend only on the
// set of reports, never on the order they arrived in, so resolving again
// the neighbourhood of what changed gives what resolving everything from
// scratch gives (a link can change only at a report near one that
// changed: see Set.Apply). Its id is a hash of its smallest member key (partner id,
// report id): stable while that report stays in it.
//
// Each incident has: its members and partners; the partner groups of those
// partners (Groups, e.g. guarantor:ru); the representative report, the one
// with the smallest uncertainty (then the earliest, then the smallest key),
// whose point, zones and admin areas are the incident's; the earliest
// observed_at and the latest end; killed and injured as the largest figure
// reported, with the smallest kept (the range); the perpetrator sides named
// (contested when more than one); a candidate violation when any of its
// reports is.
package incident

import (
	"math"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage/read"
)

// Defaults of Rule.
const (
	DefaultDistanceM       = 2000
	DefaultSlack           = time.Hour
	DefaultMaxUncertaintyM = 25_000
	DefaultMaxWindow       = 72 * time.Hour
)

// Rule is when two reports are of one incident (see the package comment).
// The zero value of each field takes its default.
type Rule struct {
	DistanceM       float64       // reports this close are close whatever their uncertainty
	Slack           time.Duration // every window is widened by at least this
	MaxUncertaintyM float64       // a report less precisely placed is an incident of its own
	MaxWindow       time.Duration // a report whose widened window is longer is an incident of its own
}

func (r Rule) withDefaults() Rule {
	if r.DistanceM <= 0 {
		r.DistanceM = DefaultDistanceM
	}
	if r.Slack <= 0 {
		r.Slack = DefaultSlack
	}
	if r.MaxUncertaintyM <= 0 {
		r.MaxUncertaintyM = DefaultMaxUncertaintyM
	}
	if r.MaxWindow <= 0 {
		r.MaxWindow = DefaultMaxWindow
	}
	r.MaxUncertaintyM = max(r.MaxUncertaintyM, r.DistanceM)
	return r
}

// precisionWidth is how far a time of precision p may be from the event.
func precisionWidth(p string) time.Duration {
	switch report.TimePrecision(p) {
	case report.TimeHour:
		return time.Hour
	case report.TimeDay:
		return 24 * time.Hour
	case report.TimeWeek:
		return 7 * 24 * time.Hour
	case report.TimeMonth:
		return 31 * 24 * time.Hour
	}
	return 0
}

// item is a report as the rule sees it.
type item struct {
	key    read.ReportKey
	r      read.Report
	u      float64 // uncertainty radius, metres
	radius float64 // max(u, DistanceM)
	lo, hi int64   // widened window, Unix seconds
	fuse   bool
	link   read.ReportKey // the report it names as the same event (incident_of), zero for none
	level  int8           // in the index, when fuse
	cat    int32          // its category's number in the index

	added   uint64 // the Apply (Set.epoch) that added it
	dropped bool   // no longer in the Set

	// Scratch of one Apply (Set.epoch): in a component already, and the
	// nearest compatible report of each partner.
	seen, nearAt uint64
	near         []*item
}

func (r Rule) item(rep read.Report) *item {
	it := &item{key: read.ReportKey{PartnerID: rep.PartnerID, ReportID: rep.ReportID}, r: rep}
	if rep.IncidentOf != it.key { // a link to itself is none
		it.link = rep.IncidentOf
	}
	u := report.Report{AccuracyM: float64(rep.AccuracyM), GeoPrecision: report.GeoPrecision(rep.GeoPrecision)}
	it.u = u.UncertaintyM()
	it.radius = max(it.u, r.DistanceM)
	w := int64(max(r.Slack, precisionWidth(rep.TimePrecision)) / time.Second)
	end := max(rep.ObservedUntil, rep.ObservedAt)
	it.lo, it.hi = rep.ObservedAt-w, end+w
	it.fuse = it.u <= r.MaxUncertaintyM && time.Duration(it.hi-it.lo)*time.Second <= r.MaxWindow &&
		!math.IsNaN(rep.Lat) && !math.IsNaN(rep.Lon)
	return it
}

// Compatible reports whether the rule allows reports a and b to be of one
// incident (the first five conditions of the package comment).
func (r Rule) Compatible(a, b read.Report) bool {
	r = r.withDefaults()
	return compatible(r.item(a), r.item(b))
}

func compatible(a, b *item) bool {
	return a.fuse && b.fuse && a.key.PartnerID != b.key.PartnerID && a.r.Category == b.r.Category &&
		a.lo <= b.hi && b.lo <= a.hi && distance(a, b) <= max(a.radius, b.radius)
}

func distance(a, b *item) float64 {
	return geo.DistanceHaversine(orb.Point{a.r.Lon, a.r.Lat}, orb.Point{b.r.Lon, b.r.Lat})
}

// closer reports whether candidate n is nearer to x than best (distance,
// then time apart, then key: a total order, so the nearest is unique).
func closer(x, n, best *item) bool {
	if best == nil {
		return true
	}
	dn, db := distance(x, n), distance(x, best)
	if dn != db {
		return dn < db
	}
	tn, tb := abs64(n.r.ObservedAt-x.r.ObservedAt), abs64(best.r.ObservedAt-x.r.ObservedAt)
	if tn != tb {
		return tn < tb
	}
	return keyLess(n.key, best.key) < 0
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
