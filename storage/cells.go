package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trucewatch/trucewatch/storage/read"
)

// TileCells returns the counts of the cells (tiles at zoom q.Zoom) inside
// q.Area that hold rows, ordered by key (and category): a cell is the tile
// key shifted right, so the area is one range of the primary key. A cell
// whose reports were all replaced may be returned with zero counts.
func (s *Store) TileCells(ctx context.Context, q read.CellQuery) ([]read.Cell, error) {
	lo, hi := read.TileRange(q.Area)
	shift := uint8(2 * (read.TileZoom - q.Zoom))
	catCol := ""
	if q.ByCategory {
		catCol = ", category"
	}
	if q.OneThread {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1}))
	}
	table := "agg_tile_day"
	if q.Raw {
		table = "reports"
	}
	segs := s.segments(ctx, table, q.From, q.To)
	sql, args := unionSQL("cell"+catCol+", sum(n), sum(k), sum(i), sum(v)", "GROUP BY cell"+catCol+"\nORDER BY cell"+catCol, segs,
		func(seg segment, final string) (string, []any) {
			var sql strings.Builder
			var args []any
			if q.Raw {
				fmt.Fprintf(&sql, `SELECT bitShiftRight(tile, ?) AS cell%s,
    sum(sign) AS n, sum(sign * killed) AS k, sum(sign * injured) AS i, sum(sign * violation) AS v
FROM %s.reports%s
WHERE tile >= ? AND tile < ?`, catCol, s.qdb, final)
				args = append(args, shift, lo, hi)
				f := q.Filter
				f.From, f.To = seg.from, seg.to
				args = rawFilters(&sql, args, &f)
			} else {
				fmt.Fprintf(&sql, `SELECT bitShiftRight(tile, ?) AS cell%s,
    sum(n_reports) AS n, sum(n_killed) AS k, sum(n_injured) AS i, sumIf(n_reports, violation = 1) AS v
FROM %s.agg_tile_day%s
WHERE tile >= ? AND tile < ? AND day >= toDate(?) AND day < toDate(?)`, catCol, s.qdb, final)
				args = append(args, shift, lo, hi, seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02"))
				args = aggFilters(&sql, args, &q.Filter)
			}
			fmt.Fprintf(&sql, "\nGROUP BY cell%s", catCol)
			return sql.String(), args
		})
	var cells []read.Cell
	err := s.each(ctx, "tile cells", sql, args, func(sc scanner) error {
		var c read.Cell
		dst := []any{&c.Key}
		if q.ByCategory {
			dst = append(dst, &c.Category)
		}
		if err := sc.Scan(append(dst, &c.Reports, &c.Killed, &c.Injured, &c.Violations)...); err != nil {
			return err
		}
		cells = append(cells, c)
		return nil
	})
	return cells, err
}

// TilePoints returns the counts of each stored report revision in the
// TileZoom ancestor of area (or area itself) matching f, by its
// coordinates and category, at most limit of them: for cells finer than
// the tile key.
func (s *Store) TilePoints(ctx context.Context, area read.Tile, f read.Filter, limit int) ([]read.Point, error) {
	lo, hi := read.TileRange(area)
	var sql strings.Builder
	fmt.Fprintf(&sql, `SELECT lon, lat, category, sum(sign), sum(sign * killed), sum(sign * injured), sum(sign * violation)
FROM %s.reports FINAL
WHERE tile >= ? AND tile < ?`, s.qdb)
	args := rawFilters(&sql, []any{lo, hi}, &f)
	fmt.Fprintf(&sql, "\nGROUP BY partner_id, report_id, revision, lon, lat, category\nLIMIT %d", limit)
	var out []read.Point
	err := s.each(ctx, "tile points", sql.String(), args, func(sc scanner) error {
		var p read.Point
		if err := sc.Scan(&p.Lon, &p.Lat, &p.Category, &p.Reports, &p.Killed, &p.Injured, &p.Violations); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// aggFilters appends the conditions of f that an aggregate table holds
// (category, violation).
func aggFilters(sql *strings.Builder, args []any, f *read.Filter) []any {
	if len(f.Categories) > 0 {
		sql.WriteString(" AND category IN ?")
		args = append(args, set(f.Categories))
	}
	if f.Violation != nil {
		sql.WriteString(" AND violation = ?")
		args = append(args, b2u(*f.Violation))
	}
	return args
}

// rawFilters appends the conditions of f on the raw reports table.
func rawFilters(sql *strings.Builder, args []any, f *read.Filter) []any {
	sql.WriteString(" AND observed_at >= toDateTime(?) AND observed_at < toDateTime(?)")
	args = aggFilters(sql, append(args, f.From.Unix(), f.To.Unix()), f)
	if len(f.Sides) > 0 {
		sql.WriteString(" AND perpetrator_side IN ?")
		args = append(args, set(f.Sides))
	}
	if len(f.Zones) > 0 {
		sql.WriteString(" AND hasAny(zones, ?)")
		args = append(args, f.Zones)
	}
	if len(f.Partners) > 0 {
		sql.WriteString(" AND partner_id IN ?")
		args = append(args, set(f.Partners))
	}
	return args
}

type scanner interface{ Scan(dest ...any) error }

// each runs a query and calls fn for every row; errors name op.
func (s *Store) each(ctx context.Context, op, sql string, args []any, fn func(scanner) error) error {
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("storage: %s: %w", op, readErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("storage: %s: %w", op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: %s: %w", op, readErr(err))
	}
	return nil
}
