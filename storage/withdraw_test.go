package storage_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
)

func withdrawal(id string, rev uint32) storage.Row {
	return storage.Row{PartnerID: "p1", ReportID: id, Revision: rev, Withdrawn: true,
		Description: "duplicate", ReceivedAt: t0.Add(5 * time.Hour)}
}

// TestWithdrawals: a withdrawal leaves every count, keeps the history, makes
// a later lower revision stale; a higher revision brings the report back;
// a redone withdrawal span changes nothing.
func TestWithdrawals(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	write(t, s, span(0, 1), row("a", 1, 2), row("b", 1, 3))
	wantTotals(t, s, 2, 5)

	res := write(t, s, span(2, 2), withdrawal("a", 2))
	if res.Withdrawn != 1 || res.Retracted != 1 {
		t.Fatalf("withdraw a: %+v", res)
	}
	wantTotals(t, s, 1, 3)
	cur, err := s.Current(ctx, "p1", "a")
	if err != nil || !cur.Withdrawn || cur.Revision != 2 || cur.Killed != 2 || cur.Adm3 != "SY020000" || cur.Description != "duplicate" {
		t.Fatalf("history of a: %+v, %v", cur, err)
	}
	// The withdrawal span redone (pending again), and a stale revision.
	if err := storage.MarkPending(ctx, s, span(3, 3)); err != nil {
		t.Fatal(err)
	}
	write(t, s, span(3, 3), withdrawal("b", 2), row("b", 1, 3))
	write(t, s, span(3, 3), withdrawal("b", 2), row("b", 1, 3))
	wantTotals(t, s, 0, 0)
	if res := write(t, s, span(4, 4), row("a", 1, 2)); res.Stale != 1 || res.Inserted != 0 {
		t.Fatalf("revision 1 after the withdrawal: %+v", res)
	}
	// Revision 3 brings a back; nothing is retracted twice.
	if res := write(t, s, span(5, 5), row("a", 3, 4)); res.Inserted != 1 || res.Retracted != 0 {
		t.Fatalf("revision 3: %+v", res)
	}
	wantTotals(t, s, 1, 4)
	// New and withdrawn in one batch; a withdrawal of a report never
	// stored is kept as a tombstone and counts nowhere.
	res = write(t, s, span(6, 6), row("c", 1, 7), withdrawal("c", 2), withdrawal("ghost", 5))
	if res.Withdrawn != 2 || res.Superseded != 1 {
		t.Fatalf("batch: %+v", res)
	}
	wantTotals(t, s, 1, 4)
	if g, err := s.Current(ctx, "p1", "ghost"); err != nil || !g.Withdrawn || !g.ObservedAt.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("tombstone: %+v %v", g, err)
	}
	reps, err := s.Reports(ctx, read.ReportQuery{Filter: read.Filter{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)}, Limit: 10})
	if err != nil || len(reps) != 1 || reps[0].ReportID != "a" || reps[0].Revision != 3 {
		t.Fatalf("drill-down: %+v %v", reps, err)
	}
}

// TestCountsFill: the counts tables filled from the raw table (migration
// 0004, for data written before it) hold what the views wrote.
func TestCountsFill(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	a, b := row("a", 1, 2), row("b", 1, 3)
	b.ObservedAt = t0.AddDate(0, 2, 0)
	b.GeoPrecision, b.ViolationReason = "adm2", "possibly_in_zone:z2;hostile:shelling"
	write(t, s, span(0, 1), a, b)
	write(t, s, span(2, 3), row("a", 2, 5), withdrawal("b", 2))
	before := getTotals(t, s)
	for _, tbl := range []string{"counts_zone_hour", "counts_adm_day", "counts_tile_day"} {
		mustExec(t, s, "TRUNCATE TABLE `"+s.Database()+"`."+tbl)
	}
	if err := storage.FillCounts(ctx, s); err != nil {
		t.Fatal(err)
	}
	if after := getTotals(t, s); after != before {
		t.Fatalf("filled\n got %+v\nwant %+v", after, before)
	}
	// Twice: the same rows fold.
	if err := storage.FillCounts(ctx, s); err != nil {
		t.Fatal(err)
	}
	if after := getTotals(t, s); after != before {
		t.Fatalf("filled twice\n got %+v\nwant %+v", after, before)
	}
}

// TestPlacement: a report counts at an admin level or zoom only if its
// precision places it there, and apart as coarse where its point lies;
// definite and possible violations are counted apart.
func TestPlacement(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	var rows []storage.Row
	for i, p := range []string{"exact", "", "near", "adm3", "adm2", "adm1", "country"} {
		r := row(string(rune('a'+i)), 1, 1)
		r.GeoPrecision = p
		rows = append(rows, r)
	}
	rows[0].ViolationReason = "possibly_in_zone:z2;hostile:shelling"
	write(t, s, span(0, 6), rows...)
	f := read.Filter{From: t0.Truncate(24 * time.Hour), To: t0.Truncate(24 * time.Hour).Add(24 * time.Hour)}
	for level, want := range map[int][2]int64{3: {4, 3}, 2: {5, 2}, 1: {6, 1}} {
		at, err := s.AreaTotals(ctx, level, f)
		if err != nil {
			t.Fatal(err)
		}
		var got read.Counts
		for _, v := range at {
			got.Add(v.Counts)
		}
		if got.Reports != want[0] || got.Coarse != want[1] || got.PossibleViolations != 1 || got.Violations != want[0]-1 {
			t.Errorf("level %d: %+v, want %v placed and coarse", level, got, want)
		}
	}
	pf := f
	pf.Precisions = []string{"adm2", "adm1"}
	if at, err := s.AreaTotals(ctx, 1, pf); err != nil || at["SY02"].Reports != 2 {
		t.Fatalf("precision filter: %+v %v", at, err)
	}
	for z, want := range map[uint32][2]int64{4: {7, 0}, 6: {6, 1}, 8: {5, 2}, 9: {4, 3}, 10: {3, 4}, 12: {2, 5}} {
		for _, raw := range []bool{false, true} {
			cells, err := s.TileCells(ctx, read.CellQuery{Filter: f, Area: read.TileOf(37.15, 36.2, z), Zoom: z + 4, Raw: raw})
			if err != nil {
				t.Fatal(err)
			}
			if len(cells) != 1 || cells[0].Reports != want[0] || cells[0].Coarse != want[1] {
				t.Errorf("zoom %d (raw %v): %+v, want %v", z, raw, cells, want)
			}
		}
	}
}

