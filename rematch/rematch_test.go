package rematch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/rematch"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/violation"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// Matchers: "old" knows only the nationwide ceasefire (the Astana zones
// are the amendment), "new" every shipped zone set.
// loadMatchers: old matches with the nationwide 2016 zone set alone, nw
// with every shipped set.
func loadMatchers(t testing.TB) (old, nw *geo.Matcher) {
	t.Helper()
	return geotest.Matcher(t, "syria-ceasefire-2016"), geotest.Matcher(t)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var (
	winFrom = time.Date(2017, 8, 1, 0, 0, 0, 0, time.UTC)
	winTo   = time.Date(2017, 10, 1, 0, 0, 0, 0, time.UTC)
	outside = time.Date(2017, 10, 15, 9, 0, 0, 0, time.UTC) // after the window
)

// reports returns n deterministic reports around the Astana zones and
// elsewhere in Syria, observed from late August to early September 2017
// (two months, all Astana zones in force), plus one in Idlib after the
// window.
func reports(n int) []report.Report {
	rng := rand.New(rand.NewPCG(3, 17))
	boxes := []struct{ lat0, lat1, lon0, lon1 float64 }{
		{35.6, 36.2, 36.3, 36.9}, // Idlib (astana-1)
		{32.6, 33.0, 35.9, 36.5}, // south-west (astana-2)
		{34.7, 35.0, 36.6, 36.9}, // northern Homs (astana-3)
		{33.5, 33.6, 36.3, 36.5}, // Eastern Ghouta (astana-4)
		{33.0, 37.0, 36.0, 41.0}, // anywhere
	}
	cats := []report.Category{"shelling", "airstrike", "arrest", "ground_clash"}
	sides := []report.Side{"government", "opposition", "excluded_group"}
	precisions := []report.GeoPrecision{"exact", "exact", "near", "adm3"}
	start := time.Date(2017, 8, 25, 0, 0, 0, 0, time.UTC)
	out := make([]report.Report, 0, n+1)
	for i := range n {
		b := boxes[i%len(boxes)]
		out = append(out, report.Report{
			ID: fmt.Sprintf("r%04d", i), PartnerID: []string{"pa", "pb"}[i%2], Revision: 1,
			ObservedAt:    start.Add(time.Duration(rng.IntN(15*24*3600)) * time.Second),
			TimePrecision: "minute",
			Lat:           b.lat0 + rng.Float64()*(b.lat1-b.lat0),
			Lon:           b.lon0 + rng.Float64()*(b.lon1-b.lon0),
			AccuracyM:     float64(rng.IntN(3000)), // float32-exact, as stored
			GeoPrecision:  precisions[rng.IntN(len(precisions))],
			Category:      cats[rng.IntN(len(cats))],
			Perpetrator:   report.Actor{Name: "unit", Side: sides[rng.IntN(len(sides))]},
			Target:        report.Actor{Side: "opposition"},
			Killed:        uint32(rng.IntN(4)), Injured: uint32(rng.IntN(6)),
			Description: "d", Sources: []string{"s"},
		})
	}
	out = append(out, report.Report{
		ID: "late", PartnerID: "pa", Revision: 1, ObservedAt: outside, Lat: 35.93, Lon: 36.63,
		Category: "shelling", Perpetrator: report.Actor{Side: "government"}, Killed: 1,
	})
	return out
}

// rows turns reports into rows as ingest does.
func rows(reps []report.Report, m *geo.Matcher) []storage.Row {
	e := enrich.New(m, violation.DefaultRules())
	out := make([]storage.Row, len(reps))
	for i := range reps {
		out[i] = e.Row(&reps[i], reps[i].ObservedAt.Add(time.Hour).Truncate(time.Second))
	}
	return out
}

// ingestAll writes rows through WriteBatch in spans of 50, continuing
// source src at offset *next.
func ingestAll(t *testing.T, s *storage.Store, rs []storage.Row, next *int64) {
	t.Helper()
	ctx := ctxT(t)
	src := storage.Source{Cluster: "c1", Topic: "reports", Partition: 0}
	for i := 0; i < len(rs); i += 50 {
		j := min(i+50, len(rs))
		b := storage.Batch{Span: storage.Span{Source: src, First: *next, Last: *next + int64(j-i) - 1}, Rows: rs[i:j]}
		if _, err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		*next += int64(j - i)
	}
}

// snapshot is everything a reader sees of the window: the current
// reports, the raw signed totals and the three aggregates, cells with all
// sums zero dropped.
type snapshot struct {
	Current, Raw, ZoneHour, AdmDay, TileDay []string
}

func snap(t *testing.T, s *storage.Store) snapshot {
	t.Helper()
	// 18.16 fails FINAL queries whose WHERE it moves to PREWHERE ("Value
	// of type String in memory is not of fixed size"), with or without
	// migration 0002.
	ctx := clickhouse.Context(ctxT(t), clickhouse.WithSettings(clickhouse.Settings{"optimize_move_to_prewhere": 0}))
	db := s.Database()
	q := func(sql string) []string {
		rows, err := s.Conn().Query(ctx, strings.ReplaceAll(sql, "{db}", db))
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const end = "'2017-10-01 00:00:00'"
	return snapshot{
		Current: q(`SELECT c FROM (SELECT concat(partner_id, '/', report_id, ' r', toString(revision), ' ', zone_set, ' ',
    arrayStringConcat(zones, ','), ' ~', arrayStringConcat(possible_zones, ','), ' ', adm3, ' ',
    toString(violation), ' ', violation_reason, ' k', toString(killed)) AS c, observed_at < ` + end + ` AS inwin
FROM {db}.reports_current ORDER BY partner_id, report_id) WHERE inwin`),
		Raw: q(`SELECT concat(toString(n), ' ', toString(k), ' ', toString(v)) FROM (
    SELECT observed_at < ` + end + ` AS inwin, sum(sign) AS n, sum(sign * killed) AS k, sum(sign * violation) AS v
    FROM {db}.reports FINAL GROUP BY inwin) WHERE inwin`),
		ZoneHour: q(`SELECT concat(zone, ' ', toString(hour), ' ', category, ' ', toString(violation), ' ', toString(possible), ' ',
    toString(sum(n_reports)), ' ', toString(sum(n_killed)), ' ', toString(sum(n_injured))) AS c
FROM {db}.counts_zone_hour FINAL
GROUP BY zone, hour, category, violation, possible
HAVING hour < ` + end + ` AND (sum(n_reports) != 0 OR sum(n_killed) != 0 OR sum(n_injured) != 0) ORDER BY c`),
		AdmDay: q(`SELECT concat(adm1, adm2, adm3, ' ', toString(day), ' ', category, ' ', toString(violation_class), ' ',
    toString(sum(n_reports)), ' ', toString(sum(n_killed)), ' ', toString(sum(n_injured))) AS c
FROM {db}.counts_adm_day FINAL
GROUP BY adm1, adm2, adm3, day, category, violation_class
HAVING day < toDate(` + end + `) AND (sum(n_reports) != 0 OR sum(n_killed) != 0 OR sum(n_injured) != 0) ORDER BY c`),
		TileDay: q(`SELECT concat(toString(tile), ' ', toString(day), ' ', category, ' ', toString(violation_class), ' ',
    toString(sum(n_reports)), ' ', toString(sum(n_killed)), ' ', toString(sum(n_injured))) AS c
FROM {db}.counts_tile_day FINAL
GROUP BY tile, day, category, violation_class
HAVING day < toDate(` + end + `) AND (sum(n_reports) != 0 OR sum(n_killed) != 0 OR sum(n_injured) != 0) ORDER BY c`),
	}
}

func sameSnapshot(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		g, w := gv.Field(i).Interface().([]string), wv.Field(i).Interface().([]string)
		if reflect.DeepEqual(g, w) {
			continue
		}
		name := gv.Type().Field(i).Name
		gs, ws := map[string]bool{}, map[string]bool{}
		for _, x := range g {
			gs[x] = true
		}
		for _, x := range w {
			ws[x] = true
		}
		var diff []string
		for _, x := range g {
			if !ws[x] {
				diff = append(diff, "+ "+x)
			}
		}
		for _, x := range w {
			if !gs[x] {
				diff = append(diff, "- "+x)
			}
		}
		if len(diff) > 20 {
			diff = diff[:20]
		}
		t.Errorf("%s: %s differs from a fresh ingest (%d vs %d rows):\n%s", what, name, len(g), len(w), strings.Join(diff, "\n"))
	}
}

// rawCount counts the physical rows of every table: a run that changes
// nothing leaves them as they are.
func rawCount(t *testing.T, s *storage.Store) string {
	t.Helper()
	var parts []string
	for _, tbl := range []string{"reports", "revisions", "counts_zone_hour", "counts_adm_day", "counts_tile_day"} {
		var n uint64
		if err := s.Conn().QueryRow(ctxT(t), "SELECT count() FROM "+s.Database()+"."+tbl+" FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", tbl, n))
	}
	return strings.Join(parts, " ")
}

