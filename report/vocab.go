package report

import "slices"

// Category is what happened. The list is closed: an unknown category is a
// validation error, so that aggregates never grow a category nobody maps.
type Category string

// Categories of schema v1.
const (
	Shelling            Category = "shelling"             // artillery, mortar, rocket fire
	Airstrike           Category = "airstrike"            // aircraft or helicopter, incl. barrel bombs
	MissileStrike       Category = "missile_strike"       // surface-to-surface missiles
	DroneStrike         Category = "drone_strike"         // armed drones
	GroundClash         Category = "ground_clash"         // armed clashes, assaults, offensives
	SniperFire          Category = "sniper_fire"          // sniper and small-arms fire at people
	IED                 Category = "ied"                  // improvised explosives, car bombs, mines
	Siege               Category = "siege"                // blockade of people, food or aid
	Arrest              Category = "arrest"               // detention by an armed party
	Abduction           Category = "abduction"            // kidnapping, enforced disappearance
	PropertyDestruction Category = "property_destruction" // looting, burning, demolition
	Other               Category = "other"
)

// categories lists every category in schema order.
var categories = []Category{
	Shelling, Airstrike, MissileStrike, DroneStrike, GroundClash, SniperFire,
	IED, Siege, Arrest, Abduction, PropertyDestruction, Other,
}

// Categories returns every category in schema order (a new slice, the
// caller's to keep or change).
func Categories() []Category { return slices.Clone(categories) }

// Hostile reports whether c is an act of hostilities that a ceasefire
// forbids. Arrests, abductions and destruction of property are abuses to
// record, but the Astana mechanism counts violations of the cessation of
// hostilities, so they are not candidate violations.
func (c Category) Hostile() bool {
	switch c {
	case Shelling, Airstrike, MissileStrike, DroneStrike, GroundClash, SniperFire, IED, Siege:
		return true
	}
	return false
}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool { return slices.Contains(categories, c) }

// Side is the side of the conflict an actor belongs to.
type Side string

// Sides of schema v1. ExcludedGroup is ISIS and al-Qaeda-linked groups,
// which the 30 December 2016 ceasefire does not cover.
const (
	Government    Side = "government"
	Opposition    Side = "opposition"
	ExcludedGroup Side = "excluded_group"
	Unknown       Side = "unknown"
)

// sides lists every side in schema order.
var sides = []Side{Government, Opposition, ExcludedGroup, Unknown}

// Sides returns every side in schema order (a new slice).
func Sides() []Side { return slices.Clone(sides) }

// Valid reports whether s is one of Sides.
func (s Side) Valid() bool { return slices.Contains(sides, s) }

// TimePrecision says how exact observed_at is.
type TimePrecision string

// Time precisions of schema v1; empty means exact.
const (
	TimeExact TimePrecision = "exact"
	TimeHour  TimePrecision = "hour"
	TimeDay   TimePrecision = "day"
	TimeWeek  TimePrecision = "week"
	TimeMonth TimePrecision = "month"
)

// timePrecisions lists every time precision in schema order.
var timePrecisions = []TimePrecision{TimeExact, TimeHour, TimeDay, TimeWeek, TimeMonth}

// TimePrecisions returns every time precision in schema order (a new slice).
func TimePrecisions() []TimePrecision { return slices.Clone(timePrecisions) }

// GeoPrecision says what the coordinates stand for, after UCDP's where_prec:
// for adm1..country the point is a centroid, not a place.
type GeoPrecision string

// Geo precisions of schema v1; empty means exact.
const (
	GeoExact   GeoPrecision = "exact"   // the place itself
	GeoNear    GeoPrecision = "near"    // within about 25 km
	GeoAdm3    GeoPrecision = "adm3"    // somewhere in the sub-district
	GeoAdm2    GeoPrecision = "adm2"    // somewhere in the district
	GeoAdm1    GeoPrecision = "adm1"    // somewhere in the governorate
	GeoCountry GeoPrecision = "country" // somewhere in the country
)

// geoPrecisions lists every geo precision in schema order.
var geoPrecisions = []GeoPrecision{GeoExact, GeoNear, GeoAdm3, GeoAdm2, GeoAdm1, GeoCountry}

// GeoPrecisions returns every geo precision in schema order (a new slice).
func GeoPrecisions() []GeoPrecision { return slices.Clone(geoPrecisions) }

// UncertaintyM is the radius in metres that a precision class implies when
// a report gives no accuracy_m: what matching uses to say "possibly in".
func (p GeoPrecision) UncertaintyM() float64 {
	switch p {
	case GeoNear:
		return 25_000
	case GeoAdm3:
		return 15_000
	case GeoAdm2:
		return 40_000
	case GeoAdm1:
		return 80_000
	case GeoCountry:
		return 400_000
	}
	return 0
}

// UncertaintyM is the radius of the location's uncertainty: accuracy_m when
// given, else what the precision class implies.
func (r *Report) UncertaintyM() float64 {
	return max(r.AccuracyM, r.GeoPrecision.UncertaintyM())
}
