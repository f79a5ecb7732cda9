package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chserver"
	"github.com/trucewatch/trucewatch/storage/read"
	"github.com/trucewatch/trucewatch/violation"
)

// The load benchmark (make bench-serve) is off unless -load is given: it
// seeds millions of reports and runs for minutes, which CI must not do.
var (
	loadOn       = flag.Bool("load", false, "run BenchmarkServeLoad (seeds -load.reports reports, then drives the tile endpoints)")
	loadDir      = flag.String("load.dir", "", "ClickHouse data directory, kept between runs so the data is seeded once (default: a temporary directory)")
	loadReports  = flag.Int("load.reports", 10_000_000, "reports to seed")
	loadDuration = flag.Duration("load.duration", 30*time.Second, "how long the clients drive the server")
	loadWarmup   = flag.Duration("load.warmup", 30*time.Second, "how long the same clients drive the server before the measured run, from cold caches (reported apart; 0: none)")
	loadClients  = flag.Int("load.clients", 32, "concurrent clients")
	loadConns    = flag.Int("load.conns", storage.DefaultMaxOpenConns, "ClickHouse connections of the server (serve's default unless set)")
	loadBulk     = flag.Int("load.bulk", serve.DefaultBulkQueries, "bulk queries the server runs at once (serve.Options.BulkQueries)")
	loadBaseline = flag.Duration("load.baseline", 10*time.Second, "how long to drive the raw GROUP BY baseline")
	loadFresh    = flag.Duration("load.freshness", 20*time.Second, "how long to measure freshness while ~10,000 reports/s are ingested through Kafka (0: skip)")
	loadShared   = flag.Float64("load.shared", 0.5, "fraction of sessions that start at the default view (the latest 60 days); the others start at a random Monday")
)

const loadDB = "bench"

