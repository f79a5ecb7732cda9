// Package report is the vocabulary shared by every stage of trucewatch: the
// incident report a field partner sends (schema v1), its categories and
// actor sides, and the one decoder/validator that ingest and the HTTP intake
// both use, so that a report accepted by one is accepted by the other.
package report

import (
	"encoding/json"
	"time"
)

// SchemaVersion names the wire format documented in schema/report.v1.json.
const SchemaVersion = "trucewatch.report/v1"

// Report is one incident report, schema v1. Keys on Kafka are the report id.
type Report struct {
	ID            string    // partner-unique report id (required)
	PartnerID     string    // who sent it; the intake sets it from the API key
	Revision      uint32    // corrections carry a higher revision; default 1
	ObservedAt    time.Time // when the incident happened (required)
	ObservedUntil time.Time // end of the incident, zero when it is a moment
	TimePrecision TimePrecision
	Lat, Lon      float64 // WGS 84 (required)
	AccuracyM     float64 // radius of the location's uncertainty in metres, 0 = unknown
	GeoPrecision  GeoPrecision
	Category      Category
	Perpetrator   Actor
	Target        Actor
	Killed        uint32
	Injured       uint32
	Description   string
	Sources       []string
	// Withdrawn marks a revision that takes the report out of every count
	// and the drill-down; its history stays. Only ID and Revision are
	// required with it.
	Withdrawn bool
	// IncidentOf, when set, is another report (partner and id) that this
	// one reports the same event as: the two are one incident whenever
	// both are current (package incident). Never the report itself.
	IncidentOf Key
}

// Actor is a party to an incident.
type Actor struct {
	Name string `json:"name,omitempty"`
	Side Side   `json:"side,omitempty"`
}

// Key identifies a report across revisions.
type Key struct {
	PartnerID string
	ID        string
}

// Key returns the identity of r across its revisions.
func (r *Report) Key() Key { return Key{PartnerID: r.PartnerID, ID: r.ID} }

// wire is the JSON shape of a Report. Encoding goes through it so that the
// output always matches the schema the decoder enforces.
type wire struct {
	ID            string   `json:"id"`
	PartnerID     string   `json:"partner_id,omitempty"`
	Revision      uint32   `json:"revision,omitempty"`
	ObservedAt    string   `json:"observed_at,omitempty"`
	ObservedUntil string   `json:"observed_until,omitempty"`
	TimePrecision string   `json:"time_precision,omitempty"`
	Lat           *float64 `json:"lat,omitempty"`
	Lon           *float64 `json:"lon,omitempty"`
	AccuracyM     float64  `json:"accuracy_m,omitempty"`
	GeoPrecision  string   `json:"geo_precision,omitempty"`
	Category      string   `json:"category,omitempty"`
	Perpetrator   *Actor   `json:"perpetrator,omitempty"`
	Target        *Actor   `json:"target,omitempty"`
	Killed        uint32   `json:"killed,omitempty"`
	Injured       uint32   `json:"injured,omitempty"`
	Description   string   `json:"description,omitempty"`
	Sources       []string `json:"sources,omitempty"`
	Withdrawn     bool     `json:"withdrawn,omitempty"`
	IncidentOf    *link    `json:"incident_of,omitempty"`
}

// link is the JSON shape of Report.IncidentOf.
type link struct {
	PartnerID string `json:"partner_id"`
	ID        string `json:"id"`
}

// MarshalJSON encodes r in schema v1.
func (r Report) MarshalJSON() ([]byte, error) {
	w := wire{
		ID:            r.ID,
		PartnerID:     r.PartnerID,
		Revision:      r.Revision,
		TimePrecision: string(r.TimePrecision),
		AccuracyM:     r.AccuracyM,
		GeoPrecision:  string(r.GeoPrecision),
		Category:      string(r.Category),
		Killed:        r.Killed,
		Injured:       r.Injured,
		Description:   r.Description,
		Sources:       r.Sources,
		Withdrawn:     r.Withdrawn,
	}
	// A withdrawal may leave out what it withdraws; every other report has
	// a time and a place (lat 0 and lon 0 included).
	if !r.ObservedAt.IsZero() {
		w.ObservedAt = r.ObservedAt.UTC().Format(time.RFC3339Nano)
	}
	if !r.Withdrawn || r.Lat != 0 || r.Lon != 0 {
		w.Lat, w.Lon = &r.Lat, &r.Lon
	}
	if !r.ObservedUntil.IsZero() {
		w.ObservedUntil = r.ObservedUntil.UTC().Format(time.RFC3339Nano)
	}
	if r.Perpetrator != (Actor{}) {
		w.Perpetrator = &r.Perpetrator
	}
	if r.Target != (Actor{}) {
		w.Target = &r.Target
	}
	if r.IncidentOf != (Key{}) {
		w.IncidentOf = &link{PartnerID: r.IncidentOf.PartnerID, ID: r.IncidentOf.ID}
	}
	return json.Marshal(w)
}
