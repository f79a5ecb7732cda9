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
	Partners                  []string // sorted, distinct
	Groups                    []string // the partner groups of Partners, sorted, distinct
	Members                   []ReportKey
	Killed, KilledMin         uint32 // the largest and smallest figure reported
	Injured, InjuredMin       uint32
	Sides                     []string // the perpetrator sides reported (sorted, distinct, without "" and unknown)
	Contested                 bool     // partners name different perpetrator sides
	Digest                    uint64   // hash of every field above: a changed incident has another
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
	Violations   int64 // candidate violations
	Killed       int64 // sum of each incident's largest figure
	KilledMin    int64 // sum of each incident's smallest figure
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
