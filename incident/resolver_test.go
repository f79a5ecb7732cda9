package incident_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/incident"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var groups = map[string]string{"ru": "guarantor:ru", "tr": "guarantor:tr", "ngo": "ngo"}

// crashingStore is a real store whose next WriteIncidents (crash) or
// WriteIncidentCells (crashCells) writes only the first half of what it
// is given and fails: a resolver killed mid-write.
type crashingStore struct {
	*storage.Store
	crash, crashCells bool
}

var errCrash = errors.New("resolver crashed")

func (c *crashingStore) WriteIncidents(ctx context.Context, v uint64, put []read.Incident, del []string) error {
	if !c.crash {
		return c.Store.WriteIncidents(ctx, v, put, del)
	}
	c.crash = false
	if err := c.Store.WriteIncidents(ctx, v, put[:len(put)/2], del[:len(del)/2]); err != nil {
		return err
	}
	return errCrash
}

// feed is the same events reported by three partners (ru, tr, ngo) with
// jittered positions, times and casualties, with corrections that move
// reports out of their incident and back, withdrawals, and late reports
// that bridge two incidents. rows are every revision sent, final the
// current revision of each report at the end.
func feed(rng *rand.Rand) (rows []storage.Row, final map[read.ReportKey]storage.Row) {
	base := time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC)
	final = map[read.ReportKey]storage.Row{}
	add := func(r storage.Row) {
		rows = append(rows, r)
		k := read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}
		if old, ok := final[k]; ok && old.Revision > r.Revision {
			return
		}
		final[k] = r
		if r.Withdrawn {
			delete(final, k)
		}
	}
	partners := []string{"ru", "tr", "ngo"}
	var firsts []storage.Row // the events' first revisions
	for e := range 120 {
		lon, lat := 36.30+rng.Float64()*0.3, 33.45+rng.Float64()*0.2
		at := base.Add(time.Duration(rng.Int64N(4*86400)) * time.Second)
		cat := []string{"shelling", "airstrike", "ground_clash"}[rng.IntN(3)]
		killed := rng.IntN(8)
		for pi, p := range partners {
			if pi > 0 && rng.IntN(4) == 0 {
				continue
			}
			r := storage.Row{PartnerID: p, ReportID: fmt.Sprintf("%s-%d", p, e), Revision: 1,
				ObservedAt: at.Add(time.Duration(rng.IntN(5400)-2700) * time.Second),
				Lat:        lat + (rng.Float64()-0.5)*0.015, Lon: lon + (rng.Float64()-0.5)*0.015,
				Category: cat, Killed: uint32(max(0, killed+rng.IntN(3)-1)), Injured: uint32(rng.IntN(5)),
				PerpetratorSide: []string{"government", "government", "opposition", "unknown"}[rng.IntN(4)],
				ReceivedAt:      base}
			if rng.IntN(4) == 0 {
				r.AccuracyM = float32(200 + rng.IntN(3000))
			}
			if rng.IntN(6) == 0 {
				r.TimePrecision = "hour"
			}
			placeIn(&r, e, pi)
			add(r)
			firsts = append(firsts, r)
			switch rng.IntN(8) {
			case 0: // corrected: moved out of the incident
				c := r
				c.Revision, c.Lon, c.Killed = 2, r.Lon+0.2, r.Killed+1
				add(c)
				if rng.IntN(2) == 0 { // and back again
					b := r
					b.Revision = 3
					add(b)
				}
			case 1: // withdrawn
				w := r
				w.Revision, w.Withdrawn = 2, true
				add(w)
			case 2: // corrected in place
				c := r
				c.Revision, c.Injured = 2, r.Injured+2
				add(c)
			}
		}
		if e%10 == 9 { // a report of the same partner with another id: a second event nearby
			add(storage.Row{PartnerID: "ru", ReportID: fmt.Sprintf("ru-%d-b", e), Revision: 1, ObservedAt: at,
				Lat: lat, Lon: lon + 0.001, Category: cat, ReceivedAt: base})
		}
	}
	// Explicit links: a report corrected to name another event's report,
	// kilometres and days away (the rule alone never joins them), of its
	// partner or another's; a third of them corrected again to drop the
	// link; some naming a report never sent.
	linked := map[read.ReportKey]bool{}
	for i := 0; i < 40; i++ {
		src, dst := firsts[rng.IntN(len(firsts))], firsts[rng.IntN(len(firsts))]
		k := read.ReportKey{PartnerID: src.PartnerID, ReportID: src.ReportID}
		if linked[k] || src.ReportID == dst.ReportID && src.PartnerID == dst.PartnerID {
			continue
		}
		linked[k] = true
		l := src
		l.Revision, l.IncidentOf = 10, read.ReportKey{PartnerID: dst.PartnerID, ReportID: dst.ReportID}
		if i%8 == 7 {
			l.IncidentOf.ReportID += "-never"
		}
		add(l)
		if i%3 == 0 {
			d := l
			d.Revision, d.IncidentOf = 11, read.ReportKey{}
			add(d)
		}
	}
	// Bridges: a partner places an event between two incidents 3 km
	// apart, linking both (single linkage).
	for b := range 6 {
		lon, lat := 36.9+float64(b)*0.1, 33.5
		at := base.Add(time.Duration(b) * 6 * time.Hour)
		add(storage.Row{PartnerID: "ru", ReportID: fmt.Sprintf("bridge-w-%d", b), Revision: 1, ObservedAt: at, Lat: lat, Lon: lon, Category: "shelling", ReceivedAt: base})
		add(storage.Row{PartnerID: "tr", ReportID: fmt.Sprintf("bridge-e-%d", b), Revision: 1, ObservedAt: at, Lat: lat, Lon: lon + 0.032, Category: "shelling", ReceivedAt: base})
		add(storage.Row{PartnerID: "ngo", ReportID: fmt.Sprintf("bridge-m-%d", b), Revision: 1, ObservedAt: at, Lat: lat, Lon: lon + 0.016, Category: "shelling", AccuracyM: 1800, ReceivedAt: base})
	}
	return rows, final
}

