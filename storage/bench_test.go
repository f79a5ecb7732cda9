package storage_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

const benchBatch = 5000

func benchRows(i int) []storage.Row {
	rows := make([]storage.Row, benchBatch)
	for j := range rows {
		r := row(fmt.Sprintf("r%d-%d", i, j), 1, uint32(j%3))
		r.ObservedAt = t0.Add(time.Duration(i*benchBatch+j) * time.Minute)
		r.Lat += float64(j%100) * 0.01
		r.Lon += float64(j%77) * 0.01
		r.Zones = []string{fmt.Sprintf("z%d", j%20)}
		r.Category = []string{"shelling", "airstrike", "arrest"}[j%3]
		rows[j] = r
	}
	return rows
}

// BenchmarkWriteBatch measures WriteBatch (ledger, revision lookup, one
// INSERT feeding four materialized views) and, as the ceiling, a plain
// native INSERT of the same rows into a bare MergeTree with no views.
func BenchmarkWriteBatch(b *testing.B) {
	s := openStore(b, nil)
	ctx := ctxT(b)
	// Batches prepared outside the timer; revisions of earlier reports in
	// every other batch exercise the retraction path.
	batches := make([][]storage.Row, 16)
	for i := range batches {
		batches[i] = benchRows(i)
		if i%2 == 1 {
			for j := 0; j < benchBatch/10; j++ {
				r := batches[i-1][j]
				r.Revision = 2
				batches[i][j] = r
			}
		}
	}

	b.Run("WriteBatch", func(b *testing.B) {
		b.ReportAllocs()
		next := int64(0)
		for i := 0; b.Loop(); i++ {
			rows := batches[i%len(batches)]
			if i >= len(batches) { // fresh report ids
				rows = benchRows(i)
			}
			sp := storage.Span{Source: src, First: next, Last: next + benchBatch - 1}
			next += benchBatch
			if _, err := s.WriteBatch(ctx, storage.Batch{Span: sp, Rows: rows}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "rows/s")
	})

	b.Run("PlainInsert", func(b *testing.B) {
		db := "`" + s.Database() + "`"
		mustExec(b, s, "CREATE TABLE IF NOT EXISTS "+db+".bench_plain AS "+db+".reports ENGINE = MergeTree PARTITION BY toYYYYMM(observed_at) ORDER BY (toDate(observed_at), tile, partner_id, report_id, revision, sign)")
		planned, err := storage.PlanRows(ctx, s, storage.Batch{Span: storage.Span{Source: src, First: 1 << 40, Last: 1<<40 + benchBatch}, Rows: benchRows(1 << 20)})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			sp := storage.Span{Source: src, First: int64(i) * benchBatch, Last: int64(i+1)*benchBatch - 1}
			if err := storage.InsertPlannedInto(ctx, s, "bench_plain", sp, planned); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "rows/s")
	})
}
