package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// ErrNoData is returned by Extent when no report is stored (read.ErrNoData,
// for readers that do not import storage).
var ErrNoData = read.ErrNoData

// Extent returns the first and last UTC day that hold reports, read from
// the admin-day aggregate (one Date column, a few bytes a row, so cheap
// even at ten million reports). A day whose reports were all moved away by
// corrections counts as empty. The figure is read without FINAL, so a
// day can briefly count as holding data while a redone span is merged
// (its rows then count twice, never less than once). last is the start of
// the last day, not its end. With no reports it returns ErrNoData.
func (s *Store) Extent(ctx context.Context) (first, last time.Time, err error) {
	rows, err := s.conn.Query(ctx, s.sql(`SELECT min(day), max(day), count() FROM (
    SELECT day FROM {db}.counts_adm_day GROUP BY day HAVING sum(n_reports) > 0)`))
	if err != nil {
		return first, last, fmt.Errorf("storage: extent: %w", readErr(err))
	}
	defer rows.Close()
	var n uint64
	if rows.Next() {
		if err := rows.Scan(&first, &last, &n); err != nil {
			return first, last, fmt.Errorf("storage: extent: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return first, last, fmt.Errorf("storage: extent: %w", readErr(err))
	}
	if n == 0 {
		return time.Time{}, time.Time{}, ErrNoData
	}
	return dateUTC(first), dateUTC(last), nil
}