func partitionOf(r storage.Row) int {
	h := fnv.New32a()
	h.Write([]byte(r.PartnerID + "/" + r.ReportID))
	return int(h.Sum32() % 3)
}

// The same events reported by three partners, written in random order
// through the real write path in batches of three partitions, some
// batches written twice, with the resolver passing between batches and
// crashing mid-write twice, end with exactly the incidents of resolving
// the final reports from scratch.
func TestResolverExactThreePartners(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := chtest.Store(t)
	rng := rand.New(rand.NewPCG(15, 15))
	rows, final := feed(rng)
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })

	// Batches: each partition's rows in arrival order, cut at random, the
	// partitions' batches interleaved.
	var parts [3][]storage.Row
	for _, r := range rows {
		parts[partitionOf(r)] = append(parts[partitionOf(r)], r)
	}
	var batches []storage.Batch
	next := [3]int64{}
	for {
		live := []int{}
		for p := range parts {
			if len(parts[p]) > 0 {
				live = append(live, p)
			}
		}
		if len(live) == 0 {
			break
		}
		p := live[rng.IntN(len(live))]
		n := min(len(parts[p]), 1+rng.IntN(25))
		sp := storage.Span{Source: storage.Source{Cluster: "c", Topic: "reports", Partition: p}, First: next[p], Last: next[p] + int64(n) - 1}
		next[p] += int64(n)
		batches = append(batches, storage.Batch{Span: sp, Rows: parts[p][:n]})
		parts[p] = parts[p][n:]
	}

	cs := &crashingStore{Store: store}
	var incremental, skipped int
	var last incident.Pass
	newResolver := func() *incident.Resolver {
		// Cells are written by full passes and by passes that change
		// none (CellInterval never passes): they accumulate across passes.
		// The overlap spans the whole test: every pass sees again every row
		// and reads only the keys with one it has not seen.
		r, err := incident.New(incident.Options{Store: cs, Groups: groups, Overlap: time.Hour, CellInterval: time.Hour, Pass: func(p incident.Pass) {
			last = p
			skipped += p.Skipped
			if !p.Full {
				incremental++
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	res := newResolver()
	for i, b := range batches {
		if _, err := store.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		if i%7 == 3 { // a redone batch
			if _, err := store.WriteBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 != 0 {
			continue
		}
		if i == len(batches)/3 || i == len(batches)/2 || i == 2*len(batches)/3 {
			if i == len(batches)/2 {
				// The pass that writes the cells the passes before it
				// changed is the one that crashes.
				if err := res.Step(ctx); err != nil {
					t.Fatal(err)
				}
			}
			cs.crash, cs.crashCells = i != len(batches)/2, i == len(batches)/2
			if err := res.Step(ctx); !errors.Is(err, errCrash) {
				t.Fatalf("crashing pass: %v", err)
			}
			res = newResolver() // restarted
			continue
		}
		if err := res.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A rematch of some stored reports: rows that differ from those read
	// before only in their generation, which a pass must not skip.
	stored, err := store.CurrentIn(ctx, time.Unix(0, 0), time.Now().AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	rematch := map[string][]storage.Rematch{} // a rematch batch is one month's
	var rematched int
	for i, st := range stored {
		k := read.ReportKey{PartnerID: st.PartnerID, ReportID: st.ReportID}
		if i%9 != 0 || final[k].Revision != st.Revision {
			continue
		}
		nw := st.Row
		nw.ZoneSet, nw.Zones, nw.Adm3 = "zs-rematch", []string{"rematched"}, "SY999999"
		m := st.ObservedAt.UTC().Format("200601")
		rematch[m] = append(rematch[m], storage.Rematch{Stored: st, New: nw})
		rematched++
		f := final[k]
		f.Zones, f.Adm3 = nw.Zones, nw.Adm3
		final[k] = f
	}
	if rematched < 10 {
		t.Fatalf("%d reports rematched", rematched)
	}
	for _, rs := range rematch {
		if _, err := store.WriteRematch(ctx, "zs-rematch", rs); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second changes nothing: it writes the cells
		if err := res.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// From scratch: the final reports as the test sent them, and as
	// ClickHouse holds them now.
	var want []read.Report
	for _, r := range final {
		want = append(want, read.Report{PartnerID: r.PartnerID, ReportID: r.ReportID, Revision: r.Revision,
			ObservedAt: r.ObservedAt.Unix(), Lat: r.Lat, Lon: r.Lon, AccuracyM: r.AccuracyM, Category: r.Category,
			PerpetratorSide: r.PerpetratorSide, Killed: r.Killed, Injured: r.Injured, TimePrecision: r.TimePrecision,
			Zones: r.Zones, PossibleZones: r.PossibleZones, Adm1: r.Adm1, Adm2: r.Adm2, Adm3: r.Adm3,
			Violation: r.Violation, ViolationReason: r.ViolationReason})
	}
	for i, r := range want { // the explicit links
		want[i].IncidentOf = final[read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}].IncidentOf
	}
	wantIncs := incident.Resolve(incident.Rule{}, groups, want)
	ch, err := store.ChangedReports(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Current) != len(want) {
		t.Fatalf("%d current reports stored, want %d", len(ch.Current), len(want))
	}
	if fresh := incident.Resolve(incident.Rule{}, groups, ch.Current); !sameIncidents(fresh, wantIncs) {
		t.Fatal("the stored reports resolve to other incidents than the reports sent")
	}
	got, err := store.Incidents(ctx, read.IncidentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b read.Incident) int { return cmpString(a.ID, b.ID) })
	if !sameIncidents(got, wantIncs) {
		t.Fatalf("stored %d incidents, from scratch %d: they differ", len(got), len(wantIncs))
	}
	for i := range got {
		if incident.Digest(&got[i]) != got[i].Digest {
			t.Fatalf("incident %s read back differs from what was written: %+v", got[i].ID, got[i])
		}
	}
	checkCells(ctx, t, store, wantIncs, want)

	// The feed has what the test is about.
	var multi, cross, contested, bridged int
	for _, inc := range got {
		if len(inc.Partners) > 1 {
			multi++
		}
		if len(inc.Groups) > 1 && slices.Contains(inc.Groups, "guarantor:ru") && slices.Contains(inc.Groups, "guarantor:tr") {
			cross++
		}
		if inc.Contested {
			contested++
		}
		if len(inc.Members) == 3 && inc.Members[0].PartnerID == "ngo" && len(inc.Members[0].ReportID) > 7 && inc.Members[0].ReportID[:7] == "bridge-" {
			bridged++
		}
	}
	t.Logf("%d reports, %d batches, %d incremental passes: %d incidents, %d corroborated, %d by both guarantors, %d contested",
		len(want), len(batches), incremental, len(got), multi, cross, contested)
	// Explicit links joined reports kilometres apart.
	incOf := map[read.ReportKey]string{}
	for _, inc := range got {
		for _, m := range inc.Members {
			incOf[m] = inc.ID
		}
	}
	far := 0
	for k, r := range final {
		to, ok := final[r.IncidentOf]
		if r.IncidentOf == (read.ReportKey{}) || !ok {
			continue
		}
		if incOf[k] != incOf[r.IncidentOf] {
			t.Fatalf("%v links to %v, stored in %s and %s", k, r.IncidentOf, incOf[k], incOf[r.IncidentOf])
		}
		if math.Abs(r.Lon-to.Lon)+math.Abs(r.Lat-to.Lat) > 0.05 {
			far++
		}
	}
	t.Logf("%d explicit links between reports about 5 km apart or more", far)
	if multi < 50 || cross < 30 || contested < 10 || bridged != 6 || incremental < 10 || far < 10 || skipped < 100 {
		t.Fatalf("feed too thin: %d corroborated, %d cross, %d contested, %d bridged, %d incremental passes, %d far links, %d keys skipped",
			multi, cross, contested, bridged, incremental, far, skipped)
	}

	// A new report is placed by the next pass.
	late := storage.Row{PartnerID: "tr", ReportID: "late", Revision: 1, ObservedAt: time.Unix(got[0].ObservedAt, 0).UTC(),
		Lat: got[0].Lat, Lon: got[0].Lon, Category: got[0].Category, ReceivedAt: time.Unix(1e9, 0)}
	sp := storage.Span{Source: storage.Source{Cluster: "c", Topic: "reports", Partition: 9}, First: 0, Last: 0}
	if _, err := store.WriteBatch(ctx, storage.Batch{Span: sp, Rows: []storage.Row{late}}); err != nil {
		t.Fatal(err)
	}
	var cellsWritten []int
	for range 2 {
		if err := res.Step(ctx); err != nil {
			t.Fatal(err)
		}
		cellsWritten = append(cellsWritten, last.Cells)
	}
	if cellsWritten[0] != 0 || cellsWritten[1] == 0 {
		t.Errorf("cells written by the pass placing the late report, then by the next: %v; want none, then its cells", cellsWritten)
	}
	inc, reports, ok, err := store.Incident(ctx, got[0].ID)
	if !ok || err != nil || !slices.Contains(inc.Members, read.ReportKey{PartnerID: "tr", ReportID: "late"}) || len(reports) != len(inc.Members) {
		t.Fatalf("late report not placed in %s: %+v %d reports %v", got[0].ID, inc, len(reports), err)
	}
	// And its incident's cells moved with it.
	if ch, err = store.ChangedReports(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	checkCells(ctx, t, store, incident.Resolve(incident.Rule{}, groups, ch.Current), ch.Current)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sameIncidents(a, b []read.Incident) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Digest != b[i].Digest || fmt.Sprint(a[i].Members) != fmt.Sprint(b[i].Members) {
			return false
		}
	}
	return true
}