// BenchmarkServeLoad seeds reports through the real write path (synthetic
// feed, zone matching, violation rules, Store.WriteBatch), then drives the
// API with concurrent clients panning and zooming over Syria and moving a
// 60-day time slider, and prints latency percentiles per endpoint. It then
// drives a plain GROUP BY over the raw table (no tile key) for the same
// tiles, as the baseline.
func BenchmarkServeLoad(b *testing.B) {
	if !*loadOn {
		b.Skip("the load benchmark runs only with -load (make bench-serve)")
	}
	ctx := context.Background()
	store, admin, sets := loadData(b, *loadConns)
	tableSizes(b, store)

	reg := prometheus.NewRegistry()
	s, err := serve.New(serve.Options{Store: store, Admin: admin, ZoneSets: sets, Registry: reg, BulkQueries: *loadBulk})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *loadClients, DisableCompression: true}}

	fmt.Printf("\n%d clients for %s over %s (2017 data, 60-day windows on a time slider snapped to weeks, %.0f%% of sessions at the default window):\n",
		*loadClients, *loadDuration, hs.URL, 100**loadShared)
	// Warm the geometry cache as a running server would be.
	get := func(u string) error {
		req, _ := http.NewRequest("GET", hs.URL+u, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %s", u, resp.Status)
		}
		return nil
	}
	if err := get("/v1/admin/adm3.geojson?zoom=6&from=2017-01-01&to=2017-03-02"); err != nil {
		b.Fatal(err)
	}
	user := func(rng *rand.Rand, req func(label string, fn func() error)) {
		session(rng, func(label, u string) { req(label, func() error { return get(u) }) })
	}
	if *loadWarmup > 0 {
		// A server that has been up a while holds the recent weeks' cells;
		// the first seconds after a start do not (reported apart).
		drive(b, *loadClients, *loadWarmup, user).print("warm-up from cold caches (not the measured run)", *loadWarmup)
	}
	rec := drive(b, *loadClients, *loadDuration, user)
	rec.print("API (HTTP, gzip)", *loadDuration)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	inUse := ms.HeapInuse
	runtime.GC()
	runtime.ReadMemStats(&ms)
	fmt.Printf("Go heap in use after the run (server and clients): %.0f MB, %.0f MB live after a GC\n",
		float64(inUse)/(1<<20), float64(ms.HeapAlloc)/(1<<20))
	if mfs, err := reg.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "trucewatch_serve_query_duration_seconds" {
				for _, m := range mf.GetMetric() {
					h := m.GetHistogram()
					var labels []string
					for _, l := range m.GetLabel() {
						labels = append(labels, l.GetValue())
					}
					fmt.Printf("ClickHouse %-28s %6d queries, %7.1f s in all, mean %6.1f ms\n", strings.Join(labels, " "),
						h.GetSampleCount(), h.GetSampleSum(), 1000*h.GetSampleSum()/float64(max(1, h.GetSampleCount())))
				}
			}
			if n := mf.GetName(); n == "trucewatch_serve_cached_cells" || n == "trucewatch_serve_cached_area_totals" {
				fmt.Printf("%s: %.0f\n", n, mf.GetMetric()[0].GetGauge().GetValue())
			}
			if mf.GetName() != "trucewatch_serve_cache_requests_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				fmt.Printf("cache %s: %.0f\n", m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
			}
		}
	}

	// Baseline: the same tiles by a plain GROUP BY over the raw reports,
	// filtered by coordinates and time, cells computed from lon/lat.
	conn := store.Conn()
	base := drive(b, *loadClients, *loadBaseline, func(rng *rand.Rand, req func(label string, fn func() error)) {
		session(rng, func(label, u string) {
			if !strings.HasPrefix(label, "tile") || strings.HasSuffix(label, "geojson") {
				return
			}
			var z, x, y int
			var from, to string
			fmt.Sscanf(u, "/v1/tiles/%d/%d/%d.mvt?from=%10s&to=%10s", &z, &x, &y, &from, &to)
			bd := tileBound(z, x, y)
			cz := float64(int(1) << (z + serve.GridBits))
			req(strings.Replace(label, "tile", "baseline", 1), func() error {
				rows, err := conn.Query(ctx, `SELECT floor((lon + 180) / 360 * ?) AS cx,
    floor((0.5 - log((1 + sin(lat * pi() / 180)) / (1 - sin(lat * pi() / 180))) / (4 * pi())) * ?) AS cy,
    sum(sign), sum(sign * killed), sum(sign * injured), sum(sign * violation)
FROM bench.reports
WHERE lon >= ? AND lon < ? AND lat >= ? AND lat < ? AND observed_at >= toDateTime(?) AND observed_at < toDateTime(?)
GROUP BY cx, cy`, cz, cz, bd.Min[0], bd.Max[0], bd.Min[1], bd.Max[1], from+" 00:00:00", to+" 00:00:00")
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
				}
				return rows.Err()
			})
		})
	})
	base.print("baseline: plain GROUP BY over raw reports, no tile key (ClickHouse only, no HTTP)", *loadBaseline)
	if *loadFresh > 0 {
		freshness(b, store, admin, sets, *loadFresh)
	}
}

