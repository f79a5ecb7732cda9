package storage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
)

func TestReadQueries(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	a := row("a", 1, 2)
	b := row("b", 1, 1)
	b.Category, b.Violation = "arrest", false
	b.ObservedAt = t0.Add(26 * time.Hour)
	b.Zones = []string{"z1", "z3"}
	write(t, s, span(0, 1), a, b)
	// Revision 2 of a moves it one hour later: the first hour is emptied.
	a2 := row("a", 2, 3)
	a2.ObservedAt = t0.Add(time.Hour)
	write(t, s, span(2, 2), a2)

	h := t0.Truncate(time.Hour)
	from, to := h.Add(-24*time.Hour), h.Add(48*time.Hour)
	zt, err := s.ZoneTotals(ctx, []string{"z1", "z2", "z3"}, read.Filter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if z1 := zt["z1"]; z1.Reports != 2 || z1.Killed != 4 || z1.Violations != 1 || z1.Possible != 0 {
		t.Fatalf("zone z1: %+v", z1)
	}
	if z2 := zt["z2"]; z2.Reports != 0 || z2.Possible != 2 {
		t.Fatalf("zone z2 (possible only): %+v", z2)
	}
	series, err := s.ZoneSeries(ctx, "z1", read.Filter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	var nonzero []read.HourTotals
	for _, p := range series {
		if p.Reports != 0 {
			nonzero = append(nonzero, p)
		}
	}
	if len(nonzero) != 2 || !nonzero[0].Hour.Equal(h.Add(time.Hour)) || nonzero[0].Killed != 3 || !nonzero[1].Hour.Equal(h.Add(26*time.Hour)) {
		t.Fatalf("series z1: %+v", series)
	}

	day := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
	at, err := s.AreaTotals(ctx, 3, read.Filter{From: day, To: day.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if a := at["SY020000"]; a.Reports != 2 || a.Killed != 4 || a.Violations != 1 {
		t.Fatalf("area totals: %+v", at)
	}
	if _, err := s.AreaTotals(ctx, 4, read.Filter{From: day, To: day.Add(24 * time.Hour)}); err == nil {
		t.Fatal("admin level 4 accepted")
	}
	if n, err := s.CountReports(ctx); err != nil || n != 2 {
		t.Fatalf("count: %d %v", n, err)
	}

	// Cells at zoom 8 of the whole world, from the aggregate and from the
	// raw table; then a neighbouring tile, which holds nothing.
	tile8 := read.TileOf(37.15, 36.2, 8)
	for _, raw := range []bool{false, true} {
		cells, err := s.TileCells(ctx, read.CellQuery{Filter: read.Filter{From: day, To: day.Add(48 * time.Hour), Violations: []uint8{read.DefiniteViolation}}, Zoom: 8, Raw: raw})
		if err != nil {
			t.Fatal(err)
		}
		if len(cells) != 1 || cells[0].Key != tile8.Quadkey() || cells[0].Reports != 1 || cells[0].Killed != 3 {
			t.Fatalf("cells (raw %v): %+v", raw, cells)
		}
	}
	cells, err := s.TileCells(ctx, read.CellQuery{Filter: read.Filter{From: day, To: day.Add(48 * time.Hour)},
		Area: read.Tile{X: tile8.X + 1, Y: tile8.Y, Z: 8}, Zoom: 12, OneThread: true})
	if err != nil || len(cells) != 0 {
		t.Fatalf("neighbour: %+v %v", cells, err)
	}
	pts, err := s.TilePoints(ctx, read.TileOf(37.15, 36.2, read.TileZoom), read.Filter{From: day, To: day.Add(48 * time.Hour)}, 10)
	if err != nil || len(pts) != 3 { // a1 (retracted, 0), a2, b
		t.Fatalf("points: %+v %v", pts, err)
	}

	// The current revisions, a page of one at a time.
	var got []string
	q := read.ReportQuery{Filter: read.Filter{From: day, To: day.Add(48 * time.Hour)}, Limit: 1}
	for range 3 {
		rs, err := s.Reports(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		r := rs[0]
		got = append(got, r.ReportID+"/"+string(rune('0'+r.Revision)))
		q.After = &read.Cursor{ObservedAt: r.ObservedAt, PartnerID: r.PartnerID, ReportID: r.ReportID}
	}
	if len(got) != 2 || got[0] != "a/2" || got[1] != "b/1" {
		t.Fatalf("reports: %v", got)
	}
	rs, err := s.Reports(ctx, read.ReportQuery{Filter: read.Filter{From: day, To: day.Add(48 * time.Hour), Zones: []string{"z3"}},
		Box: &read.Box{MinLon: 37, MinLat: 36, MaxLon: 38, MaxLat: 37}, Limit: 10})
	if err != nil || len(rs) != 1 || rs[0].ReportID != "b" || rs[0].Violation || rs[0].Category != "arrest" {
		t.Fatalf("reports in z3: %+v %v", rs, err)
	}
}

// The view reports_current is the query every read of current reports
// runs: one definition.
func TestCurrentViewIsCurrentSQL(t *testing.T) {
	ms, err := storage.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE VIEW IF NOT EXISTS {db}.reports_current AS\n" + storage.CurrentSQL("") + ";"
	last := ""
	for _, m := range ms {
		if strings.Contains(m.SQL, "reports_current") {
			last = m.SQL
		}
	}
	if !strings.Contains(last, want) {
		t.Fatalf("the last migration defining reports_current does not define it as currentSQL; want\n%s", want)
	}
}

// TestReadErrors: a read that finds no connection free in time wraps
// read.ErrBusy, one that cannot reach ClickHouse read.ErrUnavailable, so
// that serve tells them without the driver.
func TestReadErrors(t *testing.T) {
	srv := chtest.New(t)
	s := chtest.Open(t, srv, storage.Options{MaxOpenConns: 1, DialTimeout: 300 * time.Millisecond})
	ctx := ctxT(t)
	held := make(chan error, 1)
	go func() { held <- s.Conn().Exec(ctx, "SELECT sleep(2)") }()
	time.Sleep(200 * time.Millisecond) // the sleep holds the only connection
	if _, _, err := s.Extent(ctx); !errors.Is(err, read.ErrBusy) {
		t.Errorf("with the only connection in use: %v, want read.ErrBusy", err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Extent(ctx); !errors.Is(err, read.ErrUnavailable) {
		t.Errorf("with ClickHouse down: %v, want read.ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, read.ErrUnavailable) {
		t.Errorf("Ping with ClickHouse down: %v, want read.ErrUnavailable", err)
	}
}
