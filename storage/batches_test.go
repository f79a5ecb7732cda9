package storage_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/trucewatch/trucewatch/storage"
)

func spanOf(partition int, first, last int64) storage.Span {
	s := src
	s.Partition = partition
	return storage.Span{Source: s, First: first, Last: last}
}

// The batches of two partitions written in one WriteBatches leave the
// store as writing them one by one does, and so does a redo of the pair,
// in the other order, after a crash that left half of one span written.
func TestWriteBatches(t *testing.T) {
	ctx := ctxT(t)
	x2 := row("x", 2, 7)
	x2.ObservedAt = t0.AddDate(0, -3, 0) // another month than revision 1
	b2 := row("b", 1, 2)
	b2.ObservedAt = t0.AddDate(1, 0, 0)
	a2 := row("a", 2, 4)
	a2.ObservedAt = t0.AddDate(0, 2, 0)
	batches := []storage.Batch{
		{Span: spanOf(0, 1, 3), Rows: []storage.Row{a2, b2, b2}},
		{Span: spanOf(1, 1, 2), Rows: []storage.Row{x2, row("y", 1, 1)}},
	}
	setup := func() *storage.Store {
		s := openStore(t, nil)
		write(t, s, spanOf(0, 0, 0), row("a", 1, 2))
		write(t, s, spanOf(1, 0, 0), row("x", 1, 3))
		return s
	}
	together := setup()
	res, errs := together.WriteBatches(ctx, batches)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	alone := setup()
	for i, b := range batches {
		r := write(t, alone, b.Span, b.Rows...)
		if r != res[i] {
			t.Errorf("batch %d: alone %+v, together %+v", i, r, res[i])
		}
	}
	if want := (storage.WriteResult{Inserted: 2, Retracted: 1, Duplicates: 1}); res[0] != want {
		t.Errorf("batch 0: %+v, want %+v", res[0], want)
	}
	want := cells(t, alone)
	if got := cells(t, together); !reflect.DeepEqual(got, want) {
		t.Fatalf("together:\n%v\nalone:\n%v", got, want)
	}
	wantTotals(t, together, 4, 2+4+7+1+2-2)

	crashed := setup()
	for _, b := range batches {
		if err := storage.MarkPending(ctx, crashed, b.Span); err != nil {
			t.Fatal(err)
		}
	}
	planned, err := storage.PlanRows(ctx, crashed, batches[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.InsertPlanned(ctx, crashed, batches[0].Span, planned[:1]); err != nil {
		t.Fatal(err)
	}
	redo, errs := crashed.WriteBatches(ctx, []storage.Batch{batches[1], batches[0]})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("redo %d: %v", i, err)
		}
		if !redo[i].Redo {
			t.Errorf("redo %d: %+v, want a redo", i, redo[i])
		}
	}
	if got := cells(t, crashed); !reflect.DeepEqual(got, want) {
		t.Fatalf("redone:\n%v\nalone:\n%v", got, want)
	}
	again, errs := crashed.WriteBatches(ctx, batches)
	for i := range again {
		if errs[i] != nil || !again[i].AlreadyDone {
			t.Errorf("again %d: %+v %v, want already done", i, again[i], errs[i])
		}
	}
}

// A batch's own error leaves the others of the same write alone, and two
// batches sharing a report key are written one after the other.
func TestWriteBatchesErrors(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t, nil)
	write(t, s, spanOf(2, 0, 5), row("m", 1, 1))
	res, errs := s.WriteBatches(ctx, []storage.Batch{
		{Span: spanOf(0, 0, 0), Rows: []storage.Row{row("a", 1, 1)}},
		{Span: storage.Span{Source: src, First: 3, Last: 2}},
		{Span: spanOf(2, 0, 9), Rows: []storage.Row{row("m", 2, 1)}},
		{Span: spanOf(0, 1, 1), Rows: []storage.Row{row("c", 1, 1)}},
		{Span: spanOf(4, 0, 0), Rows: []storage.Row{row("a", 1, 1)}},
	})
	if errs[0] != nil || res[0].Inserted != 1 {
		t.Errorf("good batch: %+v %v", res[0], errs[0])
	}
	if !errors.Is(errs[1], storage.ErrInvalidSpan) {
		t.Errorf("invalid span: %v", errs[1])
	}
	if !errors.Is(errs[2], storage.ErrSpanMismatch) {
		t.Errorf("other bounds: %v", errs[2])
	}
	if !errors.Is(errs[3], storage.ErrInvalidSpan) {
		t.Errorf("second span of a source: %v", errs[3])
	}
	if errs[4] != nil || res[4].Duplicates != 1 {
		t.Errorf("same report from another source, after the first: %+v %v", res[4], errs[4])
	}
	wantTotals(t, s, 2, 2)
}