// TestHistory: every revision, the withdrawal included, oldest first.
func TestHistory(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	write(t, s, span(0, 0), row("a", 1, 2))
	write(t, s, span(1, 2), row("a", 2, 3), withdrawal("a", 3))
	write(t, s, span(3, 3), row("a", 4, 5))
	h, err := s.History(ctx, "p1", "a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h {
		got = append(got, fmt.Sprintf("%d:%d:%v", r.Revision, r.Killed, r.Withdrawn))
	}
	// Revision 2 was superseded within its batch, never stored; the
	// withdrawal carries the latest content it withdrew (revision 2's).
	if want := "1:2:false 3:3:true 4:5:false"; strings.Join(got, " ") != want {
		t.Fatalf("history %v, want %s", got, want)
	}
	if h, err := s.History(ctx, "p1", "nobody"); err != nil || len(h) != 0 {
		t.Fatalf("unknown report: %v %v", h, err)
	}
}

// TestUpgrade0004: a database written under migration 0003 (its agg_*
// tables fed by its views) keeps every count when 0004 replaces them with
// the counts_* tables, and takes withdrawals after it.
func TestUpgrade0004(t *testing.T) {
	ctx := ctxT(t)
	s, err := storage.Open(ctx, storage.Options{Addr: chtest.Shared(t).Addr(), Database: chtest.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := storage.MigrateUpTo(ctx, s, 3); err != nil {
		t.Fatal(err)
	}
	db := "`" + s.Database() + "`"
	// Two reports as 0003's WriteBatch stored them (no withdrawn column),
	// one of them replaced by a second revision in a later span.
	cols := "partner_id, report_id, revision, sign, observed_at, lat, lon, geo_precision, tile, category, killed, zones, possible_zones, adm1, adm2, adm3, violation, violation_reason, span_id"
	tile := storage.TileKey(37.15, 36.2)
	insert := func(rows ...[]any) {
		t.Helper()
		bt, err := s.Conn().PrepareBatch(ctx, "INSERT INTO "+db+".reports ("+cols+")")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := bt.Append(r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := bt.Send(); err != nil {
			t.Fatal(err)
		}
	}
	at := func(day int, month time.Month) time.Time { return time.Date(2024, month, day, 12, 0, 0, 0, time.UTC) }
	row := func(id string, rev uint32, sign int8, obs time.Time, prec string, killed uint32, zones, possible []string, reason string, span uint64) []any {
		return []any{"p1", id, rev, sign, obs, 36.2, 37.15, prec, tile, "shelling", killed, zones, possible,
			"SY02", "SY0200", "SY020000", uint8(1), reason, span}
	}
	z1, none := []string{"z1"}, []string{}
	insert(row("a", 1, 1, at(10, 3), "exact", 2, z1, none, "in_zone:z1;hostile:shelling", 1),
		row("b", 1, 1, at(10, 4), "adm2", 3, none, z1, "possibly_in_zone:z1;hostile:shelling", 1))
	insert(row("a", 1, -1, at(10, 3), "exact", 2, z1, none, "in_zone:z1;hostile:shelling", 2),
		row("a", 2, 1, at(10, 3), "exact", 5, z1, none, "in_zone:z1;hostile:shelling", 2))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name LIKE 'agg_%'", s.Database()).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d agg_ tables left (%v)", n, err)
	}
	f := read.Filter{From: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	adm3, err := s.AreaTotals(ctx, 3, f)
	if err != nil {
		t.Fatal(err)
	}
	if a := adm3["SY020000"]; a.Reports != 1 || a.Killed != 5 || a.Violations != 1 || a.Coarse != 1 {
		t.Fatalf("sub-district after the upgrade: %+v", a)
	}
	if a, err := s.AreaTotals(ctx, 2, f); err != nil || a["SY0200"].Reports != 2 || a["SY0200"].PossibleViolations != 1 {
		t.Fatalf("district after the upgrade: %+v %v", a, err)
	}
	zt, err := s.ZoneTotals(ctx, []string{"z1"}, f)
	if err != nil || zt["z1"].Reports != 1 || zt["z1"].Killed != 5 || zt["z1"].Possible != 1 || zt["z1"].PossibleViolations != 1 {
		t.Fatalf("zone after the upgrade: %+v %v", zt, err)
	}
	// The upgraded database takes withdrawals.
	w := withdrawal("a", 3)
	if _, err := s.WriteBatch(ctx, storage.Batch{Span: span(10, 10), Rows: []storage.Row{w}}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.AreaTotals(ctx, 2, f); err != nil || a["SY0200"].Reports != 1 || a["SY0200"].Killed != 3 {
		t.Fatalf("district after withdrawing a: %+v %v", a, err)
	}
}
