package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trucewatch/trucewatch/storage/read"
)

// TileCells returns the counts of the cells (tiles at zoom q.Zoom) inside
// q.Area that hold rows, ordered by key (and category, precision): a cell
// is the tile key shifted right, so the area is one range of the primary
// key. A cell whose reports were all replaced may be returned with zero
// counts.
func (s *Store) TileCells(ctx context.Context, q read.CellQuery) ([]read.Cell, error) {
	lo, hi := read.TileRange(q.Area)
	shift := uint8(2 * (read.TileZoom - q.Zoom))
	by := ""
	if q.ByCategory {
		by += ", category"
	}
	if q.ByPrecision {
		by += ", precision"
	}
	placed := read.Precisions
	if !q.ByPrecision {
		placed = read.PlacedAt(0, q.Area.Z)
	}
	if q.OneThread {
		ctx = context.WithValue(ctx, oneThreadKey{}, true)
	}
	table := tileTable
	if q.Raw {
		table = "reports"
	}
	segs := s.segments(ctx, table, q.From, q.To)
	sql, args := unionSQL("cell"+by+", "+sumCounts, "GROUP BY cell"+by+"\nORDER BY cell"+by, segs,
		func(seg segment, final string) (string, []any) {
			var sql strings.Builder
			var args []any
			if q.Raw {
				sel := strings.Replace(by, ", precision", ", "+rawPrecision+" AS precision", 1)
				fmt.Fprintf(&sql, `SELECT bitShiftRight(tile, ?) AS cell%s, %s
FROM %s.reports%s
WHERE tile >= ? AND tile < ?`, sel, placedSums(placed, rawPrecision, rawViolation, "sign", "sign * killed", "sign * injured"), s.qdb, final)
				args = append(args, shift, lo, hi)
				f := q.Filter
				f.From, f.To = seg.from, seg.to
				args = rawFilters(&sql, args, &f)
			} else {
				fmt.Fprintf(&sql, `SELECT bitShiftRight(tile, ?) AS cell%s, %s
FROM %s.%s%s
WHERE tile >= ? AND tile < ? AND day >= toDate(?) AND day < toDate(?)`, by,
					placedSums(placed, "precision", "violation_class", "n_reports", "n_killed", "n_injured"), s.qdb, tileTable, final)
				args = append(args, shift, lo, hi, seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02"))
				args = aggFilters(&sql, args, &q.Filter)
			}
			fmt.Fprintf(&sql, "\nGROUP BY cell%s", by)
			return sql.String(), args
		})
	var cells []read.Cell
	err := s.each(ctx, "tile cells", sql, args, func(sc scanner) error {
		var c read.Cell
		dst := []any{&c.Key}
		if q.ByCategory {
			dst = append(dst, &c.Category)
		}
		if q.ByPrecision {
			dst = append(dst, &c.Precision)
		}
		if err := sc.Scan(append(dst, scanCounts(&c.Counts)...)...); err != nil {
			return err
		}
		cells = append(cells, c)
		return nil
	})
	return cells, err
}

// TilePoints returns the counts of each stored report revision in the
// TileZoom ancestor of area (or area itself) matching f, by its
// coordinates, category and precision, at most limit of them: for cells
// finer than the tile key. Nothing is counted as Coarse: the caller
// places the points.
func (s *Store) TilePoints(ctx context.Context, area read.Tile, f read.Filter, limit int) ([]read.Point, error) {
	lo, hi := read.TileRange(area)
	var sql strings.Builder
	fmt.Fprintf(&sql, `SELECT lon, lat, category, %s AS precision, %s
FROM %s.reports FINAL
WHERE tile >= ? AND tile < ?`, rawPrecision, placedSums(read.Precisions, rawPrecision, rawViolation, "sign", "sign * killed", "sign * injured"), s.qdb)
	args := rawFilters(&sql, []any{lo, hi}, &f)
	fmt.Fprintf(&sql, "\nGROUP BY partner_id, report_id, revision, lon, lat, category, precision\nLIMIT %d", limit)
	var out []read.Point
	err := s.each(ctx, "tile points", sql.String(), args, func(sc scanner) error {
		var p read.Point
		if err := sc.Scan(append([]any{&p.Lon, &p.Lat, &p.Category, &p.Precision}, scanCounts(&p.Counts)...)...); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// aggFilters appends the conditions of f that an aggregate table holds
// (category, violation class, precision).
func aggFilters(sql *strings.Builder, args []any, f *read.Filter) []any {
	return classFilters(sql, args, f, "violation_class", "precision")
}

func classFilters(sql *strings.Builder, args []any, f *read.Filter, violation, precision string) []any {
	if len(f.Categories) > 0 {
		sql.WriteString(" AND category IN ?")
		args = append(args, set(f.Categories))
	}
	if len(f.Violations) > 0 {
		fmt.Fprintf(sql, " AND %s IN ?", violation)
		vs := make([]any, len(f.Violations))
		for i, v := range f.Violations {
			vs[i] = v
		}
		args = append(args, clickhouse.GroupSet{Value: vs})
	}
	if len(f.Precisions) > 0 {
		fmt.Fprintf(sql, " AND %s IN ?", precision)
		args = append(args, set(f.Precisions))
	}
	return args
}

// rawFilters appends the conditions of f on the raw reports table.
func rawFilters(sql *strings.Builder, args []any, f *read.Filter) []any {
	// The days too, as the sorting key has them: ClickHouse 18.16 does not
	// derive a range of toDate(observed_at) from one of observed_at, and
	// without it reads a month's rows for a one-day window (20 times the
	// rows of a drill-down).
	sql.WriteString(" AND toDate(observed_at) >= toDate(?) AND toDate(observed_at) <= toDate(?)")
	sql.WriteString(" AND observed_at >= toDateTime(?) AND observed_at < toDateTime(?)")
	last := f.To.Add(-time.Second)
	if !f.To.After(f.From) {
		last = f.From
	}
	args = append(args, f.From.UTC().Format("2006-01-02"), last.UTC().Format("2006-01-02"), f.From.Unix(), f.To.Unix())
	args = classFilters(sql, args, f, rawViolation, rawPrecision)
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

type oneThreadKey struct{}

// Query priorities (ClickHouse's priority setting: while a query of a
// lower number runs, those of higher numbers wait). Interactive reads go
// first, bulk ones (read.Bulk) behind them; writes set none (0), so they
// never wait for reads.
const (
	priorityInteractive = 1
	priorityBulk        = 2
)

// readSettings are the settings of a read query under ctx.
func readSettings(ctx context.Context) clickhouse.Settings {
	set := clickhouse.Settings{"priority": priorityInteractive}
	if read.IsBulk(ctx) {
		set["priority"] = priorityBulk
	}
	if one, _ := ctx.Value(oneThreadKey{}).(bool); one {
		set["max_threads"] = 1
	}
	return set
}

// each runs a read query and calls fn for every row; errors name op.
func (s *Store) each(ctx context.Context, op, sql string, args []any, fn func(scanner) error) error {
	rows, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithSettings(readSettings(ctx))), sql, args...)
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
