package storage_test

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a migrated store in a database of its own on srv (the
// shared server if nil).
func openStore(t testing.TB, srv *chtest.Server) *storage.Store {
	t.Helper()
	if srv == nil {
		srv = chtest.Shared(t)
	}
	return chtest.Open(t, srv, storage.Options{Logger: testLogger(t)})
}

var src = storage.Source{Cluster: "cluster-A", Topic: "reports", Partition: 3}

func span(first, last int64) storage.Span { return storage.Span{Source: src, First: first, Last: last} }

var t0 = time.Date(2024, 3, 10, 14, 25, 0, 0, time.UTC)

func row(id string, rev uint32, killed uint32) storage.Row {
	return storage.Row{
		PartnerID: "p1", ReportID: id, Revision: rev,
		ObservedAt: t0, TimePrecision: "minute",
		Lat: 36.2, Lon: 37.15, AccuracyM: 50, GeoPrecision: "exact",
		Category: "shelling", PerpetratorName: "x", PerpetratorSide: "government",
		TargetSide: "opposition", Killed: killed, Injured: 1,
		Description: "d", Sources: []string{"s1"},
		ZoneSet: "zs1", Zones: []string{"z1"}, PossibleZones: []string{"z2"},
		Adm1: "SY02", Adm2: "SY0200", Adm3: "SY020000", Violation: true, ViolationReason: "hostile act in zone",
		ReceivedAt: t0.Add(time.Hour),
	}
}

// totals is every table's view of the data: what must not change on a redo
// and what must reflect exactly the current revisions.
type totals struct {
	Current                   int64 // rows in reports_current
	CurrentKilled             int64
	RawSigned                 int64 // sum(sign) over reports FINAL
	Zone, ZoneKilled, ZonePos int64 // counts_zone_hour FINAL (possible=0 / possible=1)
	Adm, AdmKilled            int64
	Tile, TileKilled          int64
	ZoneQ, AdmQ, TileQ        int64 // through the query functions
}

func getTotals(t testing.TB, s *storage.Store) totals {
	t.Helper()
	ctx := ctxT(t)
	db := "`" + s.Database() + "`"
	var tt totals
	q := func(sql string, dst ...any) {
		t.Helper()
		if err := s.Conn().QueryRow(ctx, sql).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var cur uint64
	q("SELECT count(), toInt64(sum(killed)) FROM "+db+".reports_current", &cur, &tt.CurrentKilled)
	tt.Current = int64(cur)
	q("SELECT sum(sign) FROM "+db+".reports FINAL", &tt.RawSigned)
	q("SELECT sumIf(n_reports, possible = 0), sumIf(n_killed, possible = 0), sumIf(n_reports, possible = 1) FROM "+db+".counts_zone_hour FINAL",
		&tt.Zone, &tt.ZoneKilled, &tt.ZonePos)
	q("SELECT sum(n_reports), sum(n_killed) FROM "+db+".counts_adm_day FINAL", &tt.Adm, &tt.AdmKilled)
	q("SELECT sum(n_reports), sum(n_killed) FROM "+db+".counts_tile_day FINAL", &tt.Tile, &tt.TileKilled)
	return tt
}

func write(t testing.TB, s *storage.Store, sp storage.Span, rows ...storage.Row) storage.WriteResult {
	t.Helper()
	res, err := s.WriteBatch(ctxT(t), storage.Batch{Span: sp, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func wantTotals(t testing.TB, s *storage.Store, reports, killed int64) {
	t.Helper()
	got := getTotals(t, s)
	want := totals{Current: reports, CurrentKilled: killed, RawSigned: reports,
		Zone: reports, ZoneKilled: killed, ZonePos: reports, Adm: reports, AdmKilled: killed,
		Tile: reports, TileKilled: killed}
	if got != want {
		t.Fatalf("totals\n got %+v\nwant %+v", got, want)
	}
}

func TestMigrate(t *testing.T) {
	s := openStore(t, nil) // applied once
	ctx := ctxT(t)
	did, err := s.ApplyMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(did) != 0 {
		t.Fatalf("second run applied %d migrations", len(did))
	}
	ms, _ := storage.Migrations()
	applied, err := s.Applied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(ms) || len(ms) == 0 {
		t.Fatalf("applied %v, have %d migrations", applied, len(ms))
	}
	// Two processes at once, on a fresh database.
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := storage.Open(ctx, storage.Options{Addr: srv.Addr(), Database: db})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.Migrate(ctx)
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteResume(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	pos, err := s.Resume(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if pos.Next != -1 || pos.Pending != nil {
		t.Fatalf("empty store: %+v", pos)
	}
	res := write(t, s, span(0, 9), row("a", 1, 2), row("b", 1, 3))
	if res.Inserted != 2 {
		t.Fatalf("result %+v", res)
	}
	write(t, s, span(10, 19), row("c", 1, 0))
	pos, err = s.Resume(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if pos.Next != 20 || pos.Pending != nil {
		t.Fatalf("resume %+v, want Next 20", pos)
	}
	// Another partition, another topic, another cluster: independent.
	for _, o := range []storage.Source{{Cluster: "cluster-A", Topic: "reports", Partition: 4},
		{Cluster: "cluster-A", Topic: "other", Partition: 3}, {Cluster: "cluster-B", Topic: "reports", Partition: 3}} {
		if pos, _ := s.Resume(ctx, o); pos.Next != -1 {
			t.Fatalf("%+v: %+v", o, pos)
		}
	}
	wantTotals(t, s, 3, 5)

	// A done span written again is skipped.
	res = write(t, s, span(10, 19), row("c", 1, 0))
	if !res.AlreadyDone || res.Inserted != 1 {
		t.Fatalf("rewrite of done span: %+v", res)
	}
	if _, err := s.WriteBatch(ctx, storage.Batch{Span: span(10, 25)}); !errors.Is(err, storage.ErrSpanMismatch) {
		t.Fatalf("mismatched span: %v", err)
	}
	bad := row("x", 1, 0)
	bad.ObservedAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.WriteBatch(ctx, storage.Batch{Span: span(20, 29), Rows: []storage.Row{bad}}); !errors.Is(err, storage.ErrInvalidRow) {
		t.Fatalf("row from 1969: %v", err)
	}
	// An empty batch (all poison) still advances.
	write(t, s, span(20, 29))
	if pos, _ := s.Resume(ctx, src); pos.Next != 30 {
		t.Fatalf("after empty batch: %+v", pos)
	}
	wantTotals(t, s, 3, 5)

	// Round trip of the stored row.
	got, err := s.Current(ctx, "p1", "a")
	if err != nil {
		t.Fatal(err)
	}
	want := row("a", 1, 2)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored row\n got %+v\nwant %+v", got, want)
	}
}

func TestRevisions(t *testing.T) {
	s := openStore(t, nil)
	write(t, s, span(0, 0), row("a", 1, 2))
	wantTotals(t, s, 1, 2)
	// Revision 2 replaces revision 1 everywhere, even moved in time and space.
	r2 := row("a", 2, 5)
	r2.ObservedAt = t0.Add(30 * 24 * time.Hour)
	r2.Lat, r2.Lon = 35.0, 38.0
	r2.Zones, r2.PossibleZones = []string{"z9"}, []string{"z8"}
	r2.Adm3 = "SY020001"
	res := write(t, s, span(1, 1), r2)
	if res.Inserted != 1 || res.Retracted != 1 {
		t.Fatalf("rev 2: %+v", res)
	}
	wantTotals(t, s, 1, 5)
	// The same id+revision again counts once.
	res = write(t, s, span(2, 2), r2)
	if res.Duplicates != 1 || res.Inserted != 0 {
		t.Fatalf("dup: %+v", res)
	}
	wantTotals(t, s, 1, 5)
	// A lower revision after a higher one is ignored.
	res = write(t, s, span(3, 3), row("a", 1, 7))
	if res.Stale != 1 || res.Inserted != 0 {
		t.Fatalf("stale: %+v", res)
	}
	wantTotals(t, s, 1, 5)
	// Within one batch: dup, stale, several revisions -> only the last counts.
	res = write(t, s, span(4, 9), row("b", 1, 1), row("b", 1, 1), row("b", 3, 4), row("b", 2, 9), row("a", 3, 6), row("a", 4, 8))
	want := storage.WriteResult{Inserted: 2, Retracted: 1, Duplicates: 1, Stale: 1, Superseded: 2}
	if res != want {
		t.Fatalf("in-batch: %+v want %+v", res, want)
	}
	wantTotals(t, s, 2, 12)
	cur, err := s.Current(ctxT(t), "p1", "a")
	if err != nil || cur.Revision != 4 {
		t.Fatalf("current a: %+v %v", cur.Revision, err)
	}
}

func TestRedoIsIdempotent(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	write(t, s, span(0, 1), row("a", 1, 2), row("b", 1, 3))
	batch := storage.Batch{Span: span(2, 5), Rows: []storage.Row{row("a", 2, 4), row("c", 1, 1), row("b", 1, 3), row("d", 1, 10)}}
	if _, err := s.WriteBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	before := getTotals(t, s)
	wantTotals(t, s, 4, 18)
	// Pretend the done mark was lost: the span is redone with every row
	// and MV row already there.
	db := "`" + s.Database() + "`"
	if err := s.Conn().Exec(ctx, "ALTER TABLE "+db+".ledger DELETE WHERE state = 1 AND first_offset = 2"); err != nil {
		t.Fatal(err)
	}
	waitMutations(t, s)
	pos, err := s.Resume(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if pos.Pending == nil || *pos.Pending != span(2, 5) || pos.Next != 2 {
		t.Fatalf("resume after lost done: %+v", pos)
	}
	for range 2 {
		res, err := s.WriteBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Redo && !res.AlreadyDone {
			t.Fatalf("not a redo: %+v", res)
		}
	}
	if got := getTotals(t, s); got != before {
		t.Fatalf("redo changed totals\n got %+v\nwant %+v", got, before)
	}
	if pos, _ := s.Resume(ctx, src); pos.Next != 6 || pos.Pending != nil {
		t.Fatalf("resume after redo: %+v", pos)
	}
	// OPTIMIZE FINAL merges duplicates away: same answer.
	for _, tbl := range []string{"reports", "revisions", "counts_zone_hour", "counts_adm_day", "counts_tile_day"} {
		if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE "+db+"."+tbl+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	if got := getTotals(t, s); got != before {
		t.Fatalf("after merges\n got %+v\nwant %+v", got, before)
	}
}

func waitMutations(t testing.TB, s *storage.Store) {
	t.Helper()
	for i := 0; i < 200; i++ {
		var n uint64
		if err := s.Conn().QueryRow(ctxT(t), "SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0", s.Database()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("mutations did not finish")
}

// A crash in the middle of the INSERT: some parts of the raw table (here:
// all of its rows, but not the MV rows nor the done mark) are written. The
// redo must give exact aggregates.
func TestHalfWrittenBatch(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	write(t, s, span(0, 0), row("a", 1, 2))
	sp := span(1, 3)
	r2 := row("a", 2, 4)
	r2.ObservedAt = t0.AddDate(0, 2, 0) // another partition of the raw table
	rows := []storage.Row{r2, row("b", 1, 1), row("c", 1, 1)}
	// What the first attempt did before dying: ledger pending, then a part
	// of the block.
	if err := storage.MarkPending(ctx, s, sp); err != nil {
		t.Fatal(err)
	}
	partial, err := storage.PlanRows(ctx, s, storage.Batch{Span: sp, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	// Only the first half of the block reached the raw table (and the MVs).
	if err := storage.InsertPlanned(ctx, s, sp, partial[:len(partial)/2]); err != nil {
		t.Fatal(err)
	}
	pos, err := s.Resume(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if pos.Pending == nil || *pos.Pending != sp {
		t.Fatalf("resume: %+v", pos)
	}
	res, err := s.WriteBatch(ctx, storage.Batch{Span: *pos.Pending, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Redo || res.Inserted != 3 || res.Retracted != 1 {
		t.Fatalf("redo: %+v", res)
	}
	wantTotals(t, s, 3, 6)
}

// A crash after the raw table's part was written but before the
// materialized views ran: the raw rows of the span are there, no aggregate
// row is.
func TestRawWrittenViewsNot(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	write(t, s, span(0, 0), row("a", 1, 2))
	sp := span(1, 2)
	rows := []storage.Row{row("a", 2, 4), row("b", 1, 1)}
	planned, err := storage.PlanRows(ctx, s, storage.Batch{Span: sp, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	db := "`" + s.Database() + "`"
	if err := storage.MarkPending(ctx, s, sp); err != nil {
		t.Fatal(err)
	}
	views := []string{"counts_zone_hour_mv", "counts_adm_day_mv", "counts_tile_day_mv"}
	for _, v := range views {
		mustExec(t, s, "DETACH TABLE "+db+"."+v)
	}
	if err := storage.InsertPlanned(ctx, s, sp, planned); err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		mustExec(t, s, "ATTACH TABLE "+db+"."+v)
	}
	res := write(t, s, sp, rows...)
	if !res.Redo || res.Inserted != 2 || res.Retracted != 1 {
		t.Fatalf("redo: %+v", res)
	}
	wantTotals(t, s, 2, 5)
}

func mustExec(t testing.TB, s *storage.Store, q string) {
	t.Helper()
	if err := s.Conn().Exec(ctxT(t), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestRestart(t *testing.T) {
	srv := chtest.New(t)
	s := openStore(t, srv)
	ctx := ctxT(t)
	write(t, s, span(0, 0), row("a", 1, 2))
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, src); err == nil {
		t.Fatal("Resume succeeded with the server down")
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var pos storage.Position
	var err error
	for i := 0; i < 3; i++ { // the first call may meet a dead pooled connection
		if pos, err = s.Resume(ctx, src); err == nil {
			break
		}
	}
	if err != nil || pos.Next != 1 {
		t.Fatalf("after restart: %+v %v", pos, err)
	}
	write(t, s, span(1, 1), row("b", 1, 1))
	wantTotals(t, s, 2, 3)
}

var debugLog = flag.Bool("debuglog", false, "log storage debug messages")

func testLogger(t testing.TB) *slog.Logger {
	if !*debugLog {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
