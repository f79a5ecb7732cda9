package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

func TestExtent(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	if _, _, err := s.Extent(ctx); !errors.Is(err, storage.ErrNoData) {
		t.Fatalf("empty store: %v, want ErrNoData", err)
	}
	a, b, c := row("a", 1, 0), row("b", 1, 0), row("c", 1, 0)
	b.ObservedAt = t0.Add(-5 * 24 * time.Hour)
	c.ObservedAt = t0.Add(9 * 24 * time.Hour)
	write(t, s, span(0, 2), a, b, c)
	// A correction moves c back to t0's day: its old day no longer holds data.
	c2 := row("c", 2, 0)
	write(t, s, span(3, 3), c2)
	first, last, err := s.Extent(ctx)
	day := t0.Truncate(24 * time.Hour)
	if err != nil || !first.Equal(day.Add(-5*24*time.Hour)) || !last.Equal(day) {
		t.Fatalf("extent %v .. %v, %v; want %v .. %v", first, last, err, day.Add(-5*24*time.Hour), day)
	}
}
