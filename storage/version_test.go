package storage_test

import (
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

// A write into a month changes that month's data version and no other's;
// a merge changes none.
func TestDataVersion(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	march, april := t0, t0.AddDate(0, 1, 0)
	version := func(at time.Time) string {
		t.Helper()
		from := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
		v, err := s.DataVersion(ctx, "counts_tile_day", from, from.AddDate(0, 1, 0), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	write := func(first int64, at time.Time, ids ...string) {
		t.Helper()
		var rows []storage.Row
		for _, id := range ids {
			r := row(id, 1, 0)
			r.ObservedAt = at
			rows = append(rows, r)
		}
		if _, err := s.WriteBatch(ctx, storage.Batch{Span: span(first, first+int64(len(rows))-1), Rows: rows}); err != nil {
			t.Fatal(err)
		}
	}
	write(0, march, "a")
	m1, a1 := version(march), version(april)
	if m1 == "" || a1 != "" {
		t.Fatalf("after a March write: March %q, April %q; want a version and none", m1, a1)
	}
	write(1, march, "b")
	m2 := version(march)
	if m2 == m1 {
		t.Fatalf("a second March write left March's version at %q", m2)
	}
	write(2, april, "c")
	if m3, a3 := version(march), version(april); m3 != m2 || a3 == "" {
		t.Fatalf("an April write: March %q (was %q), April %q", m3, m2, a3)
	}
	mustExec(t, s, "OPTIMIZE TABLE `"+s.Database()+"`.counts_tile_day FINAL")
	if m4 := version(march); m4 != m2 {
		t.Fatalf("a merge changed March's version: %q, was %q", m4, m2)
	}
}
