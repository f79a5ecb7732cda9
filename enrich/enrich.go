// Package enrich turns a decoded report into the row the store keeps: it
// places the report in the zones and admin areas in force at its time and
// decides whether it is a candidate violation. Ingest runs it on what it
// reads from Kafka, rematch on stored reports after a zone set changes,
// and the tests on their fixtures, so that all of them store the same row
// for the same report. It knows nothing of Kafka or ClickHouse.
package enrich

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// Matcher places a point in its zones and admin areas at a time
// (*geo.Matcher and *geo.Holder are ones).
type Matcher interface {
	Match(p orb.Point, at time.Time, accuracyM float64, dst *geo.Match)
}

// Classifier decides whether a matched report is a candidate violation
// (violation.Rules is one).
type Classifier interface {
	Classify(r *report.Report, m *geo.Match) (violation bool, reason string)
}

// Enricher matches and classifies reports. It keeps scratch space, so one
// Enricher serves one goroutine.
type Enricher struct {
	match    Matcher
	classify Classifier // nil: no report is a violation
	m        geo.Match
}

// New returns an Enricher over m and c (c may be nil).
func New(m Matcher, c Classifier) *Enricher { return &Enricher{match: m, classify: c} }

// Row is the row of r: matched at its observed_at with its uncertainty,
// classified, received at receivedAt (which must come from the message,
// not the clock, so that a redone batch writes the same row).
func (e *Enricher) Row(r *report.Report, receivedAt time.Time) storage.Row {
	if r.Withdrawn {
		// Stored with the content it withdraws (storage decides): no match.
		row := Flatten(r, &geo.Match{})
		row.ReceivedAt = receivedAt
		return row
	}
	e.match.Match(orb.Point{r.Lon, r.Lat}, r.ObservedAt, r.UncertaintyM(), &e.m)
	row := Flatten(r, &e.m)
	row.ReceivedAt = receivedAt
	if e.classify != nil {
		row.Violation, row.ViolationReason = e.classify.Classify(r, &e.m)
	}
	return row
}

// Flatten is the row of a report and its match, unclassified and without
// a receive time.
func Flatten(r *report.Report, m *geo.Match) storage.Row {
	row := storage.Row{
		PartnerID:       r.PartnerID,
		ReportID:        r.ID,
		Revision:        r.Revision,
		ObservedAt:      r.ObservedAt,
		ObservedUntil:   r.ObservedUntil,
		TimePrecision:   string(r.TimePrecision),
		Lat:             r.Lat,
		Lon:             r.Lon,
		AccuracyM:       float32(r.AccuracyM),
		GeoPrecision:    string(r.GeoPrecision),
		Category:        string(r.Category),
		PerpetratorName: r.Perpetrator.Name,
		PerpetratorSide: string(r.Perpetrator.Side),
		TargetName:      r.Target.Name,
		TargetSide:      string(r.Target.Side),
		Killed:          r.Killed,
		Injured:         r.Injured,
		Description:     r.Description,
		Sources:         r.Sources,
		ZoneSet:         m.ZoneSet,
		Adm1:            m.Adm1,
		Adm2:            m.Adm2,
		Adm3:            m.Adm3,
		AdmApprox:       m.AdmApprox,
		Withdrawn:       r.Withdrawn,
		IncidentOf:      read.ReportKey{PartnerID: r.IncidentOf.PartnerID, ReportID: r.IncidentOf.ID},
	}
	for _, z := range m.Zones {
		if z.Possible {
			row.PossibleZones = append(row.PossibleZones, z.ID)
		} else {
			row.Zones = append(row.Zones, z.ID)
		}
	}
	return row
}
