package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// The current revision of a report, defined once (currentSQL; the view
// reports_current is the same query, migration 0003): the revision whose
// rows (FINAL: a redone span's copies folded) sum to a positive sign,
// each column taken from its +1 row of the highest rematch gen. A
// replaced revision sums to 0 (its +1 and its gen-0 -1); a rematch leaves
// a chain +1 gen 0, -1 gen 1, +1 gen 1, ... per revision whose last +1
// row holds the values. Filtering rows before the grouping is exact: a row
// that leaves a filter (a rematch moving a report out of a zone) leaves
// with its -1, which takes back its +1. While a pending span is not yet
// redone, two revisions of a report may both show.

// currentCols are the columns after the key (partner_id, report_id,
// revision, observed_at), in reportColumns' order, then gen.
var currentCols = append(strings.Split(strings.Join(strings.Fields(reportColumns), ""), ",")[4:], "gen")

// currentSQL selects the current revision of every report whose rows
// match where (conditions on reports' columns, each starting with
// " AND "): the key, then currentCols.
func currentSQL(where string) string {
	var inner, outer strings.Builder
	for _, c := range currentCols {
		fmt.Fprintf(&inner, ", %s AS c_%s", c, c)
		fmt.Fprintf(&outer, ",\n    argMax(c_%s, cur) AS %s", c, c)
	}
	return `SELECT partner_id, report_id, revision, observed_at` + outer.String() + `
FROM (SELECT partner_id, report_id, revision, observed_at, sign, toInt64(gen) * 2 + (sign = 1) AS cur` + inner.String() + `
    FROM {db}.reports FINAL` + prewhere(where) + `)
GROUP BY partner_id, report_id, revision, observed_at
HAVING sum(sign) > 0`
}

// prewhere is where (conditions each starting with " AND ") as the
// PREWHERE of a FINAL read: it filters the rows before the parts are
// merged, so that FINAL merges and every other column is read for the
// few rows in a drill-down's box, not for every row of its granules (a
// third of its time). That is exact here: the rows FINAL folds are copies
// of one write (the whole row is the sorting key's), so a condition keeps
// all of them or none.
func prewhere(where string) string {
	if where == "" {
		return "\n    WHERE 1" // as the view reports_current has it
	}
	return "\n    PREWHERE " + strings.TrimPrefix(where, " AND ")
}

// Reports returns the current revision of the reports matching q, in
// (observed_at, partner_id, report_id) order from q.After, at most
// q.Limit: keyset paging, stable while new reports arrive.
func (s *Store) Reports(ctx context.Context, q read.ReportQuery) ([]read.Report, error) {
	var where strings.Builder
	var args []any
	if b := q.Box; b != nil {
		where.WriteString(" AND lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?")
		args = append(args, b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
		// The tiles around the box: a range of the key after the day, so
		// a one-day bbox reads a few granules, not the day's every row.
		// Every row of a revision has its coordinates, so all of them or
		// none pass.
		if rs := read.BoxRanges(*b); rs != nil {
			where.WriteString(" AND (")
			for i, r := range rs {
				if i > 0 {
					where.WriteString(" OR ")
				}
				where.WriteString("(tile >= ? AND tile < ?)")
				args = append(args, r[0], r[1])
			}
			where.WriteString(")")
		}
	}
	args = rawFilters(&where, args, &q.Filter)
	if c := q.After; c != nil {
		where.WriteString(` AND (observed_at > toDateTime(?) OR (observed_at = toDateTime(?) AND
    (partner_id > ? OR (partner_id = ? AND report_id > ?))))`)
		args = append(args, c.ObservedAt, c.ObservedAt, c.PartnerID, c.PartnerID, c.ReportID)
	}
	sql := s.sql(currentSQL(where.String())) + "\nORDER BY observed_at, partner_id, report_id\nLIMIT ?"
	args = append(args, q.Limit)
	var out []read.Report
	err := s.each(ctx, "reports", sql, args, func(sc scanner) error {
		var gen uint32
		sr, err := scanReportWith(sc, &gen)
		if err != nil {
			return err
		}
		out = append(out, reportOf(&sr.Row))
		return nil
	})
	return out, err
}

func reportOf(r *Row) read.Report {
	return read.Report{PartnerID: r.PartnerID, ReportID: r.ReportID, Revision: r.Revision, ObservedAt: r.ObservedAt.Unix(),
		Lat: r.Lat, Lon: r.Lon, AccuracyM: r.AccuracyM, Category: r.Category,
		PerpetratorName: r.PerpetratorName, PerpetratorSide: r.PerpetratorSide, TargetName: r.TargetName, TargetSide: r.TargetSide,
		Killed: r.Killed, Injured: r.Injured, Zones: r.Zones, PossibleZones: r.PossibleZones,
		Adm1: r.Adm1, Adm2: r.Adm2, Adm3: r.Adm3, Violation: r.Violation, ViolationReason: r.ViolationReason, Description: r.Description,
		ObservedUntil: unixOrZero(r.ObservedUntil), TimePrecision: r.TimePrecision, GeoPrecision: r.GeoPrecision,
		Sources: r.Sources, ZoneSet: r.ZoneSet, AdmApprox: r.AdmApprox, ReceivedAt: unixOrZero(r.ReceivedAt), IncidentOf: r.IncidentOf}
}

// unixOrZero is t in Unix seconds, 0 for the zero time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// History returns every stored revision of a report, oldest first,
// withdrawals included, each with its latest rematch; none when nothing
// is stored. It finds the revisions in revisions, ordered by report key,
// and reads their +1 rows from reports by its sorting key.
func (s *Store) History(ctx context.Context, partnerID, reportID string) ([]read.Report, error) {
	q := s.sql(`SELECT ` + reportColumns + `, withdrawn, gen
FROM {db}.reports
WHERE partner_id = ? AND report_id = ? AND sign = 1
  AND toDate(observed_at) IN (SELECT toDate(observed_at) FROM {db}.revisions WHERE partner_id = ? AND report_id = ?)
  AND tile IN (SELECT tile FROM {db}.revisions WHERE partner_id = ? AND report_id = ?)
ORDER BY revision, gen`)
	var out []read.Report
	err := s.each(ctx, "history", q, []any{partnerID, reportID, partnerID, reportID, partnerID, reportID}, func(sc scanner) error {
		var (
			withdrawn uint8
			gen       uint32
		)
		sr, err := scanReportWith(sc, &withdrawn, &gen)
		if err != nil {
			return err
		}
		rp := reportOf(&sr.Row)
		rp.Withdrawn = withdrawn == 1
		if n := len(out); n > 0 && out[n-1].Revision == rp.Revision {
			out[n-1] = rp // a later rematch of the same revision
			return nil
		}
		out = append(out, rp)
		return nil
	})
	return out, err
}
