package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/geojson"

	"github.com/trucewatch/trucewatch/storage/read"
)

// IncidentStore is what the incident endpoints read (storage.Store
// implements it; package incident writes what it reads).
type IncidentStore interface {
	Incidents(ctx context.Context, q read.IncidentQuery) ([]read.Incident, error)
	IncidentCounts(ctx context.Context, q read.IncidentQuery) (read.IncidentCounts, error)
	Incident(ctx context.Context, id string) (read.Incident, []read.Report, bool, error)
	// The incident aggregates (whole days, or hours for zones; f's
	// categories, violation classes and precisions):
	// IncidentAreaCounts counts incidents per admin area of a level,
	IncidentAreaCounts(ctx context.Context, level int, f read.Filter) (map[string]read.IncidentCounts, error)
	// IncidentZoneCounts in each of zones,
	IncidentZoneCounts(ctx context.Context, zones []string, f read.Filter) (map[string]read.IncidentCounts, error)
	// IncidentZoneSeries in a zone per hour,
	IncidentZoneSeries(ctx context.Context, zone string, f read.Filter) ([]read.IncidentHour, error)
	// IncidentTileCells in the cells of an area, by precision, ordered
	// by key.
	IncidentTileCells(ctx context.Context, q read.CellQuery) ([]read.IncidentTileCell, error)
}

// Limits of GET /v1/incidents.
const (
	DefaultIncidentsLimit = 1000
	MaxIncidentsLimit     = 10_000
)

var incidentsParams = []string{"bbox", "from", "to", "limit"}

// incidentRoutes are the incident endpoints, when Options.Incidents is set.
func (s *Server) incidentRoutes() []*route {
	if s.o.Incidents == nil {
		return nil
	}
	return []*route{
		{name: "incidents", method: "GET", pattern: "/v1/incidents", path: "/v1/incidents",
			summary: "The incidents (reports of one event by several partners, fused) in a bbox and window, with their counts.",
			desc: "Features are incidents at their representative point, oldest first, at most limit; counts (all " +
				"matching incidents): incidents, reports, single (one partner), corroborated (two or more), " +
				"cross_groups (partners of two groups or more), contested (perpetrator sides disagree), violations, " +
				"killed and killed_min (sums of each incident's largest and smallest figure). See docs/incidents.md.",
			query: incidentsParams, ctypes: []string{"application/geo+json"}, handler: s.handleIncidents},
		{name: "incident", method: "GET", pattern: "/v1/incidents/{id}", path: "/v1/incidents/{id}",
			summary:    "One incident and its reports side by side, with the fields on which they differ.",
			pathParams: []param{{"id", "incident id", map[string]any{"type": "string"}}},
			ctypes:     []string{"application/json"}, handler: s.handleIncident},
	}
}

func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) error {
	l, err := s.parseListing(r, incidentsParams, DefaultIncidentsLimit, MaxIncidentsLimit)
	if err != nil {
		return err
	}
	win := l.win
	iq := read.IncidentQuery{From: win.From, To: win.To, Limit: l.limit, Box: l.box}
	var incs []read.Incident
	var c read.IncidentCounts
	err = s.ask(r, "incidents", "incidents", func(ctx context.Context) (err error) {
		if incs, err = s.o.Incidents.Incidents(ctx, iq); err != nil {
			return err
		}
		c, err = s.o.Incidents.IncidentCounts(ctx, iq)
		return err
	})
	if err != nil {
		return err
	}
	fc := geojson.NewFeatureCollection()
	for i := range incs {
		fc.Append(incidentFeature(&incs[i]))
	}
	fc.ExtraMembers = geojson.Properties{"from": win.From.Format(time.RFC3339), "to": win.To.Format(time.RFC3339),
		"truncated": c.Incidents > int64(len(incs)),
		"counts": map[string]int64{"incidents": c.Incidents, "reports": c.Reports, "single": c.Single,
			"corroborated": c.Corroborated, "cross_groups": c.CrossGroups, "contested": c.Contested,
			"violations": c.Violations, "possible_violations": c.PossibleViolations, "killed": c.Killed, "killed_min": c.KilledMin}}
	b, err := json.Marshal(fc)
	if err != nil {
		return fmt.Errorf("serve: encode incidents: %w", err)
	}
	return s.send(w, r, response{ctype: "application/geo+json", body: append(b, '\n'), cache: "no-cache", route: "incidents"})
}

// corroboration is how an incident is corroborated: single (one
// partner), corroborated (two or more), cross_groups (partners of two
// groups or more).
func corroboration(inc *read.Incident) string {
	switch {
	case len(inc.Groups) >= 2:
		return "cross_groups"
	case len(inc.Partners) >= 2:
		return "corroborated"
	}
	return "single"
}

