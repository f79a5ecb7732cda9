package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/serve"
)

// timings records the server's answer time of every request by route.
type timings struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

func (tm *timings) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		route := r.URL.Path
		switch {
		case strings.HasPrefix(route, "/v1/tiles/"):
			route = "tile .mvt"
		case strings.HasPrefix(route, "/v1/admin/"):
			route = "admin " + strings.TrimSuffix(strings.TrimPrefix(route, "/v1/admin/"), ".geojson")
		case strings.HasPrefix(route, "/map/"), route == "/":
			route = "page files"
		}
		tm.mu.Lock()
		tm.d[route] = append(tm.d[route], time.Since(start))
		tm.mu.Unlock()
	})
}

// mark is how many requests of each route are recorded so far.
func (tm *timings) mark() map[string]int {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	m := map[string]int{}
	for r, ds := range tm.d {
		m[r] = len(ds)
	}
	return m
}

// since sums up the requests recorded after mark: per route, how many and the slowest.
func (tm *timings) since(mark map[string]int) string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var out []string
	for r, ds := range tm.d {
		if ds = ds[mark[r]:]; len(ds) > 0 {
			out = append(out, fmt.Sprintf("%s %dx slowest %s", r, len(ds), slices.Max(ds).Round(time.Millisecond)))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

func (tm *timings) print() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var routes []string
	for r := range tm.d {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		ds := slices.Clone(tm.d[r])
		slices.Sort(ds)
		q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		fmt.Printf("  API %-22s %6d requests  p50 %8s  p99 %8s\n", r, len(ds), q(.5).Round(100*time.Microsecond), q(.99).Round(100*time.Microsecond))
	}
}

// BenchmarkMapPage (make bench-serve's data set, with -load) opens the map
// page in headless Chromium over the 10 million reports: the first full
// render (navigation to map idle, every layer, cold server caches), the
// same warm, then window changes (the slider one week back); and prints
// them beside the API's p50/p99 of the requests the page made.
func BenchmarkMapPage(b *testing.B) {
	if !*loadOn {
		b.Skip("runs only with -load (the bench-serve data set)")
	}
	store, admin, sets := loadData(b, 0)
	s, err := serve.New(serve.Options{Store: store, Admin: admin, ZoneSets: sets})
	if err != nil {
		b.Fatal(err)
	}
	tm := &timings{d: map[string][]time.Duration{}}
	hs := httptest.NewServer(tm.wrap(s))
	defer hs.Close()
	br := newBrowser(b)

	// Times are the page's own: from navigation start (or the slider's
	// event) to the first moment of the idle stretch that idle waits for.
	show := func(label string, ms float64) time.Duration {
		d := time.Duration(ms * float64(time.Millisecond))
		fmt.Printf("  %-62s %8s\n", label, d.Round(time.Millisecond))
		return d
	}
	fmt.Printf("\nmap page over %d reports (%s), 1200x800, software WebGL:\n", *loadReports, hs.URL)
	br.load(b, hs.URL+"/#live=0")
	show("first full render, cold server caches (navigation to map idle)", eval[float64](b, br, `window.__idleSince`))
	br.load(b, hs.URL+"/#live=0")
	show("full render again, warm caches (navigation to map idle)", eval[float64](b, br, `window.__idleSince`))
	var changes []time.Duration
	for i := 0; i < 6; i++ {
		mark := tm.mark()
		eval[bool](b, br, `(() => { window.__t0 = performance.now(); window.__idleSince = 0;
			const r = document.getElementById('t-end'); r.value = String(Number(r.value) - 7);
			r.dispatchEvent(new Event('input')); return true; })()`)
		br.idle(b)
		changes = append(changes, show(fmt.Sprintf("window change %d (slider a week back) re-rendered", i+1),
			eval[float64](b, br, `window.__idleSince - window.__t0`)))
		// Where it went: the browser's network timing of the requests the change made.
		fmt.Printf("    network: %s\n", eval[string](b, br, `(() => {
			const by = {};
			for (const e of performance.getEntriesByType('resource')) {
				if (e.startTime < window.__t0) continue;
				const k = e.name.includes('/v1/tiles/') ? 'tiles' : new URL(e.name).pathname;
				const g = (by[k] ??= { n: 0, start: Infinity, end: 0, wait: 0, kb: 0 });
				g.n++; g.start = Math.min(g.start, e.startTime - window.__t0); g.end = Math.max(g.end, e.responseEnd - window.__t0);
				g.wait = Math.max(g.wait, e.responseStart - e.requestStart); g.kb += e.encodedBodySize / 1024;
			}
			return Object.entries(by).map(([k, g]) => k + ' ' + g.n + 'x ' + g.start.toFixed(0) + '-' + g.end.toFixed(0) + ' ms (slowest wait ' +
				g.wait.toFixed(0) + ' ms, ' + g.kb.toFixed(0) + ' kB)').join('; ');
		})()`))
		fmt.Printf("    server: %s\n", tm.since(mark))
	}
	slices.Sort(changes)
	fmt.Printf("  window change: median %s, max %s\n", changes[len(changes)/2].Round(time.Millisecond), changes[len(changes)-1].Round(time.Millisecond))
	tm.print()
	if resp, err := http.Get(hs.URL + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "trucewatch_serve_cache_requests_total{") {
				fmt.Printf("  %s\n", l)
			}
		}
	}
	br.check(b, hs.URL)
}
