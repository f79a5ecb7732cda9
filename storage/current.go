package storage

import (
	"context"
	"strings"

	"github.com/trucewatch/trucewatch/storage/read"
)

// The current revision of a report, defined once: the revision whose rows
// (FINAL: a redone span's copies folded) sum to a positive sign, each of
// its columns taken from its +1 row of the highest rematch gen. A
// replaced revision sums to 0 (its +1 and its gen-0 -1); a rematch leaves
// a chain +1 gen 0, -1 gen 1, +1 gen 1, ... per revision whose last +1
// row holds the values. Filtering rows before the grouping is exact: a row
// that leaves a filter (a rematch moving a report out of a zone) leaves
// with its -1, which takes back its +1.
const currentSelect = `SELECT partner_id, report_id, revision, toUInt32(observed_at),
    argMax(lat, cur), argMax(lon, cur), argMax(accuracy_m, cur), argMax(category, cur), argMax(perpetrator_name, cur), argMax(perpetrator_side, cur), argMax(target_name, cur), argMax(target_side, cur), argMax(killed, cur), argMax(injured, cur), argMax(zones, cur), argMax(possible_zones, cur), argMax(adm1, cur), argMax(adm2, cur), argMax(adm3, cur), argMax(violation, cur), argMax(violation_reason, cur), argMax(description, cur)
FROM (SELECT *, toInt64(gen) * 2 + (sign = 1) AS cur FROM {db}.reports FINAL
WHERE 1`

const currentGroup = `)
GROUP BY partner_id, report_id, revision, observed_at
HAVING sum(sign) > 0`

// Reports returns the current revision of the reports matching q, in
// (observed_at, partner_id, report_id) order from q.After, at most
// q.Limit: keyset paging, stable while new reports arrive.
func (s *Store) Reports(ctx context.Context, q read.ReportQuery) ([]read.Report, error) {
	var sql strings.Builder
	sql.WriteString(s.sql(currentSelect))
	var args []any
	if b := q.Box; b != nil {
		sql.WriteString(" AND lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?")
		args = append(args, b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	args = rawFilters(&sql, args, &q.Filter)
	if c := q.After; c != nil {
		sql.WriteString(` AND (observed_at > toDateTime(?) OR (observed_at = toDateTime(?) AND
    (partner_id > ? OR (partner_id = ? AND report_id > ?))))`)
		args = append(args, c.ObservedAt, c.ObservedAt, c.PartnerID, c.PartnerID, c.ReportID)
	}
	sql.WriteString(currentGroup + `
ORDER BY observed_at, partner_id, report_id
LIMIT ?`)
	args = append(args, q.Limit)
	var out []read.Report
	err := s.each(ctx, "reports", sql.String(), args, func(sc scanner) error {
		var (
			r    read.Report
			t    uint32
			viol uint8
		)
		if err := sc.Scan(&r.PartnerID, &r.ReportID, &r.Revision, &t, &r.Lat, &r.Lon, &r.AccuracyM, &r.Category,
			&r.PerpetratorName, &r.PerpetratorSide, &r.TargetName, &r.TargetSide, &r.Killed, &r.Injured,
			&r.Zones, &r.PossibleZones, &r.Adm1, &r.Adm2, &r.Adm3, &viol, &r.ViolationReason, &r.Description); err != nil {
			return err
		}
		r.ObservedAt, r.Violation = int64(t), viol == 1
		out = append(out, r)
		return nil
	})
	return out, err
}
