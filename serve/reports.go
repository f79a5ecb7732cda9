package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/trucewatch/trucewatch/storage/read"
)

var reportsParams = []string{"bbox", "from", "to", "limit", "cursor", "category", "side", "violation", "zone", "partner"}

// handleReports lists the current revision of the reports in a bbox and
// window, oldest first, a page at a time. The cursor is a keyset position
// (observed_at, partner_id, report_id), so pages stay stable while new
// reports arrive.
func (s *Server) handleReports(w http.ResponseWriter, r *http.Request) error {
	q, err := newQuery(r.URL, reportsParams)
	if err != nil {
		return err
	}
	bb, hasBB, err := q.bbox("bbox", false)
	if err != nil {
		return err
	}
	win, err := q.window(s.windowNow(r), s.o.Window, s.o.MaxWindow)
	if err != nil {
		return err
	}
	limit, err := q.intRange("limit", DefaultReportsLimit, 1, MaxReportsLimit)
	if err != nil {
		return err
	}
	cur, err := q.cursor()
	if err != nil {
		return err
	}
	f, err := q.filters(s.knownZone)
	if err != nil {
		return err
	}
	q2 := read.ReportQuery{Filter: inWindow(f, win), Limit: limit + 1} // the extra row says there is a next page
	if hasBB {
		q2.Box = &read.Box{MinLon: bb.Min[0], MinLat: bb.Min[1], MaxLon: bb.Max[0], MaxLat: bb.Max[1]}
	}
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
	}
	return ft
}
