package importer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/importer"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
	"github.com/trucewatch/trucewatch/violation"
)

// TestMain starts ClickHouse for the end-to-end test and checks that
// nothing outlives the tests.
func TestMain(m *testing.M) {
	chtest.MainAfter(m, kafka.DefaultTransport.(*kafka.Transport).CloseIdleConnections)
}

// TestImportEndToEnd imports the UCDP sample through the real broker,
// ingest and ClickHouse, re-imports it (with and without a state: no
// count changes), then imports a newer version with five events changed
// (five revisions replace them), and after each step checks every adm1,
// adm2 and adm3 total, every adm3 x day, and every zone total and zone x
// hour figure against a count made here from the mapped reports.
func TestImportEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := broker.Start(broker.Options{Topics: []string{"reports", "reports.dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	store := chtest.Store(t)
	m := geotest.Matcher(t)
	pub := publish.New(publish.Options{Brokers: []string{addr}, Topic: "reports"})
	defer pub.Close()

	data, err := os.ReadFile(ucdpSample)
	if err != nil {
		t.Fatal(err)
	}
	send := func(data []byte, o importer.Options) (importer.Stats, *importer.Importer, int) {
		t.Helper()
		o.Dataset, o.Now = "ucdp", now
		im, err := importer.New(bytes.NewReader(data), o)
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		n, err := publish.Stream(ctx, pub, im.Source(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return im.Stats(), im, n
	}
	run := func() ingest.Stats {
		t.Helper()
		in, err := ingest.New(ingest.Options{
			Brokers: []string{addr}, Group: "import-test", BatchSize: 2000, BatchWait: 200 * time.Millisecond,
			ExitWhenIdle: 3 * time.Second,
		}, m, violation.DefaultRules(), store)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return in.Stats()
	}
	check := func(step string, reps []report.Report) {
		t.Helper()
		want := expected(m, reps)
		zones := 0
		for k := range want {
			if strings.HasPrefix(k, "zone|") {
				zones++
			}
		}
		if zones == 0 {
			t.Fatalf("%s: no report of the sample is in a zone", step)
		}
		got := storedFigures(t, ctx, store)
		bad := 0
		for k, w := range want {
			if got[k] != w {
				if bad++; bad <= 10 {
					t.Errorf("%s: %s = %v, want %v", step, k, got[k], w)
				}
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				if bad++; bad <= 10 {
					t.Errorf("%s: %s = %v, want nothing", step, k, g)
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d of %d figures differ", step, bad, len(want))
		}
		t.Logf("%s: all %d figures agree", step, len(want))
	}

	// 1. The sample.
	reps, _, _ := importBytes(t, data, importer.Options{Dataset: "ucdp", Revision: 190100})
	st, im, n := send(data, importer.Options{Revision: 190100})
	if n != len(reps) || st.Rejected != 0 {
		t.Fatalf("sent %d of %d, %d rejected", n, len(reps), st.Rejected)
	}
	state := im.State()
	if s := run(); s.Written != int64(n) || s.DeadLettered != 0 {
		t.Fatalf("first import: ingest %+v", s)
	}
	check("import", reps)

	// 2. The same file again, without a state: everything is sent and
	// ingest counts it once; with the state nothing is sent.
	if _, _, n := send(data, importer.Options{Revision: 190100}); n != len(reps) {
		t.Fatalf("re-import sent %d", n)
	}
	if st, _, n := send(data, importer.Options{Revision: 190100, Prior: state}); n != 0 || st.Unchanged != len(reps) {
		t.Fatalf("re-import with state sent %d, %d unchanged", n, st.Unchanged)
	}
	if s := run(); s.Written != 0 || s.Duplicates != int64(len(reps)) || s.DeadLettered != 0 {
		t.Fatalf("re-import: ingest %+v", s)
	}
	check("re-import", reps)

	// 3. A newer version with five events changed.
	changed := changeUCDP(t, data, 5)
	reps2, _, _ := importBytes(t, changed, importer.Options{Dataset: "ucdp", Revision: 200100})
	st, _, n = send(changed, importer.Options{Revision: 200100, Prior: state})
	if n != 5 || st.Revised != 5 || st.Unchanged != len(reps)-5 {
		t.Fatalf("newer version: sent %d, %+v", n, st)
	}
	if s := run(); s.Written != 5 || s.DeadLettered != 0 {
		t.Fatalf("newer version: ingest %+v", s)
	}
	// What ClickHouse must now hold: the first five at the new version,
	// the rest as first imported.
	final := append([]report.Report(nil), reps...)
	copy(final, reps2[:5])
	check("revisions", final)
	var killed0, killed1 int64
	for i := range reps {
		killed0 += int64(reps[i].Killed)
		killed1 += int64(final[i].Killed)
	}
	if killed1 != killed0+25 {
		t.Fatalf("killed %d after the revisions, want %d", killed1, killed0+25)
	}

	// 4. A version without its last three events: they are withdrawn from
	// every count; a re-import of it changes nothing.
	state = mustState(t, changed, importer.Options{Dataset: "ucdp", Revision: 200100, Prior: state})
	shorter := dropLast(t, changed, 3)
	st, im, n = send(shorter, importer.Options{Revision: 210100, Prior: state})
	if n != 3 || st.Withdrawn != 3 || st.Unchanged != len(reps)-3 {
		t.Fatalf("shorter version: sent %d, %+v", n, st)
	}
	if s := run(); s.Written != 3 || s.DeadLettered != 0 {
		t.Fatalf("withdrawals: ingest %+v", s)
	}
	check("withdrawals", final[:len(final)-3])
	if _, _, n := send(shorter, importer.Options{Revision: 210100, Prior: im.State()}); n != 0 {
		t.Fatalf("re-import after the withdrawals sent %d", n)
	}
}

// expected computes every figure from the reports: adm1, adm2 and adm3
// totals, adm3 x day x violation, zone x possible x violation totals and
// zone x hour, each as (reports, killed).
func expected(m *geo.Matcher, reps []report.Report) map[string][2]int64 {
	out := map[string][2]int64{}
	add := func(k string, r *report.Report) {
		v := out[k]
		v[0]++
		v[1] += int64(r.Killed)
		out[k] = v
	}
	rules := violation.DefaultRules()
	var gm geo.Match
	for i := range reps {
		r := &reps[i]
		m.Match(orb.Point{r.Lon, r.Lat}, r.ObservedAt, r.UncertaintyM(), &gm)
		viol, reason := rules.Classify(r, &gm)
		v := 0
		switch {
		case viol && strings.HasPrefix(reason, "possibly_in_zone"):
			v = 2
		case viol:
			v = 1
		}
		add("adm1|"+gm.Adm1, r)
		add("adm2|"+gm.Adm2, r)
		add("adm3|"+gm.Adm3, r)
		add(fmt.Sprintf("adm3day|%s|%s|%d", gm.Adm3, r.ObservedAt.UTC().Format("2006-01-02"), v), r)
		// Placed at a level only if the precision says the point is there
		// (adm3: exact, near, adm3; adm2: also adm2; adm1: also adm1).
		for level, areas := range map[int]string{1: gm.Adm1, 2: gm.Adm2, 3: gm.Adm3} {
			placed := map[report.GeoPrecision]int{"": 3, "exact": 3, "near": 3, "adm3": 3, "adm2": 2, "adm1": 1}[r.GeoPrecision] >= level
			if placed {
				add(fmt.Sprintf("placed%d|%s", level, areas), r)
				continue
			}
			k := fmt.Sprintf("coarse%d|%s", level, areas)
			out[k] = [2]int64{out[k][0] + 1, -1} // the maps count coarse reports only
		}
		for _, z := range gm.Zones {
			p := 0
			if z.Possible {
				p = 1
			}
			add(fmt.Sprintf("zone|%s|%d|%d", z.ID, p, min(v, 1)), r) // zones keep the 0/1 flag
			add(fmt.Sprintf("zonehour|%s|%s", z.ID, r.ObservedAt.UTC().Truncate(time.Hour).Format("2006-01-02T15")), r)
		}
	}
	return out
}

// storedFigures reads the same figures from ClickHouse's aggregate tables.
func storedFigures(t *testing.T, ctx context.Context, s *storage.Store) map[string][2]int64 {
	t.Helper()
	queries := []string{
		`SELECT concat('adm1|', adm1), sum(n_reports), sum(n_killed) FROM %s.counts_adm_day FINAL GROUP BY adm1`,
		`SELECT concat('adm2|', adm2), sum(n_reports), sum(n_killed) FROM %s.counts_adm_day FINAL GROUP BY adm2`,
		`SELECT concat('adm3|', adm3), sum(n_reports), sum(n_killed) FROM %s.counts_adm_day FINAL GROUP BY adm3`,
		`SELECT concat('adm3day|', adm3, '|', toString(day), '|', toString(violation_class)), sum(n_reports), sum(n_killed)
			FROM %s.counts_adm_day FINAL GROUP BY adm3, day, violation_class`,
		`SELECT concat('zone|', zone, '|', toString(possible), '|', toString(violation)), sum(n_reports), sum(n_killed)
			FROM %s.counts_zone_hour FINAL GROUP BY zone, possible, violation`,
		`SELECT concat('zonehour|', zone, '|', formatDateTime(hour, '%%Y-%%m-%%dT%%H')), sum(n_reports), sum(n_killed)
			FROM %s.counts_zone_hour FINAL GROUP BY zone, hour`,
	}
	out := chtest.Figures[[2]int64](t, ctx, s, queries...)
	// What the maps show: the store's own placement.
	all := read.Filter{From: time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	for level := 1; level <= 3; level++ {
		at, err := s.AreaTotals(ctx, level, all)
		if err != nil {
			t.Fatal(err)
		}
		for pc, v := range at {
			if v.Reports != 0 || v.Killed != 0 {
				out[fmt.Sprintf("placed%d|%s", level, pc)] = [2]int64{v.Reports, v.Killed}
			}
			if v.Coarse != 0 {
				out[fmt.Sprintf("coarse%d|%s", level, pc)] = [2]int64{v.Coarse, -1}
			}
		}
	}
	return out
}
