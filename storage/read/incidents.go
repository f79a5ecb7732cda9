package read

import "time"

// ReportKey identifies a report across its revisions.
type ReportKey struct {
	PartnerID, ReportID string
}

// ReportChanges are the reports that changed since a time (Store.ChangedReports):
// every key with a row written since, and the current revision of those
// that still have one (a key without one was withdrawn or is gone).
type ReportChanges struct {
	Now     time.Time   // ClickHouse's clock when the read began
	Keys    []ReportKey // every key written since (all keys for a full read)
	Current []Report    // the current revisions of Keys that have one
}

// RowStamp identifies a row of the raw reports table as far as a
// report's current revision goes: rows of a key with the same stamp fold
// into one (a redone span writes them again, identically), so the set of
// a key's stamps decides its current revision.
type RowStamp struct {
	Key      ReportKey
	Revision uint32
	Gen      uint32
	Sign     int8
}

// Incident is the fusion of the reports of one event (package incident
// decides which reports and computes every field).
type Incident struct {
	ID                        string
	ObservedAt, ObservedUntil int64 // Unix seconds: the earliest start, the latest end of its reports
	Lat, Lon                  float64
	UncertaintyM              float32 // of the representative report, the one most precisely placed
	Tile                      uint64  // quadkey at TileZoom of (Lon, Lat)
	Category                  string
	Zones, PossibleZones      []string // the representative report's
	Adm1, Adm2, Adm3          string   // the representative report's
	Violation                 bool     // any of its reports is a candidate violation
	// ViolationClass: DefiniteViolation when one of its reports is a
	// definite candidate, else PossibleViolation when one is a possible
	// one, else NotViolation (as the report aggregates' classes).
	ViolationClass      uint8
	Partners            []string // sorted, distinct
	Groups              []string // the partner groups of Partners, sorted, distinct
	Members             []ReportKey
	Killed, KilledMin   uint32 // the largest and smallest figure reported
	Injured, InjuredMin uint32
	Sides               []string // the perpetrator sides reported (sorted, distinct, without "" and unknown)
	Contested           bool     // partners name different perpetrator sides
	Digest              uint64   // hash of every field above: a changed incident has another
}

// IncidentDigest is what Store.StoredIncidents gives of a stored incident.
type IncidentDigest struct {
	ID     string
	Digest uint64
}

// IncidentQuery asks for the incidents whose representative point lies in
// Box and whose time (ObservedAt) lies in [From, To), in (ObservedAt, ID)
// order, at most Limit.
type IncidentQuery struct {
	Box      *Box
	From, To time.Time
	Limit    int
}

// IncidentCounts count the incidents matching an IncidentQuery (all of
// them, whatever its Limit).
type IncidentCounts struct {
	Incidents    int64 // incidents
	Reports      int64 // the reports in them
	Single       int64 // reported by one partner only
	Corroborated int64 // by two partners or more
	CrossGroups  int64 // by partners of two groups or more (both sides of the mechanism)
	Contested    int64 // partners name different perpetrator sides
	// Violations: definite candidate violations, as for reports (a
	// member inside a protected zone; in a zone: the candidates inside
	// it), apart from PossibleViolations.
	Violations         int64
	PossibleViolations int64 // no member definite, one possible (in a zone: candidates only possibly in it)
	Killed             int64 // sum of each incident's largest figure
	KilledMin          int64 // sum of each incident's smallest figure
	Injured            int64 // aggregates only: sum of each incident's largest figure
	// Coarse: per admin area only, incidents whose point lies in it but
	// whose uncertainty is too large for the level (not in the others).
	Coarse int64
	// Possible: per zone only, incidents whose uncertainty circle only
	// crosses the zone (not in the others).
	Possible int64
}

// IncidentHour is a zone's incident counts in one hour (by observed_at).
type IncidentHour struct {
	Hour time.Time // UTC
	IncidentCounts
}

// IncidentTileZoom is the zoom of the tile key of the incident tile
// aggregate: the quadkey at zoom 30 (about 4 cm) of the representative
// point, fine enough that every served cell zoom (up to MaxZoom+GridBits,
// 26) is a contiguous range of it, so no zoom needs the incidents table.
const IncidentTileZoom = 30

// Kinds of incident aggregate cells (the three incident_counts_* tables).
const (
	CellTileDay  uint8 = 1 // incident_counts_tile_day
	CellAdmDay   uint8 = 2 // incident_counts_adm_day
	CellZoneHour uint8 = 3 // incident_counts_zone_hour
)

// IncidentCellKey is the key of one cell of an incident aggregate; the
// fields of other kinds are zero.
type IncidentCellKey struct {
	Kind             uint8  // CellTileDay, CellAdmDay or CellZoneHour
	Tile             uint64 // tile-day: quadkey at IncidentTileZoom
	Adm1, Adm2, Adm3 string // adm-day
	Zone             string // zone-hour
	Possible         uint8  // zone-hour: 1 when the incident's circle only crosses the zone
	Time             int64  // Unix seconds: the UTC day (tile, adm) or hour (zone)
	Category         string
	// ViolationClass: tile and adm as the report aggregates' classes
	// (NotViolation, DefiniteViolation, PossibleViolation); zone-hour 0
	// or 1 (a candidate violation), as counts_zone_hour's violation.
	ViolationClass uint8
	Precision      string // IncidentPrecision of the incident's uncertainty
}

// IncidentSums are the sums a cell of an incident aggregate stores over
// the incidents placed in it.
type IncidentSums struct {
	Incidents, Reports, Single, Corroborated, CrossGroups, Contested int64
	Killed, KilledMin, Injured                                       int64
}

// Add adds o to s.
func (s *IncidentSums) Add(o IncidentSums) {
	s.Incidents += o.Incidents
	s.Reports += o.Reports
	s.Single += o.Single
	s.Corroborated += o.Corroborated
	s.CrossGroups += o.CrossGroups
	s.Contested += o.Contested
	s.Killed += o.Killed
	s.KilledMin += o.KilledMin
	s.Injured += o.Injured
}

// Sub subtracts o from s.
func (s *IncidentSums) Sub(o IncidentSums) {
	s.Add(IncidentSums{-o.Incidents, -o.Reports, -o.Single, -o.Corroborated, -o.CrossGroups, -o.Contested, -o.Killed, -o.KilledMin, -o.Injured})
}

// IncidentCell is one cell of an incident aggregate with its sums (all
// zero: the cell holds no incident any more).
type IncidentCell struct {
	IncidentCellKey
	IncidentSums
}

// IncidentPrecision is the geo precision class an incident counts as in
// the aggregates, from its uncertainty radius u (metres): the class whose
// implied radius (report.GeoPrecision.UncertaintyM) bounds u, "exact"
// below adm3's 15 km. So AdminLevel places it at a level exactly when u is
// at most LevelRadiusM, and MaxZoom gives its zoom limit as for a report
// of that class.
func IncidentPrecision(u float32) string {
	switch {
	case u < 15_000:
		return "exact"
	case u <= 15_000:
		return "adm3"
	case u <= 25_000:
		return "near"
	case u <= 40_000:
		return "adm2"
	case u <= 80_000:
		return "adm1"
	}
	return "country"
}

// IncidentTileCell is the incident counts of one cell of a tile query (by
// category and precision, as Cell with ByCategory and ByPrecision).
type IncidentTileCell struct {
	Key                 uint64 // quadkey at the query's Zoom
	Category, Precision string
	IncidentCounts
}
