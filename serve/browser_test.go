package serve_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/paulmach/orb/maptile"

	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// browser is a headless Chromium on a fresh profile with software WebGL,
// and what its page did: every request, every console message of level
// warning or error, every uncaught exception.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	requests []string
	problems []string
}

// browserFixture is the seeded fixture for a browser test, which -short
// skips.
func browserFixture(t *testing.T) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test")
	}
	return newFixture(t)
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (make deps installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.DisableGPU, // software WebGL: --disable-gpu --enable-unsafe-swiftshader
		chromedp.NoSandbox,  // the tests run as root
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.event))
	t.Cleanup(func() { cancel(); cancelA() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.ctx = ctx
	return b
}

func (b *browser) event(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+msg)
	case *cdplog.EventEntryAdded:
		// SwiftShader's own performance notes ("GL Driver Message ... GPU
		// stall due to ReadPixels") are the software renderer's, not ours.
		if strings.Contains(ev.Entry.Text, "GL Driver Message") && ev.Entry.Level == cdplog.EntryLevelWarning {
			return
		}
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// check fails t for every console problem and for every request that did
// not go to origin (data: and blob: URLs stay in the page).
func (b *browser) check(t testing.TB, origin string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("page: %s", p)
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, origin+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("a request left the test server: %s", u)
		}
	}
	if len(b.requests) == 0 {
		t.Error("no request seen")
	}
	b.problems = nil
}

