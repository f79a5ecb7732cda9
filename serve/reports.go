package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/trucewatch/trucewatch/storage/read"
)

var reportsParams = []string{"bbox", "from", "to", "limit", "cursor", "category", "side", "violation", "zone", "partner", "precision"}

// handleReports lists the current revision of the reports in a bbox and
// window, oldest first, a page at a time. The cursor is a keyset position
// (observed_at, partner_id, report_id), so pages stay stable while new
// reports arrive.
func (s *Server) handleReports(w http.ResponseWriter, r *http.Request) error {
	l, err := s.parseListing(r, reportsParams, DefaultReportsLimit, MaxReportsLimit)
	if err != nil {
		return err
	}
	q, win, limit := l.q, l.win, l.limit
	cur, err := q.cursor()
	if err != nil {
		return err
	}
	f, err := q.filters(s.knownZone)
	if err != nil {
		return err
	}
	q2 := read.ReportQuery{Filter: inWindow(f, win), Box: l.box, Limit: limit + 1} // the extra row says there is a next page
	if cur != nil {
		q2.After = &read.Cursor{ObservedAt: cur.T, PartnerID: cur.P, ReportID: cur.R}
	}
	var rs []read.Report
	err = s.ask(r, "reports", sourceRaw, func(ctx context.Context) (err error) {
		rs, err = s.o.Store.Reports(ctx, q2)
		return err
	})
	if err != nil {
		return err
	}
	more := len(rs) > limit
	rs = rs[:min(len(rs), limit)]
	fc := geojson.NewFeatureCollection()
	for _, rp := range rs {
		fc.Append(reportFeature(&rp))
	}
	var link string
	fc.ExtraMembers = geojson.Properties{"from": win.From.Format(time.RFC3339), "to": win.To.Format(time.RFC3339)}
	if more {
		last := rs[len(rs)-1]
		next := cursor{T: last.ObservedAt, P: last.PartnerID, R: last.ReportID}.encode()
		fc.ExtraMembers["next_cursor"] = next
		u := *r.URL
		v := u.Query()
		v.Set("cursor", next)
		u.RawQuery = v.Encode()
		link = fmt.Sprintf(`<%s>; rel="next"`, (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String())
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return fmt.Errorf("serve: encode reports: %w", err)
	}
	return s.send(w, r, response{ctype: "application/geo+json", body: append(b, '\n'), cache: "no-cache", route: "reports", link: link})
}

// handleHistory lists every stored revision of one report, withdrawals
// included: what was said, corrected and withdrawn, and when it arrived.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) error {
	if _, err := newQuery(r.URL, nil); err != nil {
		return err
	}
	partner, id := r.PathValue("partner"), r.PathValue("id")
	if !validPartner(partner) {
		return badParam("partner", "%q is not a partner id", clipParam(partner))
	}
	var rs []read.Report
	err := s.ask(r, "history", sourceRaw, func(ctx context.Context) (err error) {
		rs, err = s.o.Store.History(ctx, partner, id)
		return err
	})
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return &paramError{Status: http.StatusNotFound, Param: "id", Message: fmt.Sprintf("no report %q of partner %q", clipParam(id), partner)}
	}
	fc := geojson.NewFeatureCollection()
	for i := range rs {
		ft := reportFeature(&rs[i])
		ft.Properties["withdrawn"] = rs[i].Withdrawn
		fc.Append(ft)
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return fmt.Errorf("serve: encode history: %w", err)
	}
	return s.send(w, r, response{ctype: "application/geo+json", body: append(b, '\n'), cache: "no-cache", route: "history"})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// reportFeature is a report as a GeoJSON point feature.
