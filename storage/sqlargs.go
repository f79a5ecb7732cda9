package storage

import "github.com/ClickHouse/clickhouse-go/v2"

// set binds a list as a parenthesised set for `x IN ?`; a plain slice
// would bind as an array literal.
func set(xs []string) clickhouse.GroupSet {
	v := make([]any, len(xs))
	for i, x := range xs {
		v[i] = x
	}
	return clickhouse.GroupSet{Value: v}
}
