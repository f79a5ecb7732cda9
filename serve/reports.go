package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
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
	win, err := q.window(s.o.Now(), s.o.Window, s.o.MaxWindow)
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
	var sql strings.Builder
	fmt.Fprintf(&sql, `SELECT partner_id, report_id, revision, toUInt32(observed_at),
    argMax(lat, cur), argMax(lon, cur), argMax(accuracy_m, cur), argMax(category, cur), argMax(perpetrator_name, cur), argMax(perpetrator_side, cur), argMax(target_name, cur), argMax(target_side, cur), argMax(killed, cur), argMax(injured, cur), argMax(zones, cur), argMax(possible_zones, cur), argMax(adm1, cur), argMax(adm2, cur), argMax(adm3, cur), argMax(violation, cur), argMax(violation_reason, cur), argMax(description, cur)
FROM (SELECT *, toInt64(gen) * 2 + (sign = 1) AS cur FROM %s.reports FINAL
WHERE 1`, s.db)
	var args []any
	if hasBB {
		sql.WriteString(" AND lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?")
		args = append(args, bb.Min[0], bb.Max[0], bb.Min[1], bb.Max[1])
	}
	args = s.rawFilters(&sql, args, win, &f)
	if cur != nil {
		sql.WriteString(` AND (observed_at > toDateTime(?) OR (observed_at = toDateTime(?) AND
    (partner_id > ? OR (partner_id = ? AND report_id > ?))))`)
		args = append(args, cur.T, cur.T, cur.P, cur.P, cur.R)
	}
	// A rematch leaves a chain of rows per revision (+1 gen 0, -1 gen 1,
	// +1 gen 1...): the values shown are the +1 row's of the highest gen.
	sql.WriteString(`)
GROUP BY partner_id, report_id, revision, observed_at
HAVING sum(sign) > 0
ORDER BY observed_at, partner_id, report_id
LIMIT ?`)
	args = append(args, limit+1)

	fc := geojson.NewFeatureCollection()
	var last cursor
	seen := 0
	err = s.each(r, "reports", sourceRaw, sql.String(), args, func(sc scanner) error {
		var (
			partner, id, cat, perpName, perpSide, tgtName, tgtSide string
			adm1, adm2, adm3, reason, desc                         string
			rev, t, killed, injured                                uint32
			lat, lon                                               float64
			acc                                                    float32
			zones, possible                                        []string
			viol                                                   uint8
		)
		if err := sc.Scan(&partner, &id, &rev, &t, &lat, &lon, &acc, &cat, &perpName, &perpSide,
			&tgtName, &tgtSide, &killed, &injured, &zones, &possible, &adm1, &adm2, &adm3, &viol, &reason, &desc); err != nil {
			return err
		}
		seen++
		if seen > limit {
			return nil // the extra row only says there is a next page
		}
		ft := geojson.NewFeature(orb.Point{lon, lat})
		ft.ID = partner + "/" + id
		ft.Properties = geojson.Properties{
			"partner_id": partner, "id": id, "revision": rev,
			"observed_at": time.Unix(int64(t), 0).UTC().Format(time.RFC3339),
			"accuracy_m":  acc, "category": cat,
			"perpetrator": map[string]string{"name": perpName, "side": perpSide},
			"target":      map[string]string{"name": tgtName, "side": tgtSide},
			"killed":      killed, "injured": injured,
			"zones": nonNil(zones), "possible_zones": nonNil(possible),
			"adm1": adm1, "adm2": adm2, "adm3": adm3,
			"violation": viol == 1, "violation_reason": reason, "description": desc,
		}
		fc.Append(ft)
		last = cursor{T: int64(t), P: partner, R: id}
		return nil
	})
	if err != nil {
		return err
	}
	var link string
	more := seen > limit
	fc.ExtraMembers = geojson.Properties{"from": win.From.Format(time.RFC3339), "to": win.To.Format(time.RFC3339)}
	if more {
		next := last.encode()
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