func TestRematchEqualsFreshIngest(t *testing.T) {
	old, nw := loadMatchers(t)
	ctx := ctxT(t)
	reps := reports(400)
	stored, fresh := chtest.Store(t), chtest.Store(t)
	var offStored, offFresh int64
	ingestAll(t, stored, rows(reps, old), &offStored)
	ingestAll(t, fresh, rows(reps, nw), &offFresh)
	before := snap(t, stored)

	// dry run: counts, writes nothing
	dry, err := rematch.Run(ctx, stored, nw, rematch.Options{From: winFrom, To: winTo, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Examined != 400 || dry.Changed == 0 || dry.Batches != 0 {
		t.Fatalf("dry run: %+v", dry)
	}
	sameSnapshot(t, "after dry run", snap(t, stored), before)

	res, err := rematch.Run(ctx, stored, nw, rematch.Options{From: winFrom, To: winTo, BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("examined %d, changed %d, relabelled %d, unchanged %d, batches %d", res.Examined, res.Changed, res.Relabelled, res.Unchanged, res.Batches)
	if res.Examined != 400 || res.Changed != dry.Changed || res.Changed+res.Relabelled != res.Examined || res.Batches < 2 {
		t.Fatalf("run: %+v", res)
	}
	for _, z := range []string{"astana-1", "astana-2", "astana-3", "astana-4"} {
		c := res.Zones[z]
		if c == nil || c.Entered == 0 || c.Left != 0 {
			t.Errorf("zone %s: %+v", z, c)
		}
	}
	want := snap(t, fresh)
	sameSnapshot(t, "after rematch", snap(t, stored), want)

	// the report after the window was not touched
	late, err := stored.Current(ctx, "pa", "late")
	if err != nil {
		t.Fatal(err)
	}
	if late.ZoneSet != old.Version() {
		t.Errorf("report outside the window rematched: %s", late.ZoneSet)
	}

	// a second run changes nothing
	counts := rawCount(t, stored)
	again, err := rematch.Run(ctx, stored, nw, rematch.Options{From: winFrom, To: winTo})
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed != 0 || again.Relabelled != 0 || again.Batches != 0 || again.Unchanged != 400 {
		t.Fatalf("second run: %+v", again)
	}
	if c := rawCount(t, stored); c != counts {
		t.Errorf("second run wrote rows: %s, was %s", c, counts)
	}
	sameSnapshot(t, "after a second rematch", snap(t, stored), want)

	// corrections through ingest retract the rematched rows
	correct(t, reps, nw, stored, fresh, &offStored, &offFresh)

	// rematching back to the old zone set, then forward again, stays exact
	back, err := rematch.Run(ctx, stored, old, rematch.Options{From: winFrom, To: winTo})
	if err != nil {
		t.Fatal(err)
	}
	if back.Changed == 0 {
		t.Fatalf("back: %+v", back)
	}
	if _, err := rematch.Run(ctx, stored, nw, rematch.Options{From: winFrom, To: winTo}); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "after rematching back and forth", snap(t, stored), snap(t, fresh))
	correct(t, reps, nw, stored, fresh, &offStored, &offFresh)
}

// correct sends revision+1 of every fourth report (moved, more killed)
// through WriteBatch into both stores and checks they still agree.
func correct(t *testing.T, reps []report.Report, m *geo.Matcher, stored, fresh *storage.Store, offStored, offFresh *int64) {
	t.Helper()
	var fix []report.Report
	for i := 0; i < len(reps)-1; i += 4 {
		r := &reps[i]
		r.Revision++
		r.Killed += 2
		r.Lat, r.Lon = r.Lon/10+32.3, r.Lat/10+33.0 // somewhere else in Syria
		fix = append(fix, *r)
	}
	ingestAll(t, stored, rows(fix, m), offStored)
	ingestAll(t, fresh, rows(fix, m), offFresh)
	sameSnapshot(t, "after corrections", snap(t, stored), snap(t, fresh))
}

func TestRematchInterrupted(t *testing.T) {
	old, nw := loadMatchers(t)
	reps := reports(300)
	stored, fresh := chtest.Store(t), chtest.Store(t)
	var offStored, offFresh int64
	ingestAll(t, stored, rows(reps, old), &offStored)
	ingestAll(t, fresh, rows(reps, nw), &offFresh)

	// stop after the first batch
	ctx, cancel := context.WithCancel(ctxT(t))
	batches := 0
	_, err := rematch.Run(ctx, stored, nw, rematch.Options{From: winFrom, To: winTo, BatchSize: 10,
		AfterBatch: func(storage.Span, rematch.Result) { batches++; cancel() }})
	if !errors.Is(err, context.Canceled) || batches != 1 {
		t.Fatalf("interrupted run: %v after %d batches", err, batches)
	}
	// an interrupted run leaves revisions unsettled: say so
	dry, err := rematch.Run(ctxT(t), stored, nw, rematch.Options{From: winFrom, To: winTo, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Changed == 0 || len(dry.Recovered) != 0 {
		t.Fatalf("dry run after interruption: %+v", dry)
	}

	// a crash inside the next batch: its INSERT landed, the ledger still
	// says pending
	cur, err := stored.CurrentIn(ctxT(t), winFrom, winTo)
	if err != nil {
		t.Fatal(err)
	}
	var rs []storage.Rematch
	for _, st := range cur {
		if st.ZoneSet == nw.Version() {
			continue
		}
		n := rematch.Rematch(&st.Row, enrich.New(nw, violation.DefaultRules()))
		if !storage.SameMatch(&st.Row, &n) && len(rs) < 10 && (len(rs) == 0 || st.ObservedAt.Month() == rs[0].Stored.ObservedAt.Month()) {
			rs = append(rs, storage.Rematch{Stored: st, New: n})
		}
	}
	sp, err := stored.WriteRematch(ctxT(t), nw.Version(), rs)
	if err != nil {
		t.Fatal(err)
	}
	markPending(t, stored, sp)

	res, err := rematch.Run(ctxT(t), stored, nw, rematch.Options{From: winFrom, To: winTo, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recovered) != 1 || res.Recovered[0] != sp {
		t.Errorf("recovered %v, want %v", res.Recovered, sp)
	}
	sameSnapshot(t, "after an interrupted rematch and a rerun", snap(t, stored), snap(t, fresh))
	correct(t, reps, nw, stored, fresh, &offStored, &offFresh)
}

// markPending rewrites sp's ledger entry as pending, as if the process had
// died before marking it done: the ledger keeps the highest state, so the
// done entry is removed first.
func markPending(t *testing.T, s *storage.Store, sp storage.Span) {
	t.Helper()
	ctx := ctxT(t)
	db := s.Database()
	if err := s.Conn().Exec(ctx, fmt.Sprintf(`ALTER TABLE %s.ledger DELETE WHERE kafka_cluster = '%s' AND first_offset = %d`,
		db, sp.Cluster, sp.First)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n uint64
		if err := s.Conn().QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM %s.ledger WHERE kafka_cluster = '%s' AND first_offset = %d`,
			db, sp.Cluster, sp.First)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ledger delete did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Conn().Exec(ctx, fmt.Sprintf(`INSERT INTO %s.ledger (kafka_cluster, kafka_topic, kafka_partition, first_offset, last_offset, state, written_at)
SELECT '%s', '%s', 0, %d, %d, 0, now()`, db, sp.Cluster, sp.Topic, sp.First, sp.Last)); err != nil {
		t.Fatal(err)
	}
}
