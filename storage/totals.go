package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// zoneSums are the measures of agg_zone_hour as read.Totals: the counts
// of the reports inside a zone, and apart those only possibly in it.
const zoneSums = `sumIf(n_reports, possible = 0) AS n, sumIf(n_killed, possible = 0) AS k, sumIf(n_injured, possible = 0) AS i,
    sumIf(n_reports, possible = 0 AND violation = 1) AS v, sumIf(n_reports, possible = 1) AS p`

// ZoneTotals returns the totals of each of zones (that holds rows) over
// [from, to), whole hours.
func (s *Store) ZoneTotals(ctx context.Context, zones []string, from, to time.Time) (map[string]read.Totals, error) {
	out := map[string]read.Totals{}
	if len(zones) == 0 {
		return out, nil
	}
	segs := s.segments(ctx, "agg_zone_hour", from, to)
	sql, args := unionSQL("zone, sum(n), sum(k), sum(i), sum(v), sum(p)", "GROUP BY zone", segs, func(seg segment, final string) (string, []any) {
		return fmt.Sprintf(`SELECT zone,
    %s
FROM %s.agg_zone_hour%s
WHERE zone IN ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
GROUP BY zone`, zoneSums, s.qdb, final), []any{set(zones), seg.from.Unix(), seg.to.Unix()}
	})
	err := s.each(ctx, "zone totals", sql, args, func(sc scanner) error {
		var id string
		var t read.Totals
		if err := sc.Scan(&id, &t.Reports, &t.Killed, &t.Injured, &t.Violations, &t.Possible); err != nil {
			return err
		}
		out[id] = t
		return nil
	})
	return out, err
}

// ZoneSeries returns zone's totals per hour of [from, to) (whole hours)
// that holds rows, in order.
func (s *Store) ZoneSeries(ctx context.Context, zone string, from, to time.Time) ([]read.HourTotals, error) {
	segs := s.segments(ctx, "agg_zone_hour", from, to)
	sql, args := unionSQL("h, sum(n), sum(k), sum(i), sum(v), sum(p)", "GROUP BY h\nORDER BY h", segs, func(seg segment, final string) (string, []any) {
		return fmt.Sprintf(`SELECT toUInt32(hour) AS h,
    %s
FROM %s.agg_zone_hour%s
WHERE zone = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
GROUP BY h`, zoneSums, s.qdb, final), []any{zone, seg.from.Unix(), seg.to.Unix()}
	})
	var out []read.HourTotals
	err := s.each(ctx, "zone series", sql, args, func(sc scanner) error {
		var h uint32
		var t read.Totals
		if err := sc.Scan(&h, &t.Reports, &t.Killed, &t.Injured, &t.Violations, &t.Possible); err != nil {
			return err
		}
		out = append(out, read.HourTotals{Hour: time.Unix(int64(h), 0).UTC(), Totals: t})
		return nil
	})
	return out, err
}

// AreaTotals returns the totals of each admin area of level 1, 2 or 3
// (by pcode; "" for reports in no area) over [from, to), whole UTC days.
func (s *Store) AreaTotals(ctx context.Context, level int, from, to time.Time) (map[string]read.Totals, error) {
	if level < 1 || level > 3 {
		return nil, fmt.Errorf("storage: area totals: no admin level %d", level)
	}
	col := fmt.Sprintf("adm%d", level)
	segs := s.segments(ctx, "agg_adm_day", from, to)
	sql, args := unionSQL("pc, sum(n), sum(k), sum(i), sum(v)", "GROUP BY pc", segs, func(seg segment, final string) (string, []any) {
		return fmt.Sprintf(`SELECT %s AS pc, sum(n_reports) AS n, sum(n_killed) AS k, sum(n_injured) AS i, sumIf(n_reports, violation = 1) AS v
FROM %s.agg_adm_day%s
WHERE day >= toDate(?) AND day < toDate(?)
GROUP BY pc`, col, s.qdb, final), []any{seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02")}
	})
	out := map[string]read.Totals{}
	err := s.each(ctx, "area totals", sql, args, func(sc scanner) error {
		var pc string
		var t read.Totals
		if err := sc.Scan(&pc, &t.Reports, &t.Killed, &t.Injured, &t.Violations); err != nil {
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
	if err := s.conn.QueryRow(ctx, s.sql("SELECT toInt64(sum(n_reports)) FROM {db}.agg_adm_day FINAL")).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count reports: %w", readErr(err))
	}
	return n, nil
}

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error { return readErr(s.conn.Ping(ctx)) }