// freshness runs the pipeline (in-process Kafka broker, ingest worker
// writing to the benchmark database) while a producer publishes about
// 10,000 reports/s, and once a second publishes a marker report; it then
// polls the marker's tile and zone series (server without response cache:
// the cache adds at most its max-age) until the marker is counted.
func freshness(b *testing.B, store *storage.Store, admin *geo.Admin, sets []*geo.ZoneSet, d time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br, err := broker.Start(broker.Options{Topics: []string{ingest.DefaultTopic, ingest.DefaultDLQTopic}})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	m, err := geo.NewMatcher(admin, sets...)
	if err != nil {
		b.Fatal(err)
	}
	in, err := ingest.New(ingest.Options{Brokers: br.Addrs()}, m, violation.DefaultRules(), store)
	if err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.Go(func() error { return in.Run(ctx) })
	pub := publish.New(publish.Options{Brokers: br.Addrs(), Topic: ingest.DefaultTopic})
	defer pub.Close()

	s, err := serve.New(serve.Options{Store: store, Admin: admin, ZoneSets: sets, CacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	// Markers: in the desert south-east of Damascus, observed in one hour
	// of June 2017; the background feed is observed in December 2019, away
	// from the 2017 windows the load phase reads, so that runs do not grow
	// them.
	const mlon, mlat = 37.9, 33.0
	tl := read.TileOf(mlon, mlat, 14)
	tileURL := fmt.Sprintf("%s/v1/tiles/14/%d/%d.geojson?from=2017-06-15&to=2017-06-16", hs.URL, tl.X, tl.Y)
	seriesURL := hs.URL + "/v1/zones/nationwide-2016/series?bucket=hour&from=2017-06-15T10:00:00Z&to=2017-06-15T11:00:00Z"
	count := func(u string) int64 {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %s %s", u, resp.Status, body)
		}
		var v struct {
			Features []struct{ Properties struct{ Reports int64 } }
			Points   []struct{ Reports int64 }
		}
		json.Unmarshal(body, &v)
		var n int64
		for _, f := range v.Features {
			n += f.Properties.Reports
		}
		for _, p := range v.Points {
			n += p.Reports
		}
		return n
	}
	tileBase, zoneBase := count(tileURL), count(seriesURL)

	// Background: ~10,000 reports/s.
	g.Go(func() error {
		feed := synth.New(synth.Options{Seed: 77, IDPrefix: fmt.Sprintf("fresh%d", time.Now().Unix()),
			From: time.Date(2019, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2019, 12, 31, 0, 0, 0, 0, time.UTC)})
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			msgs := make([]publish.Message, 1000)
			for i := range msgs {
				mm := feed.Next()
				msgs[i] = publish.Message{Key: mm.Key, Value: mm.Value}
			}
			if err := pub.Write(ctx, msgs...); err != nil && ctx.Err() == nil {
				return err
			}
		}
	})
	time.Sleep(3 * time.Second) // let the consumer group settle
	var tileLat, zoneLat []time.Duration
	deadline := time.Now().Add(d)
	for i := int64(1); time.Now().Before(deadline); i++ {
		r := report.Report{ID: fmt.Sprintf("marker-%d-%d", time.Now().Unix(), i), PartnerID: "bench-marker", Revision: 1,
			ObservedAt: time.Date(2017, 6, 15, 10, 30, 0, 0, time.UTC), Lat: mlat, Lon: mlon, AccuracyM: 50,
			Category: report.Shelling, Perpetrator: report.Actor{Name: "Syrian Arab Army", Side: report.Government}}
		msg := synth.Encode(r)
		t0 := time.Now()
		if err := pub.Write(ctx, publish.Message{Key: msg.Key, Value: msg.Value}); err != nil {
			b.Fatal(err)
		}
		var tileAt, zoneAt time.Duration
		for tileAt == 0 || zoneAt == 0 {
			if time.Since(t0) > 60*time.Second {
				b.Fatalf("marker %d not visible after 60 s", i)
			}
			if tileAt == 0 && count(tileURL) >= tileBase+i {
				tileAt = time.Since(t0)
			}
			if zoneAt == 0 && count(seriesURL) >= zoneBase+i {
				zoneAt = time.Since(t0)
			}
			time.Sleep(20 * time.Millisecond)
		}
		tileLat, zoneLat = append(tileLat, tileAt), append(zoneLat, zoneAt)
	}
	st := in.Stats()
	cancel()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		b.Fatal(err)
	}
	fmt.Printf("\nfreshness: %d reports consumed, %d written in %s (%.0f/s) by one ingest worker (batch %d, wait %s)\n",
		st.Consumed, st.Written, d+3*time.Second, float64(st.Written)/(d+3*time.Second).Seconds(), ingest.DefaultBatchSize, ingest.DefaultBatchWait)
	pct := func(ls []time.Duration, p float64) time.Duration {
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		return ls[int(p*float64(len(ls)-1))].Round(time.Millisecond)
	}
	fmt.Printf("freshness: produce (acks=all) -> visible in its z14 tile:    p50 %s  p95 %s  max %s  (%d markers)\n",
		pct(tileLat, .5), pct(tileLat, .95), pct(tileLat, 1), len(tileLat))
	fmt.Printf("freshness: produce (acks=all) -> visible in its zone series: p50 %s  p95 %s  max %s\n",
		pct(zoneLat, .5), pct(zoneLat, .95), pct(zoneLat, 1))
	fmt.Printf("freshness: plus at most the response cache max-age (tiles %s, choropleths and series 60s) behind a cache\n", serve.DefaultTileMaxAge)
}