func incidentProps(inc *read.Incident) geojson.Properties {
	return geojson.Properties{
		"id": inc.ID, "observed_at": unixTime(inc.ObservedAt), "observed_until": unixTime(inc.ObservedUntil),
		"uncertainty_m": inc.UncertaintyM, "category": inc.Category,
		"zones": nonNil(inc.Zones), "possible_zones": nonNil(inc.PossibleZones),
		"adm1": inc.Adm1, "adm2": inc.Adm2, "adm3": inc.Adm3, "violation": inc.Violation,
		"violation_class": [...]string{read.NotViolation: "none", read.DefiniteViolation: "definite", read.PossibleViolation: "possible"}[inc.ViolationClass],
		"partners":        nonNil(inc.Partners), "groups": nonNil(inc.Groups), "reports": len(inc.Members),
		"corroboration": corroboration(inc), "killed": inc.Killed, "killed_min": inc.KilledMin,
		"injured": inc.Injured, "injured_min": inc.InjuredMin, "sides": nonNil(inc.Sides), "contested": inc.Contested,
	}
}

// incidentFeature is an incident as a GeoJSON point feature.
func incidentFeature(inc *read.Incident) *geojson.Feature {
	ft := geojson.NewFeature(orb.Point{inc.Lon, inc.Lat})
	ft.ID = inc.ID
	ft.Properties = incidentProps(inc)
	return ft
}

func (s *Server) handleIncident(w http.ResponseWriter, r *http.Request) error {
	if _, err := newQuery(r.URL, nil); err != nil {
		return err
	}
	id := r.PathValue("id")
	var inc read.Incident
	var reports []read.Report
	var ok bool
	err := s.ask(r, "incident", "incidents", func(ctx context.Context) (err error) {
		inc, reports, ok, err = s.o.Incidents.Incident(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	if !ok {
		return &paramError{Status: http.StatusNotFound, Param: "id", Message: fmt.Sprintf("no incident %q", id)}
	}
	props := incidentProps(&inc)
	props["lon"], props["lat"] = inc.Lon, inc.Lat
	rs := make([]geojson.Properties, len(reports))
	for i := range reports {
		rs[i] = reportFeature(&reports[i]).Properties
		rs[i]["lon"], rs[i]["lat"] = reports[i].Lon, reports[i].Lat
	}
	return s.sendJSON(w, r, "incident", "application/json", "no-cache", map[string]any{
		"incident": props, "reports": rs, "differs": differs(reports), "spread": spread(reports)})
}

// differs lists the fields on which the reports disagree, in a fixed order.
func differs(rs []read.Report) []string {
	fields := []struct {
		name string
		get  func(*read.Report) any
	}{
		{"observed_at", func(r *read.Report) any { return r.ObservedAt }},
		{"observed_until", func(r *read.Report) any { return r.ObservedUntil }},
		{"time_precision", func(r *read.Report) any { return r.TimePrecision }},
		{"location", func(r *read.Report) any { return [2]float64{r.Lon, r.Lat} }},
		{"accuracy_m", func(r *read.Report) any { return r.AccuracyM }},
		{"geo_precision", func(r *read.Report) any { return r.GeoPrecision }},
		{"category", func(r *read.Report) any { return r.Category }},
		{"perpetrator.name", func(r *read.Report) any { return r.PerpetratorName }},
		{"perpetrator.side", func(r *read.Report) any { return r.PerpetratorSide }},
		{"target.name", func(r *read.Report) any { return r.TargetName }},
		{"target.side", func(r *read.Report) any { return r.TargetSide }},
		{"killed", func(r *read.Report) any { return r.Killed }},
		{"injured", func(r *read.Report) any { return r.Injured }},
		{"violation", func(r *read.Report) any { return r.Violation }},
		{"adm3", func(r *read.Report) any { return r.Adm3 }},
	}
	out := []string{}
	for _, f := range fields {
		for i := 1; i < len(rs); i++ {
			if f.get(&rs[i]) != f.get(&rs[0]) {
				out = append(out, f.name)
				break
			}
		}
	}
	return out
}

// spread is how far apart the reports are: the largest distance between
// two of their points in metres, and between two of their times in
// seconds.
func spread(rs []read.Report) map[string]float64 {
	var m, t float64
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			m = max(m, geo.DistanceHaversine(orb.Point{rs[i].Lon, rs[i].Lat}, orb.Point{rs[j].Lon, rs[j].Lat}))
			t = max(t, float64(abs64(rs[i].ObservedAt-rs[j].ObservedAt)))
		}
	}
	return map[string]float64{"distance_m": float64(int64(m)), "time_s": t}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
