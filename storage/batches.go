package storage

import (
	"context"
	"fmt"
	"time"
)

// spanOf is a span with its SpanID, as every row it writes carries them.
type spanOf struct {
	Span
	id uint64
}

// ledgerRow is one entry written to the ledger.
type ledgerRow struct {
	sp    Span
	state uint8
	n     int
	res   WriteResult
}

// writeLedgers writes the entries in one INSERT (the ledger is one
// partition, so one part).
func (s *Store) writeLedgers(ctx context.Context, rows []ledgerRow) error {
	b, err := s.conn.PrepareBatch(ctx, s.sql(`INSERT INTO {db}.ledger (kafka_cluster, kafka_topic, kafka_partition,
    first_offset, last_offset, state, row_count, inserted, retracted, duplicates, stale, written_at)`))
	if err != nil {
		return err
	}
	defer b.Abort()
	now := time.Now().UTC()
	for _, l := range rows {
		r := l.res
		if err := b.Append(l.sp.Cluster, l.sp.Topic, int32(l.sp.Partition), l.sp.First, l.sp.Last, l.state, uint32(l.n),
			uint32(r.Inserted), uint32(r.Retracted), uint32(r.Duplicates), uint32(r.Stale), now); err != nil {
			return err
		}
	}
	return b.Send()
}

func (s *Store) writeLedger(ctx context.Context, sp Span, state uint8, n int, r WriteResult) error {
	return s.writeLedgers(ctx, []ledgerRow{{sp: sp, state: state, n: n, res: r}})
}

// checkBatch is what WriteBatch refuses before writing anything.
func checkBatch(b *Batch) error {
	if b.First < 0 || b.Last < b.First || b.Topic == "" {
		return fmt.Errorf("%w: %s", ErrInvalidSpan, b.Span)
	}
	if len(b.Rows) > MaxBatchRows {
		return ErrBatchTooBig
	}
	for i := range b.Rows {
		if err := checkRow(&b.Rows[i]); err != nil {
			return fmt.Errorf("%w: %s: row %d (%s/%s): %v", ErrInvalidRow, b.Span, i, b.Rows[i].PartnerID, b.Rows[i].ReportID, err)
		}
	}
	return nil
}

// WriteBatches stores batches of distinct Sources (e.g. the partitions a
// worker holds) exactly once each, as WriteBatch stores one, in one write:
// one ledger INSERT marks every span pending, one lookup reads the stored
// revisions of all their reports, one INSERT into reports (per run of
// MaxPartitionsPerInsert months) carries every span's rows, and one ledger
// INSERT marks the spans done. A flush of six partitions then makes one
// part per month and table instead of six.
//
// Why it is exact: every row carries its own span, the views group by
// span_id, and a report key comes from one partition, so the rows of span
// A in a shared block are the rows WriteBatch(A) would send, and A's
// aggregate cells are summed from A's rows alone. A span left pending by a
// crash is redone alone or with other spans, and writes the same rows.
// Batches that share a report key (which ingest never sends) are written
// one after the other instead.
//
// errs[i] is batch i's error (nil: stored); a failure of a shared step is
// every batch's error in that step, and each batch may be retried, alone
// or in another WriteBatches.
func (s *Store) WriteBatches(ctx context.Context, bs []Batch) (res []WriteResult, errs []error) {
	res, errs = make([]WriteResult, len(bs)), make([]error, len(bs))
	live := make([]int, 0, len(bs))
	sources := make(map[Source]bool, len(bs))
	for i := range bs {
		if errs[i] = checkBatch(&bs[i]); errs[i] != nil {
			continue
		}
		if sources[bs[i].Source] {
			errs[i] = fmt.Errorf("%w: %s: a second span of the same source in one write", ErrInvalidSpan, bs[i].Span)
			continue
		}
		sources[bs[i].Source] = true
		live = append(live, i)
	}
	if len(live) > 1 && sharedKeys(bs, live) {
		for _, i := range live {
			r, e := s.WriteBatches(ctx, bs[i:i+1])
			res[i], errs[i] = r[0], e[0]
		}
		return res, errs
	}
	start := time.Now()
	fail := func(idx []int, step string, err error) {
		for _, i := range idx {
			errs[i] = fmt.Errorf("storage: write batch %s: %s: %w", bs[i].Span, step, err)
		}
	}
	var todo []int
	var pending []ledgerRow
	for _, i := range live {
		b := &bs[i]
		found, last, state, prev, err := s.ledgerEntry(ctx, b.Span)
		switch {
		case err != nil:
			fail([]int{i}, "ledger", err)
			continue
		case found && last != b.Last:
			errs[i] = fmt.Errorf("%w: %s, stored last offset %d", ErrSpanMismatch, b.Span, last)
			continue
		case found && state == stateDone:
			prev.AlreadyDone = true
			res[i] = prev
			continue
		}
		res[i].Redo = found
		if !found {
			pending = append(pending, ledgerRow{sp: b.Span, state: statePending, n: len(b.Rows)})
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return res, errs
	}
	if len(pending) > 0 {
		if err := s.writeLedgers(ctx, pending); err != nil {
			fail(todo, "ledger pending", err)
			return res, errs
		}
	}
	tLedger := time.Since(start)
	t := time.Now()
	rows := make([][]Row, 0, len(todo))
	ids := make([]uint64, 0, len(todo))
	n := 0
	for _, i := range todo {
		if len(bs[i].Rows) > 0 {
			rows = append(rows, bs[i].Rows)
			ids = append(ids, SpanID(bs[i].Span))
			n += len(bs[i].Rows)
		}
	}
	var out []outRow
	if n > 0 {
		stored, err := s.storedRevisions(ctx, rows, ids)
		if err != nil {
			fail(todo, "read revisions", err)
			return res, errs
		}
		out = make([]outRow, 0, n+n/8)
		for _, i := range todo {
			so := &spanOf{Span: bs[i].Span, id: SpanID(bs[i].Span)}
			o := plan(bs[i].Rows, stored, &res[i])
			for j := range o {
				o[j].span = so
			}
			out = append(out, o...)
		}
	}
	tLookup := time.Since(t)
	t = time.Now()
	if err := s.insertOut(ctx, "reports", out); err != nil {
		fail(todo, "insert", err)
		return res, errs
	}
	tInsert := time.Since(t)
	done := make([]ledgerRow, 0, len(todo))
	for _, i := range todo {
		done = append(done, ledgerRow{sp: bs[i].Span, state: stateDone, n: len(bs[i].Rows), res: res[i]})
	}
	if err := s.writeLedgers(ctx, done); err != nil {
		fail(todo, "ledger done", err)
		return res, errs
	}
	for _, i := range todo {
		r := res[i]
		s.log.Debug("wrote batch", "span", bs[i].Span.String(), "rows", len(bs[i].Rows), "inserted", r.Inserted,
			"retracted", r.Retracted, "duplicates", r.Duplicates, "stale", r.Stale, "redo", r.Redo,
			"ledger", tLedger, "lookup", tLookup, "insert", tInsert, "total", time.Since(start), "spans", len(todo), "block_rows", len(out))
	}
	return res, errs
}

// sharedKeys reports whether two of the batches bs[live] hold the same
// report key.
func sharedKeys(bs []Batch, live []int) bool {
	owner := map[reportKey]int{}
	for _, i := range live {
		for j := range bs[i].Rows {
			k := reportKey{bs[i].Rows[j].PartnerID, bs[i].Rows[j].ReportID}
			if o, ok := owner[k]; ok && o != i {
				return true
			}
			owner[k] = i
		}
	}
	return false
}