func reportFeature(rp *read.Report) *geojson.Feature {
	ft := geojson.NewFeature(orb.Point{rp.Lon, rp.Lat})
	ft.ID = rp.PartnerID + "/" + rp.ReportID
	ft.Properties = geojson.Properties{
		"partner_id": rp.PartnerID, "id": rp.ReportID, "revision": rp.Revision,
		"observed_at": time.Unix(rp.ObservedAt, 0).UTC().Format(time.RFC3339),
		"accuracy_m":  rp.AccuracyM, "category": rp.Category,
		"perpetrator": map[string]string{"name": rp.PerpetratorName, "side": rp.PerpetratorSide},
		"target":      map[string]string{"name": rp.TargetName, "side": rp.TargetSide},
		"killed":      rp.Killed, "injured": rp.Injured,
		"zones": nonNil(rp.Zones), "possible_zones": nonNil(rp.PossibleZones),
		"adm1": rp.Adm1, "adm2": rp.Adm2, "adm3": rp.Adm3,
		"violation": rp.Violation, "violation_reason": rp.ViolationReason, "description": rp.Description,
		"observed_until": unixTime(rp.ObservedUntil), "time_precision": rp.TimePrecision,
		"geo_precision": rp.GeoPrecision, "sources": nonNil(rp.Sources), "zone_set": rp.ZoneSet,
		"adm_approx": rp.AdmApprox, "received_at": unixTime(rp.ReceivedAt),
	}
	return ft
}

// unixTime is RFC 3339 UTC, or nil (JSON null) for 0.
func unixTime(t int64) any {
	if t == 0 {
		return nil
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// reportsSchema is the answer of /v1/reports: a GeoJSON FeatureCollection
// of points, one per report with every stored field of its current revision.
var reportsSchema = func() map[string]any {
	str := map[string]any{"type": "string"}
	strs := map[string]any{"type": "array", "items": str}
	ts := map[string]any{"type": "string", "format": "date-time"}
	party := map[string]any{"type": "object", "properties": map[string]any{"name": str, "side": str}}
	d := func(desc string, sch map[string]any) map[string]any {
		m := map[string]any{"description": desc}
		for k, v := range sch {
			m[k] = v
		}
		return m
	}
	props := map[string]any{
		"partner_id":       d("the reporting partner", str),
		"id":               d("the report's id, unique per partner", str),
		"revision":         map[string]any{"type": "integer", "description": "the current revision"},
		"observed_at":      d("when the incident was observed (UTC, to the second)", ts),
		"observed_until":   d("end of an incident that lasted (null: none)", map[string]any{"type": "string", "format": "date-time", "nullable": true}),
		"time_precision":   d("how precise observed_at is", str),
		"accuracy_m":       map[string]any{"type": "number", "description": "radius of the location's uncertainty, metres"},
		"geo_precision":    d("how precise the location is", str),
		"category":         str,
		"perpetrator":      party,
		"target":           party,
		"killed":           map[string]any{"type": "integer"},
		"injured":          map[string]any{"type": "integer"},
		"description":      str,
		"sources":          d("the partner's sources as given (URLs or text)", strs),
		"zone_set":         d("the zone-set version zones and violation were computed against", str),
		"zones":            d("zones whose area contains the report", strs),
		"possible_zones":   d("zones the accuracy circle only overlaps", strs),
		"adm1":             str,
		"adm2":             str,
		"adm3":             str,
		"adm_approx":       map[string]any{"type": "boolean", "description": "adm1..3 are those of the nearest area (the point is in none)"},
		"violation":        map[string]any{"type": "boolean"},
		"violation_reason": d("why the report is or is not a violation", str),
		"received_at":      d("when the pipeline received the revision", ts),
	}
	var req []string
	for k := range props {
		req = append(req, k)
	}
	slices.Sort(req)
	return map[string]any{
		"type": "object", "required": []string{"type", "features"},
		"properties": map[string]any{
			"type": map[string]any{"type": "string", "enum": []string{"FeatureCollection"}},
			"from": ts, "to": ts,
			"next_cursor": d("absent on the last page", str),
			"features": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []string{"type", "id", "geometry", "properties"},
				"properties": map[string]any{
					"type": map[string]any{"type": "string", "enum": []string{"Feature"}},
					"id":   d("partner_id/id", str),
					"geometry": map[string]any{"type": "object", "properties": map[string]any{
						"type":        map[string]any{"type": "string", "enum": []string{"Point"}},
						"coordinates": map[string]any{"type": "array", "items": map[string]any{"type": "number"}, "minItems": 2, "maxItems": 2}}},
					"properties": map[string]any{"type": "object", "required": req, "properties": props},
				}}},
		}}
}()
