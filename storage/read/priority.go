package read

import "context"

type bulkKey struct{}

// Bulk marks the queries run under ctx as bulk: they fill a cache that
// many requests share (a week pyramid, an area's totals) and read far more
// rows than one map click. A store runs them behind the interactive
// queries (storage: ClickHouse's query priority), so that a drill-down is
// not queued behind them.
func Bulk(ctx context.Context) context.Context { return context.WithValue(ctx, bulkKey{}, true) }

// IsBulk reports whether ctx was marked by Bulk.
func IsBulk(ctx context.Context) bool { b, _ := ctx.Value(bulkKey{}).(bool); return b }
