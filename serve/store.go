package serve

import (
	"context"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Store is what the server reads: storage.Store's read methods, in the
// types of package read, so that serve neither imports the ClickHouse
// driver nor writes SQL.
type Store interface {
	// TileCells counts the cells of an area, ordered by key.
	TileCells(ctx context.Context, q read.CellQuery) ([]read.Cell, error)
	// TilePoints counts each report revision of a TileZoom tile at its
	// coordinates, at most limit of them.
	TilePoints(ctx context.Context, area read.Tile, f read.Filter, limit int) ([]read.Point, error)
	// ZoneTotals sums each zone over [f.From, f.To), whole hours (f's
	// categories and precisions).
	ZoneTotals(ctx context.Context, zones []string, f read.Filter) (map[string]read.Totals, error)
	// ZoneSeries sums one zone per hour of [f.From, f.To), in order.
	ZoneSeries(ctx context.Context, zone string, f read.Filter) ([]read.HourTotals, error)
	// AreaTotals sums each admin area of a level over [f.From, f.To),
	// whole days (f's categories, violation classes and precisions).
	AreaTotals(ctx context.Context, level int, f read.Filter) (map[string]read.Totals, error)
	// Reports lists current reports a page at a time.
	Reports(ctx context.Context, q read.ReportQuery) ([]read.Report, error)
	// History lists every stored revision of a report, withdrawals
	// included, oldest first (none: no such report).
	History(ctx context.Context, partnerID, reportID string) ([]read.Report, error)
	// DataVersion names the state of table's data over [from, to) in a
	// snapshot taken after notBefore: the same version, the same data.
	DataVersion(ctx context.Context, table string, from, to, notBefore time.Time) (string, error)
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Extent returns the first and last UTC day that hold reports, or an
	// error wrapping read.ErrNoData.
	Extent(ctx context.Context) (first, last time.Time, err error)
}