func tileBound(z, x, y int) orb.Bound {
	n := math.Exp2(float64(z))
	lon := func(x float64) float64 { return x/n*360 - 180 }
	lat := func(y float64) float64 { return math.Atan(math.Sinh(math.Pi*(1-2*y/n))) * 180 / math.Pi }
	return orb.Bound{Min: orb.Point{lon(float64(x)), lat(float64(y + 1))}, Max: orb.Point{lon(float64(x + 1)), lat(float64(y))}}
}

// Where users look: the hotspots of the feed.
var views = []struct{ lon, lat float64 }{
	{36.40, 33.55}, {36.22, 33.45}, {36.63, 35.93}, {37.15, 36.20}, {36.10, 32.62},
	{36.72, 34.88}, {36.65, 35.35}, {40.14, 35.33}, {39.01, 35.95},
}

// session is one user: the whole country at zoom 6, zoom in to a hotspot
// down to 14, pan around, zoom back out, and move the 60-day time slider
// (which also redraws the adm3 choropleth); at zoom 14 and 12 it opens
// the drill-down of one day in the view (/v1/reports).
func session(rng *rand.Rand, get func(label, u string)) {
	// The slider snaps to weeks (Mondays); some users keep the default
	// window, the latest 60 days, the others pick any week of 2017.
	start := time.Date(2017, 1, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*rng.IntN(43))
	if rng.Float64() < *loadShared {
		start = time.Date(2017, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	win := func() string {
		return fmt.Sprintf("from=%s&to=%s", start.Format("2006-01-02"), start.AddDate(0, 0, 60).Format("2006-01-02"))
	}
	format := "mvt"
	if rng.IntN(4) == 0 {
		format = "geojson"
	}
	viewport := func(lon, lat float64, z int) {
		// A 1280x800 map: the tiles it shows.
		n := math.Exp2(float64(z))
		cx := (lon + 180) / 360 * n
		s := math.Sin(lat * math.Pi / 180)
		cy := (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n
		for ty := int(cy - 800/512.0); ty <= int(cy+800/512.0); ty++ {
			for tx := int(cx - 1280/512.0); tx <= int(cx+1280/512.0); tx++ {
				if tx < 0 || ty < 0 || float64(tx) >= n || float64(ty) >= n {
					continue
				}
				band := "z6-9"
				if z >= 10 {
					band = "z10-14"
				}
				get(fmt.Sprintf("tile %s %s", band, format), fmt.Sprintf("/v1/tiles/%d/%d/%d.%s?%s", z, tx, ty, format, win()))
			}
		}
	}
	choropleth := func() { get("adm3 zoom6 60d", "/v1/admin/adm3.geojson?zoom=6&"+win()) }
	choropleth()
	viewport(38.5, 35.0, 6)
	v := views[rng.IntN(len(views))]
	lon, lat := 38.5, 35.0
	for z := 7; z <= 14; z++ {
		lon += (v.lon - lon) / 2
		lat += (v.lat - lat) / 2
		viewport(lon, lat, z)
	}
	// The drill-down behind a click: one day's reports in the view.
	drill := func(lon, lat float64, z int) {
		w := 1280 / 256 / math.Exp2(float64(z)) * 360 / 2
		h := w * 800 / 1280 * math.Cos(lat*math.Pi/180)
		day := start.AddDate(0, 0, rng.IntN(60))
		get("reports 1d bbox", fmt.Sprintf("/v1/reports?bbox=%.5f,%.5f,%.5f,%.5f&from=%s&to=%s&limit=100",
			lon-w, lat-h, lon+w, lat+h, day.Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02")))
	}
	for i := 0; i < 3; i++ {
		step := 1280 / 256 / math.Exp2(14) * 360 / 2
		lon += (rng.Float64() - 0.5) * step
		lat += (rng.Float64() - 0.5) * step
		viewport(lon, lat, 14)
		drill(lon, lat, 14)
	}
	drill(lon, lat, 12)
	for i := 0; i < 3; i++ { // the time slider, a week back
		start = start.AddDate(0, 0, -7)
		choropleth()
		viewport(lon, lat, 12)
	}
	for z := 11; z >= 6; z -= 2 {
		viewport(lon, lat, z)
	}
}

// recorder collects latencies per label.
type recorder struct {
	mu   sync.Mutex
	lat  map[string][]time.Duration
	errs map[string]int
	last map[string]string
}

func drive(b *testing.B, clients int, d time.Duration, user func(*rand.Rand, func(string, func() error))) *recorder {
	rec := &recorder{lat: map[string][]time.Duration{}, errs: map[string]int{}, last: map[string]string{}}
	deadline := time.Now().Add(d)
	var g errgroup.Group
	for c := 0; c < clients; c++ {
		rng := rand.New(rand.NewPCG(uint64(c), 99))
		g.Go(func() error {
			for time.Now().Before(deadline) {
				user(rng, func(label string, fn func() error) {
					if time.Now().After(deadline) {
						return
					}
					t0 := time.Now()
					err := fn()
					el := time.Since(t0)
					rec.mu.Lock()
					if err != nil {
						rec.errs[label]++
						rec.last[label] = err.Error()
					} else {
						rec.lat[label] = append(rec.lat[label], el)
					}
					rec.mu.Unlock()
				})
			}
			return nil
		})
	}
	g.Wait()
	return rec
}

func (r *recorder) print(title string, d time.Duration) {
	fmt.Printf("\n%s\n%-26s %8s %9s %9s %9s %9s %7s\n", title, "endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
	var labels []string
	for l := range r.lat {
		labels = append(labels, l)
	}
	for l := range r.errs {
		if _, ok := r.lat[l]; !ok {
			labels = append(labels, l)
		}
	}
	sort.Strings(labels)
	total := 0
	for _, l := range labels {
		ls := r.lat[l]
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		q := func(p float64) float64 {
			if len(ls) == 0 {
				return math.NaN()
			}
			return float64(ls[int(p*float64(len(ls)-1))].Microseconds()) / 1000
		}
		total += len(ls)
		fmt.Printf("%-26s %8d %9.1f %9.1f %9.1f %9.1f %7d\n", l, len(ls), float64(len(ls))/d.Seconds(), q(.5), q(.95), q(.99), r.errs[l])
		if r.errs[l] > 0 {
			fmt.Printf("    last error: %s\n", r.last[l])
		}
	}
	fmt.Printf("%-26s %8d %9.1f\n", "all", total, float64(total)/d.Seconds())
}

// seedLoad writes reports until the database holds n: two generators
// (synthetic feed + zone matching + violation rules, as ingest does) feed
// two writers, each on its own partition, in batches of
// storage.MaxBatchRows.
func seedLoad(b *testing.B, store *storage.Store, admin *geo.Admin, sets []*geo.ZoneSet, n int) {
	ctx := context.Background()
	var have uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM "+loadDB+".reports WHERE sign = 1").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if int(have) >= n {
		fmt.Printf("seed: %d reports already stored\n", have)
		return
	}
	const workers = 2
	batch := storage.MaxBatchRows
	todo := n - int(have)
	start := time.Now()
	fmt.Printf("seed: writing %d reports (have %d) through Store.WriteBatch, %d rows per batch\n", todo, have, batch)
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	done := 0
	for w := 0; w < workers; w++ {
		src := storage.Source{Cluster: "bench", Topic: "reports", Partition: w}
		count := todo / workers
		if w == 0 {
			count += todo % workers
		}
		batches := make(chan []storage.Row, 1)
		g.Go(func() error { // generate
			defer close(batches)
			m, err := geo.NewMatcher(admin, sets...)
			if err != nil {
				return err
			}
			e := enrich.New(m, violation.DefaultRules())
			// Like the real feed, reports arrive roughly in the order they
			// were observed: batch k holds reports of the k-th slice of
			// 2017, so one Kafka span covers a few days, not the year.
			year := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
			slice := 365 * 24 * time.Hour / time.Duration((count+batch-1)/batch)
			for i, k := 0, 0; i < count; k++ {
				n := min(batch, count-i)
				from := year.Add(time.Duration(k) * slice)
				feed := synth.New(synth.Options{Seed: uint64(1000*w+k) + have, From: from, To: from.Add(slice)})
				rows := make([]storage.Row, n)
				for j := range rows {
					r := feed.Report()
					r.ID = fmt.Sprintf("b%d-%d-%09d", have, w, i+j)
					rows[j] = e.Row(&r, from.Add(slice))
				}
				i += n
				select {
				case batches <- rows:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
		g.Go(func() error { // write
			pos, err := store.Resume(gctx, src)
			if err != nil {
				return err
			}
			off := max(pos.Next, 0)
			for rows := range batches {
				sp := storage.Span{Source: src, First: off, Last: off + int64(len(rows)) - 1}
				if _, err := store.WriteBatch(gctx, storage.Batch{Span: sp, Rows: rows}); err != nil {
					return err
				}
				off += int64(len(rows))
				mu.Lock()
				done += len(rows)
				if done%(10*batch) < len(rows) {
					el := time.Since(start)
					fmt.Printf("seed: %d/%d in %s (%.0f reports/s)\n", done, todo, el.Round(time.Second), float64(done)/el.Seconds())
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	fmt.Printf("seed: %d reports in %s (%.0f reports/s)\n", todo, el.Round(time.Second), float64(todo)/el.Seconds())
	// Let the background merges settle, as on a server that has been
	// running: OPTIMIZE the aggregates (FINAL is cheaper on merged parts).
	t0 := time.Now()
	for _, tb := range []string{"counts_tile_day", "counts_adm_day", "counts_zone_hour"} {
		if err := store.Conn().Exec(ctx, "OPTIMIZE TABLE "+loadDB+"."+tb+" FINAL"); err != nil {
			fmt.Fprintf(os.Stderr, "optimize %s: %v\n", tb, err)
		}
	}
	fmt.Printf("seed: OPTIMIZE ... FINAL of the aggregates took %s\n", time.Since(t0).Round(time.Second))
}

func tableSizes(b *testing.B, store *storage.Store) {
	rows, err := store.Conn().Query(context.Background(), `SELECT table, sum(rows), sum(bytes), count()
FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY table`, loadDB)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var n, by, parts uint64
		rows.Scan(&t, &n, &by, &parts)
		fmt.Printf("table %-18s %11d rows %8.1f MB %4d parts\n", t, n, float64(by)/1e6, parts)
	}
}

// loadData is the bench-serve data set: its own ClickHouse under
// -load.dir, the schema, and the 10 million reports, seeded once. Closed
// when b ends.
func loadData(b *testing.B, conns int) (*storage.Store, *geo.Admin, []*geo.ZoneSet) {
	b.Helper()
	ctx := context.Background()
	dir := *loadDir
	if dir == "" {
		dir = b.TempDir()
	}
	ch, err := chserver.Launch(ctx, dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ch.Close() })
	store, err := storage.Open(ctx, storage.Options{Addr: ch.Addr(), Database: loadDB, MaxOpenConns: conns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	admin, sets, _ := matcher(b)
	seedLoad(b, store, admin, sets, *loadReports)
	return store, admin, sets
}
