package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

// A batch whose reports span 12 years (101 monthly partitions) is written
// in INSERTs of at most storage.MaxPartitionsPerInsert partitions each
// (current ClickHouse refuses more), and every count stays exact, on the
// first write and on a redo.
func TestTwelveYearBatch(t *testing.T) {
	s := openStore(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	from := time.Date(2012, 1, 15, 10, 0, 0, 0, time.UTC)
	// Reports in 101 months from January 2012 to December 2023: the first
	// 100 months and the last one, so the batch needs two INSERTs.
	var rows []storage.Row
	for m := range 144 {
		if m >= storage.MaxPartitionsPerInsert && m < 143 {
			continue
		}
		r := row(fmt.Sprintf("m%03d", m), 1, 1)
		r.ObservedAt = from.AddDate(0, m, 0)
		rows = append(rows, r)
	}
	// Corrections that move a report across the years retract it from its
	// old month, in the block of that month.
	moved := row("m000", 2, 3)
	moved.ObservedAt = from.AddDate(11, 11, 0)
	n := int64(len(rows))
	write(t, s, span(0, n-1), rows...)
	write(t, s, span(n, n), moved)

	// A crash after the first of a 12-year span's INSERTs: the redo
	// writes both again and nothing doubles.
	sp := span(n+1, 2*n)
	var again []storage.Row
	for _, r := range rows {
		r.ReportID = "again-" + r.ReportID
		again = append(again, r)
	}
	planned, err := storage.PlanRows(ctx, s, storage.Batch{Span: sp, Rows: again})
	if err != nil {
		t.Fatal(err)
	}
	chunks := storage.ByMonths(planned, storage.MaxPartitionsPerInsert)
	if len(chunks) != 2 || len(chunks[0]) != storage.MaxPartitionsPerInsert {
		t.Fatalf("101 months in %d INSERTs of %d, ... rows; want 2, the first of %d", len(chunks), len(chunks[0]), storage.MaxPartitionsPerInsert)
	}
	if err := storage.MarkPending(ctx, s, sp); err != nil {
		t.Fatal(err)
	}
	if err := storage.InsertPlanned(ctx, s, sp, chunks[0]); err != nil {
		t.Fatal(err)
	}
	if res := write(t, s, sp, again...); !res.Redo || int64(res.Inserted) != n {
		t.Fatalf("redo: %+v", res)
	}
	wantMergedTotals(t, s, 2*n, (n-1+3)+n)

	var months uint64
	if err := s.Conn().QueryRow(ctx, "SELECT uniqExact(partition) FROM system.parts WHERE database = ? AND table = 'reports' AND active",
		s.Database()).Scan(&months); err != nil {
		t.Fatal(err)
	}
	if months != uint64(n) {
		t.Errorf("reports spread over %d monthly partitions, want %d", months, n)
	}
}

// wantMergedTotals is wantTotals for data over many partitions. FINAL on
// 18.16 opens every part of every partition at once, each column with a
// read buffer of max_read_buffer_size (1 MiB): over 101 partitions that is
// more memory than a test server has, so the buffers are made small.
func wantMergedTotals(t *testing.T, s *storage.Store, reports, killed int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db := "`" + s.Database() + "`"
	const small = " SETTINGS max_read_buffer_size = 65536"
	for _, q := range []string{
		"SELECT toInt64(sum(sign)), toInt64(sum(sign * killed)) FROM " + db + ".reports FINAL" + small,
		"SELECT toInt64(sumIf(n_reports, possible = 0)), toInt64(sumIf(n_killed, possible = 0)) FROM " + db + ".counts_zone_hour FINAL" + small,
		"SELECT toInt64(sum(n_reports)), toInt64(sum(n_killed)) FROM " + db + ".counts_adm_day FINAL" + small,
		"SELECT toInt64(sum(n_reports)), toInt64(sum(n_killed)) FROM " + db + ".counts_tile_day FINAL" + small,
	} {
		var n, k int64
		if err := s.Conn().QueryRow(ctx, q).Scan(&n, &k); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != reports || k != killed {
			t.Errorf("%s: %d reports, %d killed; want %d, %d", q, n, k, reports, killed)
		}
	}
}
