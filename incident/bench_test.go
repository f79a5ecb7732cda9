package incident_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/incident"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
)

// benchReports is the synthetic feed with 30% of its messages another
// partner's report of a recent event.
func benchReports(n int) []report.Report {
	feed := synth.New(synth.Options{Seed: 15, Duplicates: 0.3, IDPrefix: "bench"})
	out := make([]report.Report, n)
	for i := range out {
		out[i] = *feed.Next().Report
	}
	return out
}

func rowOf(r *report.Report) storage.Row {
	return storage.Row{PartnerID: r.PartnerID, ReportID: r.ID, Revision: r.Revision, ObservedAt: r.ObservedAt, ObservedUntil: r.ObservedUntil,
		TimePrecision: string(r.TimePrecision), Lat: r.Lat, Lon: r.Lon, AccuracyM: float32(r.AccuracyM), GeoPrecision: string(r.GeoPrecision),
		Category: string(r.Category), PerpetratorName: r.Perpetrator.Name, PerpetratorSide: string(r.Perpetrator.Side),
		Killed: r.Killed, Injured: r.Injured, Description: r.Description, ReceivedAt: r.ObservedAt}
}

func readOf(r *report.Report) read.Report {
	return read.Report{PartnerID: r.PartnerID, ReportID: r.ID, Revision: r.Revision, ObservedAt: r.ObservedAt.Unix(),
		Lat: r.Lat, Lon: r.Lon, AccuracyM: float32(r.AccuracyM), Category: string(r.Category),
		PerpetratorSide: string(r.Perpetrator.Side), Killed: r.Killed, Injured: r.Injured}
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkResolveInMemory is the in-memory step of BenchmarkResolve1M on
// 200,000 reports, short enough to profile (-cpuprofile).
func BenchmarkResolveInMemory(b *testing.B) {
	reps := benchReports(200_000)
	rows := make([]read.Report, len(reps))
	for i := range reps {
		rows[i] = readOf(&reps[i])
	}
	b.ResetTimer()
	for range b.N {
		applyInBatches(incident.NewSet(incident.Rule{}, nil), rows, 10_000)
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "reports/s")
}

func applyInBatches(s *incident.Set, rows []read.Report, n int) {
	for len(rows) > 0 {
		k := min(n, len(rows))
		s.Apply(nil, rows[:k])
		rows = rows[k:]
	}
}

// BenchmarkResolve1M (make bench-incidents; skipped without -incidents.1m): 1 million reports of the
// synthetic feed, 30% of them another partner's report of a recent
// event. In memory: Set.Apply in batches of 10,000 (reports/s). Then on a
// real ClickHouse: the reports written through WriteBatch, the
// resolver's full pass over them, and 60 incremental passes each placing
// a batch of 1,000 new reports (what ingest writes in 0.1 s at 10,000
// reports/s): the latency from the batch's write to its placement. Last,
// sustained: 300,000 more written through WriteBatch as fast as it takes
// them while the resolver runs (Run) beside the writes, as a deployment
// runs it beside ingest: how soon all are placed, against the write rate.
var (
	bench1M    = flag.Bool("incidents.1m", false, "run BenchmarkResolve1M (make bench-incidents)")
	benchN     = flag.Int("incidents.n", 1_000_000, "BenchmarkResolve1M's reports")
	benchFresh = flag.Int("incidents.sustained", 300_000, "BenchmarkResolve1M's reports written while the resolver runs")
)

func BenchmarkResolve1M(b *testing.B) {
	if !*bench1M {
		b.Skip("a long run: make bench-incidents")
	}
	n := *benchN
	reps := benchReports(n)
	b.ResetTimer()
	for range b.N {
		s := incident.NewSet(incident.Rule{}, nil)
		start := time.Now()
		batch := make([]read.Report, 0, 10_000)
		for i := range reps {
			batch = append(batch, readOf(&reps[i]))
			if len(batch) == cap(batch) || i == len(reps)-1 {
				s.Apply(nil, batch)
				batch = batch[:0]
			}
		}
		took := time.Since(start)
		incs := s.Incidents()
		multi, largest := 0, 0
		for _, inc := range incs {
			if len(inc.Partners) > 1 {
				multi++
			}
			largest = max(largest, len(inc.Members))
		}
		b.ReportMetric(float64(n)/took.Seconds(), "reports/s")
		fmt.Printf("in memory: %d reports in %v (%.0f reports/s): %d incidents, %d corroborated, the largest of %d reports\n",
			n, took.Round(time.Millisecond), float64(n)/took.Seconds(), len(incs), multi, largest)
	}
	b.StopTimer()

	ctx := context.Background()
	store := chtest.Open(b, chtest.New(b), storage.Options{})
	start := time.Now()
	src := storage.Source{Cluster: "bench", Topic: "reports"}
	var off int64
	write := func(rs []report.Report) {
		rows := make([]storage.Row, len(rs))
		for i := range rs {
			rows[i] = rowOf(&rs[i])
		}
		for len(rows) > 0 {
			k := min(len(rows), 50_000)
			sp := storage.Span{Source: src, First: off, Last: off + int64(k) - 1}
			off += int64(k)
			if _, err := store.WriteBatch(ctx, storage.Batch{Span: sp, Rows: rows[:k]}); err != nil {
				b.Fatal(err)
			}
			rows = rows[k:]
		}
	}
	write(reps)
	fmt.Printf("ClickHouse: %d reports written in %v\n", n, time.Since(start).Round(time.Millisecond))
	var (
		mu     sync.Mutex
		last   incident.Pass
		passes []incident.Pass
	)
	lastPass := func() incident.Pass { mu.Lock(); defer mu.Unlock(); return last }
	r, err := incident.New(incident.Options{Store: store, Pass: func(p incident.Pass) {
		mu.Lock()
		last, passes = p, append(passes, p)
		mu.Unlock()
	}})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Step(ctx); err != nil {
		b.Fatal(err)
	}
	full := lastPass()
	fmt.Printf("full pass: %d reports, %d incidents written in %v (%.0f reports/s)\n", full.Reports, full.Put, full.Took.Round(time.Millisecond),
		float64(full.Reports)/full.Took.Seconds())
	// Where the pass's time goes: its read alone, and its resolution alone.
	t0 := time.Now()
	ch, err := store.ChangedReports(ctx, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	readTook := time.Since(t0)
	t0 = time.Now()
	incident.NewSet(incident.Rule{}, nil).Apply(nil, ch.Current)
	fmt.Printf("  of which: reading the %d current reports %v, resolving them in one Apply %v\n", len(ch.Current),
		readTook.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	more := benchReports(n + 60_000)[n:]
	var lat []time.Duration
	var changed int
	for i := 0; i < 60; i++ {
		t0 := time.Now()
		write(more[i*1000 : (i+1)*1000])
		if err := r.Step(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		changed += lastPass().Changed
	}
	fmt.Printf("incremental: 60 batches of 1,000 new reports, each written then placed in p50 %v, p95 %v, max %v (the pass re-reads %d keys on average, Overlap %v)\n",
		pct(lat, 0.5).Round(time.Millisecond), pct(lat, 0.95).Round(time.Millisecond), pct(lat, 1).Round(time.Millisecond),
		changed/60, incident.DefaultOverlap)
	mu.Lock()
	passes = nil
	mu.Unlock()
	sustained(ctx, b, r, lastPass, write, benchReports(n + 60_000 + *benchFresh)[n+60_000:])
	mu.Lock()
	defer mu.Unlock()
	for _, p := range passes {
		fmt.Printf("  pass: %v, %d keys read, %d skipped, %d incidents written, %d deleted, %d cells\n",
			p.Took.Round(time.Millisecond), p.Changed, p.Skipped, p.Put, p.Del, p.Cells)
	}
}

// sustained writes fresh (new reports) while r runs, and reports how soon
// r holds them all.
func sustained(ctx context.Context, b *testing.B, r *incident.Resolver, lastPass func() incident.Pass, write func([]report.Report), fresh []report.Report) {
	want := lastPass().Reports + len(fresh)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- r.Run(runCtx) }()
	t0 := time.Now()
	write(fresh)
	wrote := time.Since(t0)
	for lastPass().Reports < want {
		if time.Since(t0) > 10*time.Minute {
			b.Fatalf("sustained: %d of %d reports held after 10 minutes", lastPass().Reports, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	placed := time.Since(t0)
	stop()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	n := float64(len(fresh))
	fmt.Printf("sustained: %d new reports written in %v (%.0f reports/s) with the resolver running; all placed %v after the first write (%.0f reports/s), %v after the last\n",
		len(fresh), wrote.Round(time.Millisecond), n/wrote.Seconds(), placed.Round(time.Millisecond), n/placed.Seconds(), (placed - wrote).Round(time.Millisecond))
}
