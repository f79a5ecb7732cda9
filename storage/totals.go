package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// The aggregate tables (migration 0004).
const (
	zoneTable = "counts_zone_hour"
	admTable  = "counts_adm_day"
	tileTable = "counts_tile_day"
)

// rawPrecision and rawViolation are the raw table's expressions for the
// aggregates' precision and violation columns.
const (
	rawPrecision = "if(geo_precision = '', 'exact', geo_precision)"
	rawViolation = "multiIf(violation = 0, 0, startsWith(violation_reason, 'possibly_in_zone'), 2, 1)"
)

// quoted is a list of our own constants (read.Precisions) as an SQL set.
func quoted(xs []string) string {
	if len(xs) == 0 {
		return "('')"
	}
	return "('" + strings.Join(xs, "', '") + "')"
}

// placedSums are the measures (read.Counts, in order n, k, i, v, pv, c)
// of an aggregate whose rows of a precision in placed count and the
// others are too coarse; precision and violation name its columns, and
// the n/k/i expressions its sums (n_reports or sign).
func placedSums(placed []string, precision, violation, n, k, i string) string {
	in := precision + " IN " + quoted(placed)
	return fmt.Sprintf(`sumIf(%[2]s, %[1]s) AS n, sumIf(%[3]s, %[1]s) AS k, sumIf(%[4]s, %[1]s) AS i,
    sumIf(%[2]s, %[1]s AND %[5]s = 1) AS v, sumIf(%[2]s, %[1]s AND %[5]s = 2) AS pv, sumIf(%[2]s, NOT %[1]s) AS c`,
		in, n, k, i, violation)
}

const sumCounts = "sum(n), sum(k), sum(i), sum(v), sum(pv), sum(c)"

func scanCounts(c *read.Counts) []any {
	return []any{&c.Reports, &c.Killed, &c.Injured, &c.Violations, &c.PossibleViolations, &c.Coarse}
}

// zoneSums are the measures of counts_zone_hour as read.Totals: the
// counts of the reports inside a zone, and apart those only possibly in
// it (p) and the candidate violations among them (pv). A zone has no
// coarse reports: a coarse report's circle crosses it (possible) or lies
// inside it.
const zoneSums = `sumIf(n_reports, possible = 0) AS n, sumIf(n_killed, possible = 0) AS k, sumIf(n_injured, possible = 0) AS i,
    sumIf(n_reports, possible = 0 AND violation = 1) AS v, sumIf(n_reports, possible = 1 AND violation = 1) AS pv,
    toInt64(0) AS c, sumIf(n_reports, possible = 1) AS p`

// zoneFilters appends f's category and precision conditions.
func zoneFilters(sql *strings.Builder, args []any, f *read.Filter) []any {
	if len(f.Categories) > 0 {
		sql.WriteString(" AND category IN ?")
		args = append(args, set(f.Categories))
	}
	if len(f.Precisions) > 0 {
		sql.WriteString(" AND precision IN ?")
		args = append(args, set(f.Precisions))
	}
	return args
}

// ZoneTotals returns the totals of each of zones (that holds rows) over
// [f.From, f.To), whole hours, of the reports of f's categories and
// precisions.
func (s *Store) ZoneTotals(ctx context.Context, zones []string, f read.Filter) (map[string]read.Totals, error) {
	out := map[string]read.Totals{}
	if len(zones) == 0 {
		return out, nil
	}
	segs := s.segments(ctx, zoneTable, f.From, f.To)
	sql, args := unionSQL("zone, "+sumCounts+", sum(p)", "GROUP BY zone", segs, func(seg segment, final string) (string, []any) {
		var b strings.Builder
		fmt.Fprintf(&b, `SELECT zone,
    %s
FROM %s.%s%s
WHERE zone IN ? AND hour >= toDateTime(?) AND hour < toDateTime(?)`, zoneSums, s.qdb, zoneTable, final)
		args := zoneFilters(&b, []any{set(zones), seg.from.Unix(), seg.to.Unix()}, &f)
		b.WriteString("\nGROUP BY zone")
		return b.String(), args
	})
	err := s.each(ctx, "zone totals", sql, args, func(sc scanner) error {
		var id string
		var t read.Totals
		if err := sc.Scan(append(append([]any{&id}, scanCounts(&t.Counts)...), &t.Possible)...); err != nil {
			return err
		}
		out[id] = t
		return nil
	})
	return out, err
}