// run runs a with a deadline.
func run[T any](t testing.TB, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// load opens u in the tab and waits until the map is idle.
func (b *browser) load(t testing.TB, u string) {
	t.Helper()
	run(t, b, chromedp.Navigate("about:blank"))
	run(t, b, chromedp.Navigate(u))
	b.idle(t)
}

// idle waits until the page's hook says idle for 300 ms in a row: no
// fetch of ours in flight, every tile loaded, the map not moving.
func (b *browser) idle(t testing.TB) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](`(() => {
		if (document.body.dataset.failed) throw new Error(document.body.dataset.failed);
		const tw = window.trucewatch;
		if (!tw || !tw.idle()) { window.__idleSince = 0; return false; }
		window.__idleSince ||= performance.now();
		return performance.now() - window.__idleSince > 300;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("map never became idle: %v", err)
	}
}

func eval[T any](t testing.TB, b *browser, js string) T {
	t.Helper()
	return run(t, b, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// renderedCell is a grid cell as the page drew it.
type renderedCell struct {
	Cell                                 string
	Reports, Violations, Killed, Injured int64
}

type renderedArea struct {
	Pcode, ID string
	Value     int64
	Reports   int64
	Killed    int64
}

type pageState struct {
	Lon, Lat, Z                                   float64
	From, To, Measure, Choro, Violation, Sel, Set string
	Category, Side, Partner, Possible, Grid, Live string
}

type panelState struct {
	IDs  []string
	Done bool
}

// selection counts the current reports in [from, to) that pass keep.
func selection(f *fixture, from, to string, keep func(r *storage.Row) bool) []*storage.Row {
	fr, _ := time.Parse("2006-01-02", from)
	tt, _ := time.Parse("2006-01-02", to)
	var out []*storage.Row
	for i := range f.current {
		r := &f.current[i]
		if !r.ObservedAt.Before(fr) && r.ObservedAt.Before(tt) && keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func parseCell(t *testing.T, s string) read.Tile {
	var z, x, y uint32
	if _, err := fmt.Sscanf(s, "%d/%d/%d", &z, &x, &y); err != nil {
		t.Fatalf("cell %q: %v", s, err)
	}
	return read.Tile{Z: z, X: x, Y: y}
}

// checkCells compares every cell the page drew with the reports in it,
// counted here from the data set, and checks that every cell with reports
// inside the view was drawn.
func checkCells(t *testing.T, b *browser, f *fixture, st pageState, violationsOnly bool) []renderedCell {
	t.Helper()
	cells := eval[[]renderedCell](t, b, `window.trucewatch.rendered('cells-fill')`)
	if len(cells) < 5 {
		t.Fatalf("only %d grid cells drawn", len(cells))
	}
	drawn := map[string]bool{}
	var z uint32
	for _, c := range cells {
		tl := parseCell(t, c.Cell)
		z = tl.Z
		drawn[c.Cell] = true
		var want renderedCell
		for _, r := range selection(f, st.From, st.To, func(r *storage.Row) bool {
			return read.TileOf(r.Lon, r.Lat, tl.Z) == tl && (!violationsOnly || r.Violation) && placedAtZoom(r, tl.Z-serve.GridBits)
		}) {
			want.Reports++
			want.Killed += int64(r.Killed)
			want.Injured += int64(r.Injured)
			if definite(r) {
				want.Violations++
			}
		}
		want.Cell = c.Cell
		if c != want {
			t.Errorf("cell %s drawn as %+v, the data has %+v", c.Cell, c, want)
		}
	}
	bb := eval[[]float64](t, b, `window.trucewatch.bounds()`)
	for _, r := range selection(f, st.From, st.To, func(r *storage.Row) bool {
		return (!violationsOnly || r.Violation) && placedAtZoom(r, z-serve.GridBits)
	}) {
		// Reports well inside the view (not under the legend or the controls' margins).
		dx, dy := (bb[2]-bb[0])*0.1, (bb[3]-bb[1])*0.1
		if r.Lon > bb[0]+2*dx && r.Lon < bb[2]-dx && r.Lat > bb[1]+2*dy && r.Lat < bb[3]-dy {
			if tl := read.TileOf(r.Lon, r.Lat, z); !drawn[fmt.Sprintf("%d/%d/%d", tl.Z, tl.X, tl.Y)] {
				t.Errorf("report %s at %.4f,%.4f in the view, its cell %v not drawn", r.ReportID, r.Lon, r.Lat, tl)
			}
		}
	}
	return cells
}

// checkAdmin compares the choropleth's areas with the data set's counts.
func checkAdmin(t *testing.T, b *browser, f *fixture, st pageState, level string, measure func(r *storage.Row) int64) {
	t.Helper()
	areas := eval[[]renderedArea](t, b, `window.trucewatch.rendered('choro-fill')`)
	if len(areas) < 3 {
		t.Fatalf("only %d areas drawn", len(areas))
	}
	want := map[string]int64{}
	// The choropleth follows the page's category and violation filters,
	// and counts a report only at a level its precision places it at; the
	// legend says how many it could not place.
	lvl := map[string]int{"adm1": 1, "adm2": 2, "adm3": 3}[level]
	cats := strings.Split(st.Category, ",")
	coarse := 0
	for _, r := range selection(f, st.From, st.To, func(r *storage.Row) bool {
		return (st.Violation != "true" || r.Violation) && (st.Category == "" || slices.Contains(cats, r.Category))
	}) {
		pc := map[string]string{"adm1": r.Adm1, "adm2": r.Adm2, "adm3": r.Adm3}[level]
		if !placedAtLevel(r, lvl) {
			if pc != "" { // in an area drawn
				coarse++
			}
			continue
		}
		want[pc] += measure(r)
	}
	legend := eval[string](t, b, `document.getElementById('coarse')?.textContent ?? ''`)
	if wantText := fmt.Sprintf("%d reports too coarse", coarse); coarse > 0 && !strings.HasPrefix(legend, wantText) {
		t.Errorf("legend says %q, want %q...", legend, wantText)
	}
	nonzero := 0
	for _, a := range areas {
		if a.Value != want[a.Pcode] {
			t.Errorf("%s %s drawn with %d, the data has %d", level, a.Pcode, a.Value, want[a.Pcode])
		}
		if a.Value > 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Error("every area drawn is empty")
	}
}

// panelIDs pages through the panel (its "more" button) and returns the
// report ids it lists.
func panelIDs(t *testing.T, b *browser) []string {
	t.Helper()
	for i := 0; ; i++ {
		b.idle(t)
		p := eval[*panelState](t, b, `window.trucewatch.panel()`)
		if p == nil {
			t.Fatal("no panel open")
		}
		if p.Done {
			sort.Strings(p.IDs)
			return p.IDs
		}
		if i > 50 {
			t.Fatal("panel paging never ends")
		}
		eval[bool](t, b, `document.getElementById('panel-more').click(), true`)
	}
}

func ids(rows []*storage.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.PartnerID+"/"+r.ReportID)
	}
	sort.Strings(out)
	return out
}

// screenshot writes what the browser shows to testdata/out/name, a test
// artifact (not compared: software rendering varies between versions).
func screenshot(t *testing.T, b *browser, name string) {
	t.Helper()
	shot := run(t, b, chromedp.CaptureScreenshot())
	out := filepath.Join("testdata", "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, name), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(out, name))
}

// TestBrowserMap opens the map page in a real browser against the test
// data set and checks what MapLibre drew against counts made here.
// checkWindow checks that the page shows the window from..to and that its
// grid cells and districts hold the reports of that window.
func checkWindow(t *testing.T, b *browser, f *fixture, from, to string) pageState {
	t.Helper()
	st := eval[pageState](t, b, `window.trucewatch.state()`)
	if st.From != from || st.To != to {
		t.Fatalf("window %s..%s, want %s..%s", st.From, st.To, from, to)
	}
	checkCells(t, b, f, st, false)
	checkAdmin(t, b, f, st, "adm2", func(*storage.Row) int64 { return 1 })
	return st
}

func TestBrowserMap(t *testing.T) {
	f := browserFixture(t)
	b := newBrowser(t)
	// live=0: no redraw every 15 s under the checks.
	start := time.Now()
	b.load(t, f.http.URL+"/#live=0")
	t.Logf("first full render (navigate to idle): %v", time.Since(start).Round(time.Millisecond))
	// The data end on 2017-02-28: the page opens on the last 30 days that hold data.
	st := checkWindow(t, b, f, "2017-01-30", "2017-03-01")
	screenshot(t, b, "map.png")
	b.check(t, f.http.URL)

	t.Run("click a cell", func(t *testing.T) {
		cells := eval[[]renderedCell](t, b, `window.trucewatch.rendered('cells-fill')`)
		slices.SortFunc(cells, func(a, c renderedCell) int { return int(c.Reports - a.Reports) })
		pick := cells[0]
		tl := parseCell(t, pick.Cell)
		c := maptile.New(tl.X, tl.Y, maptile.Zoom(tl.Z)).Bound().Center()
		pt := eval[struct{ X, Y float64 }](t, b, fmt.Sprintf(`window.trucewatch.project(%f, %f)`, c.Lon(), c.Lat()))
		run(t, b, chromedp.MouseClickXY(pt.X, pt.Y))
		got := panelIDs(t, b)
		want := ids(selection(f, st.From, st.To, func(r *storage.Row) bool { return read.TileOf(r.Lon, r.Lat, tl.Z) == tl }))
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("panel of cell %s lists %d reports, the cell holds %d\n got %v\nwant %v", pick.Cell, len(got), len(want), got, want)
		}
		if s := eval[pageState](t, b, `window.trucewatch.state()`); s.Sel != "cell:"+pick.Cell {
			t.Errorf("selection in the state: %q", s.Sel)
		}
		b.check(t, f.http.URL)
	})

	t.Run("window and filter", func(t *testing.T) {
		// The slider one week back, then violations only.
		start := time.Now()
		eval[bool](t, b, `(() => { const r = document.getElementById('t-end'); r.value = String(Number(r.value) - 7);
			r.dispatchEvent(new Event('input')); return true; })()`)
		b.idle(t)
		t.Logf("window change re-rendered in %v (300 ms of it the idle check)", time.Since(start).Round(time.Millisecond))
		st := checkWindow(t, b, f, "2017-01-23", "2017-02-22")
		eval[bool](t, b, `document.getElementById('f-viol').click(), true`)
		b.idle(t)
		st = eval[pageState](t, b, `window.trucewatch.state()`)
		if st.Violation != "true" {
			t.Fatalf("violation filter not in the state: %+v", st)
		}
		checkCells(t, b, f, st, true)
		b.check(t, f.http.URL)
	})

	t.Run("URL restores the view", func(t *testing.T) {
		cell := read.TileOf(ghoutaLon, ghoutaLat, 12)
		hash := fmt.Sprintf("#lon=36.4000&lat=33.5500&z=8.00&from=2017-02-01&to=2017-02-15&measure=killed&choro=adm1&violation=true&sel=cell:%d/%d/%d&live=0",
			cell.Z, cell.X, cell.Y)
		b.load(t, f.http.URL+"/"+hash)
		st := eval[pageState](t, b, `window.trucewatch.state()`)
		want := pageState{Lon: 36.4, Lat: 33.55, Z: 8, From: "2017-02-01", To: "2017-02-15", Measure: "killed", Choro: "adm1",
			Violation: "true", Sel: fmt.Sprintf("cell:%d/%d/%d", cell.Z, cell.X, cell.Y), Possible: "definite", Grid: "1", Live: "0"}
		if st != want {
			t.Errorf("state from the URL\n got %+v\nwant %+v", st, want)
		}
		if h := eval[string](t, b, `location.hash`); h != hash {
			t.Errorf("hash rewritten as %s, want %s", h, hash)
		}
		checkCells(t, b, f, st, true)
		checkAdmin(t, b, f, st, "adm1", func(r *storage.Row) int64 { return int64(r.Killed) })
		got := panelIDs(t, b)
		wantIDs := ids(selection(f, st.From, st.To, func(r *storage.Row) bool {
			return r.Violation && read.TileOf(r.Lon, r.Lat, cell.Z) == cell
		}))
		if !slices.Equal(got, wantIDs) {
			t.Errorf("panel from the URL lists %v, want %v", got, wantIDs)
		}
		screenshot(t, b, "map-panel.png")
		b.check(t, f.http.URL)
	})
}

// TestBrowserMapReports: from zoom 11 the map draws the reports
// themselves.
func TestBrowserMapReports(t *testing.T) {
	f := browserFixture(t)
	b := newBrowser(t)
	b.load(t, f.http.URL+"/#lon=36.3500&lat=33.5300&z=12.00&from=2017-01-01&to=2017-03-01&live=0")
	st := eval[pageState](t, b, `window.trucewatch.state()`)
	type dot struct{ ID, Partner_ID string }
	dots := eval[[]dot](t, b, `window.trucewatch.rendered('reports-dot')`)
	drawn := map[string]bool{}
	for _, d := range dots {
		drawn[d.Partner_ID+"/"+d.ID] = true
	}
	bb := eval[[]float64](t, b, `window.trucewatch.bounds()`)
	dx, dy := (bb[2]-bb[0])*0.05, (bb[3]-bb[1])*0.05
	inside := selection(f, st.From, st.To, func(r *storage.Row) bool {
		return r.Lon > bb[0]+dx && r.Lon < bb[2]-dx && r.Lat > bb[1]+dy && r.Lat < bb[3]-dy
	})
	if len(inside) == 0 {
		t.Fatal("no report in the view; move the test's view")
	}
	for _, r := range inside {
		if !drawn[r.PartnerID+"/"+r.ReportID] {
			t.Errorf("report %s/%s in the view not drawn", r.PartnerID, r.ReportID)
		}
	}
	t.Logf("%d reports drawn, %d well inside the view", len(dots), len(inside))
	b.check(t, f.http.URL)
}

// TestBrowserMapArea: an admin area's panel (from the URL) lists exactly
// the reports placed in it.
func TestBrowserMapArea(t *testing.T) {
	f := browserFixture(t)
	b := newBrowser(t)
	// The sub-district of the first report in the window, with most reports.
	n := map[string]int{}
	for _, r := range selection(f, "2017-02-01", "2017-02-15", func(*storage.Row) bool { return true }) {
		n[r.Adm3]++
	}
	pc := ""
	for k, v := range n {
		if k != "" && (pc == "" || v > n[pc] || v == n[pc] && k < pc) {
			pc = k
		}
	}
	b.load(t, f.http.URL+"/#from=2017-02-01&to=2017-02-15&choro=adm3&grid=0&sel=area:adm3:"+pc+"&live=0")
	got := panelIDs(t, b)
	want := ids(selection(f, "2017-02-01", "2017-02-15", func(r *storage.Row) bool { return r.Adm3 == pc }))
	if !slices.Equal(got, want) {
		t.Errorf("panel of %s lists %d reports, want %d\n got %v\nwant %v", pc, len(got), len(want), got, want)
	}
	checkAdmin(t, b, f, eval[pageState](t, b, `window.trucewatch.state()`), "adm3", func(*storage.Row) int64 { return 1 })
	b.check(t, f.http.URL)
}

// TestBrowserMapZones: the zone choropleth (definite, then definite or
// possible) and a zone's panel, from a URL.
func TestBrowserMapZones(t *testing.T) {
	f := browserFixture(t)
	b := newBrowser(t)
	const zone = "nationwide-2016"
	b.load(t, f.http.URL+"/#from=2017-02-01&to=2017-02-08&choro=zones&grid=0&sel=zone:"+zone+"&live=0")
	st := eval[pageState](t, b, `window.trucewatch.state()`)
	in := func(zs []string, id string) bool { return slices.Contains(zs, id) }
	check := func(possible bool) {
		t.Helper()
		areas := eval[[]renderedArea](t, b, `window.trucewatch.rendered('choro-fill')`)
		if len(areas) == 0 {
			t.Fatal("no zone drawn")
		}
		for _, a := range areas {
			want := int64(len(selection(f, st.From, st.To, func(r *storage.Row) bool {
				return in(r.Zones, a.ID) || possible && in(r.PossibleZones, a.ID)
			})))
			if a.Value != want {
				t.Errorf("zone %s drawn with %d (possible %v), the data has %d", a.ID, a.Value, possible, want)
			}
		}
	}
	check(false)
	got := panelIDs(t, b)
	want := ids(selection(f, st.From, st.To, func(r *storage.Row) bool { return in(r.Zones, zone) }))
	if !slices.Equal(got, want) || len(want) < 101 {
		t.Errorf("panel of %s lists %d reports, want %d (more than a page)", zone, len(got), len(want))
	}
	if n := eval[int](t, b, `document.querySelectorAll('#panel svg rect').length`); n != 2 {
		t.Errorf("zone series: %d weekly bars, want 2 (the weeks of 2017-01-30 and 2017-02-06)", n)
	}
	eval[bool](t, b, `(() => { const s = document.getElementById('f-poss'); s.value = 'both'; s.dispatchEvent(new Event('change')); return true; })()`)
	b.idle(t)
	check(true)
	screenshot(t, b, "map-zones.png")
	b.check(t, f.http.URL)
}

// The page's files: content types, the page's own CSP, nothing else.
func TestMapPageFiles(t *testing.T) {
	f := newFixture(t)
	for path, ctype := range map[string]string{
		"/":             "text/html; charset=utf-8",
		"/map/main.mjs": "text/javascript; charset=utf-8",
		"/map/vendor/maplibre-gl/maplibre-gl.mjs":        "text/javascript; charset=utf-8",
		"/map/vendor/maplibre-gl/maplibre-gl-worker.mjs": "text/javascript; charset=utf-8",
		"/map/vendor/maplibre-gl/maplibre-gl.css":        "text/css; charset=utf-8",
	} {
		resp, body := get(t, f.http.URL+path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype || len(body) == 0 {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "worker-src 'self' blob:") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	for _, path := range []string{"/map/nope.mjs", "/map/../serve.go", "/map/vendor/maplibre-gl/VERSION", "/index.html"} {
		if resp, _ := get(t, f.http.URL+path); resp.StatusCode != 404 && resp.StatusCode != 307 {
			t.Errorf("%s: %d, want 404 (or the mux's redirect to the clean path)", path, resp.StatusCode)
		}
	}
	// The API keeps its own CSP.
	if resp, _ := get(t, f.http.URL+"/openapi.json"); resp.Header.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("API CSP changed: %q", resp.Header.Get("Content-Security-Policy"))
	}
	if resp, body := get(t, f.http.URL+"/v1/extent"); resp.StatusCode != 200 ||
		!strings.Contains(string(body), `"first":"2017-01-01","last":"2017-02-28","default_from":"2017-01-30T00:00:00Z","default_to":"2017-03-01T00:00:00Z"`) {
		t.Errorf("extent: %d %s", resp.StatusCode, body)
	}
}