// ZoneSeries returns zone's totals per hour of [f.From, f.To) (whole
// hours) that holds rows, in order, of f's categories and precisions.
func (s *Store) ZoneSeries(ctx context.Context, zone string, f read.Filter) ([]read.HourTotals, error) {
	segs := s.segments(ctx, zoneTable, f.From, f.To)
	sql, args := unionSQL("h, "+sumCounts+", sum(p)", "GROUP BY h\nORDER BY h", segs, func(seg segment, final string) (string, []any) {
		var b strings.Builder
		fmt.Fprintf(&b, `SELECT toUInt32(hour) AS h,
    %s
FROM %s.%s%s
WHERE zone = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)`, zoneSums, s.qdb, zoneTable, final)
		args := zoneFilters(&b, []any{zone, seg.from.Unix(), seg.to.Unix()}, &f)
		b.WriteString("\nGROUP BY h")
		return b.String(), args
	})
	var out []read.HourTotals
	err := s.each(ctx, "zone series", sql, args, func(sc scanner) error {
		var h uint32
		var t read.Totals
		if err := sc.Scan(append(append([]any{&h}, scanCounts(&t.Counts)...), &t.Possible)...); err != nil {
			return err
		}
		out = append(out, read.HourTotals{Hour: time.Unix(int64(h), 0).UTC(), Totals: t})
		return nil
	})
	return out, err
}

// AreaTotals returns the totals of each admin area of level 1, 2 or 3
// (by pcode; "" for reports in no area) over [f.From, f.To), whole UTC
// days, of the reports of f's categories, violation classes and
// precisions. A report counts at the level only if its precision places
// it there (read.AdminLevel); the others are Coarse, in the area their
// point falls in.
func (s *Store) AreaTotals(ctx context.Context, level int, f read.Filter) (map[string]read.Totals, error) {
	if level < 1 || level > 3 {
		return nil, fmt.Errorf("storage: area totals: no admin level %d", level)
	}
	col := fmt.Sprintf("adm%d", level)
	sums := placedSums(read.PlacedAt(level, 0), "precision", "violation_class", "n_reports", "n_killed", "n_injured")
	segs := s.segments(ctx, admTable, f.From, f.To)
	sql, args := unionSQL("pc, "+sumCounts, "GROUP BY pc", segs, func(seg segment, final string) (string, []any) {
		var b strings.Builder
		fmt.Fprintf(&b, `SELECT %s AS pc, %s
FROM %s.%s%s
WHERE day >= toDate(?) AND day < toDate(?)`, col, sums, s.qdb, admTable, final)
		args := aggFilters(&b, []any{seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02")}, &f)
		b.WriteString("\nGROUP BY pc")
		return b.String(), args
	})
	out := map[string]read.Totals{}
	err := s.each(ctx, "area totals", sql, args, func(sc scanner) error {
		var pc string
		var t read.Totals
		if err := sc.Scan(append([]any{&pc}, scanCounts(&t.Counts)...)...); err != nil {
			return err
		}
		out[pc] = t
		return nil
	})
	return out, err
}

// CountReports is the number of reports stored, each in its latest
// revision, read from the admin-day aggregate, which holds the same exact
// count as the raw table in a fraction of its rows.
func (s *Store) CountReports(ctx context.Context) (int64, error) {
	var n int64
	if err := s.conn.QueryRow(ctx, s.sql("SELECT toInt64(sum(n_reports)) FROM {db}."+admTable+" FINAL")).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count reports: %w", readErr(err))
	}
	return n, nil
}

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error { return readErr(s.conn.Ping(ctx)) }
