package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/paulmach/orb/maptile"

	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// pageServer is a server over the fixture's data set through st (the
// fixture's store, or a wrapper), with read tokens when given.
func pageServer(t *testing.T, st serve.Store, tokens ...string) *httptest.Server {
	t.Helper()
	admin, sets, _ := matcher(t)
	srv, err := serve.New(serve.Options{
		Store: st, Admin: admin, ZoneSets: sets, ReadTokens: tokens,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:    func() time.Time { return to },
	})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(srv)
	t.Cleanup(h.Close)
	return h
}

// hostileStore gives every report it lists text made to break a page
// that would take it as HTML, and sources of every kind.
type hostileStore struct{ serve.Store }

const (
	hostileDesc = `<img src=x onerror="document.body.dataset.pwned=1"><b>bold</b>`
	hostileURL  = "https://example.org/report?id=1&x=<i>"
)

var hostileSources = []string{hostileURL, "javascript:document.body.dataset.pwned=1", `<a href="https://evil.example">witness</a>`, "local council"}

func (h hostileStore) Reports(ctx context.Context, q read.ReportQuery) ([]read.Report, error) {
	rs, err := h.Store.Reports(ctx, q)
	for i := range rs {
		rs[i].Description = hostileDesc
		rs[i].Sources = hostileSources
		rs[i].ObservedUntil = rs[i].ObservedAt + 3600
		rs[i].TimePrecision, rs[i].GeoPrecision = "hour", "town"
		rs[i].ViolationReason = "<script>document.body.dataset.pwned=1</script>" + rs[i].ViolationReason
	}
	return rs, err
}

// ghoutaCell is a grid cell with reports in 2017-02-01..2017-02-15, and
// the URL hash that opens the map on it with it selected.
func ghoutaCell(f *fixture) (read.Tile, string, []*storage.Row) {
	cell := read.TileOf(ghoutaLon, ghoutaLat, 12)
	hash := "#lon=36.4000&lat=33.5500&z=8.00&from=2017-02-01&to=2017-02-15&live=0"
	rows := selection(f, "2017-02-01", "2017-02-15", func(r *storage.Row) bool { return read.TileOf(r.Lon, r.Lat, cell.Z) == cell })
	return cell, hash, rows
}

// TestBrowserMapPanelFields: the panel shows every field of a report,
// sources as links only when they are http(s) URLs, and never takes
// report text as HTML.
func TestBrowserMapPanelFields(t *testing.T) {
	f := browserFixture(t)
	h := pageServer(t, hostileStore{f.store})
	b := newBrowser(t)
	cell, hash, rows := ghoutaCell(f)
	if len(rows) == 0 {
		t.Fatal("no report in the test's cell")
	}
	b.load(t, h.URL+"/"+hash+fmt.Sprintf("&sel=cell:%d/%d/%d", cell.Z, cell.X, cell.Y))
	if got, want := panelIDs(t, b), ids(rows); !slices.Equal(got, want) {
		t.Fatalf("panel lists %v, want %v", got, want)
	}
	r := rows[0]
	type item struct {
		Text, Desc, Reason string
		Links              []struct{ Href, Text string }
		Sources            []string
		Elements           []string
	}
	it := eval[item](t, b, fmt.Sprintf(`(() => {
		const li = document.querySelector('#panel li[data-id=%q]');
		return {
			text: li.textContent,
			desc: li.querySelector('.desc').textContent,
			reason: li.querySelector('.reason').textContent,
			links: [...li.querySelectorAll('a')].map((a) => ({ href: a.href, text: a.textContent })),
			sources: [...li.querySelectorAll('ul.sources li')].map((e) => e.textContent),
			elements: [...new Set([...document.querySelectorAll('#panel *')].map((e) => e.tagName.toLowerCase()))].sort(),
		};
	})()`, r.PartnerID+"/"+r.ReportID))
	if it.Desc != hostileDesc {
		t.Errorf("description shown as %q, want the text %q", it.Desc, hostileDesc)
	}
	if !strings.HasPrefix(it.Reason, "<script>") || !strings.HasSuffix(it.Reason, r.ViolationReason) {
		t.Errorf("violation reason shown as %q", it.Reason)
	}
	if !slices.Equal(it.Sources, hostileSources) {
		t.Errorf("sources shown as %q, want %q", it.Sources, hostileSources)
	}
	if len(it.Links) != 1 || it.Links[0].Text != hostileURL || !strings.HasPrefix(it.Links[0].Href, "https://example.org/report?id=1&x=") {
		t.Errorf("links: %+v, want only the https source", it.Links)
	}
	for _, tag := range it.Elements {
		if !slices.Contains([]string{"button", "h2", "div", "ol", "li", "strong", "span", "dl", "dt", "dd", "ul", "a"}, tag) {
			t.Errorf("the panel holds a <%s> element", tag)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("%s/%s", r.PartnerID, r.ReportID),
		fmt.Sprintf("revision%d", r.Revision),
		"(hour)", "(town)", "zone set" + r.ZoneSet,
		r.ObservedAt.Add(3600e9).UTC().Format("2006-01-02 15:04:05 UTC"),
		fmt.Sprintf("%.5f, %.5f", r.Lat, r.Lon),
		fmt.Sprintf("±%g m", r.AccuracyM),
	} {
		if !strings.Contains(it.Text, want) {
			t.Errorf("panel item lacks %q: %s", want, it.Text)
		}
	}
	if p := eval[string](t, b, `document.body.dataset.pwned || ''`); p != "" {
		t.Error("report text ran as script")
	}
	b.check(t, h.URL)
}

// TestBrowserMapKeyboard: a cell picked without a mouse. The map has
// focus (the centre marked), Enter lists the reports of the cell at the
// centre, Tab walks the list, Escape closes the panel and gives the map
// its focus back, and the arrow keys pan.
func TestBrowserMapKeyboard(t *testing.T) {
	f := browserFixture(t)
	b := newBrowser(t)
	// Headless, the page never has the window's focus, so focus events would not fire.
	if _, err := chromedp.Call(b.ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	cell, _, rows := ghoutaCell(f)
	c := maptile.New(cell.X, cell.Y, maptile.Zoom(cell.Z)).Bound().Center()
	b.load(t, fmt.Sprintf("%s/#lon=%.4f&lat=%.4f&z=8.00&from=2017-02-01&to=2017-02-15&live=0", f.http.URL, c.Lon(), c.Lat()))
	if eval[bool](t, b, `!document.getElementById('centre').hidden`) {
		t.Error("centre marker shown before the map has focus")
	}
	// The canvas is in the tab order (MapLibre gives it tabindex 0); focus it as Tab would.
	eval[bool](t, b, `(() => { const c = document.querySelector('.maplibregl-canvas'); c.focus(); return c.tabIndex === 0; })()`)
	if !eval[bool](t, b, `document.activeElement === document.querySelector('.maplibregl-canvas') && !document.getElementById('centre').hidden`) {
		t.Fatal("the map's canvas has no focus, or no centre marker: " + eval[string](t, b, `document.activeElement.outerHTML.slice(0, 120) + ' ' + document.hasFocus() + ' ' + document.getElementById('centre').hidden`))
	}
	run(t, b, chromedp.KeyEvent(kb.Enter))
	if got, want := panelIDs(t, b), ids(rows); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("Enter at the centre lists %v, the cell %v holds %v", got, cell, want)
	}
	if s := eval[pageState](t, b, `window.trucewatch.state()`); s.Sel != fmt.Sprintf("cell:%d/%d/%d", cell.Z, cell.X, cell.Y) {
		t.Errorf("selection in the state: %q", s.Sel)
	}
	// Focus is on the panel's close button; Tab reaches the list.
	run(t, b, chromedp.KeyEvent(kb.Tab))
	if id := eval[string](t, b, `document.activeElement.closest('#panel li')?.dataset.id ?? ''`); !slices.Contains(ids(rows), id) {
		t.Errorf("Tab from the panel's close button went to %q, not a report of the list", eval[string](t, b, `document.activeElement.outerHTML.slice(0, 80)`))
	}
	run(t, b, chromedp.KeyEvent(kb.Escape))
	if !eval[bool](t, b, `document.getElementById('panel').hidden && document.activeElement === document.querySelector('.maplibregl-canvas')`) {
		t.Error("Escape did not close the panel and focus the map")
	}
	if s := eval[pageState](t, b, `window.trucewatch.state()`); s.Sel != "" {
		t.Errorf("selection after Escape: %q", s.Sel)
	}
	before := eval[pageState](t, b, `window.trucewatch.state()`)
	run(t, b, chromedp.KeyEvent(kb.ArrowRight))
	b.idle(t)
	if after := eval[pageState](t, b, `window.trucewatch.state()`); !(after.Lon > before.Lon) {
		t.Errorf("ArrowRight: centre %.4f, was %.4f", after.Lon, before.Lon)
	}
	screenshot(t, b, "map-keyboard.png")
	b.check(t, f.http.URL)
}

// waitFor polls js in the page until it is true.
func waitFor(t *testing.T, b *browser, js string) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("page never had %s: %v", js, err)
	}
}

// TestBrowserMapTokens: behind read tokens the page's files load without
// one; the page asks for a token on the first 401 (again when it is
// refused), keeps it for the tab only and out of the URL, and sends it
// on every request, the grid's tiles included.
func TestBrowserMapTokens(t *testing.T) {
	f := browserFixture(t)
	const tok = "read-tok-3f9a"
	h := pageServer(t, f.store, tok)
	for _, path := range []string{"/", "/map/main.mjs", "/map/auth.mjs", "/map/app.css", "/map/vendor/maplibre-gl/maplibre-gl.mjs",
		"/map/vendor/maplibre-gl/maplibre-gl-worker.mjs", "/map/vendor/maplibre-gl/maplibre-gl.css"} {
		if resp, _ := get(t, h.URL+path); resp.StatusCode != 200 {
			t.Errorf("%s without a token: %d, want 200", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/v1/extent", "/openapi.json", "/v1/reports", "/v1/tiles/6/38/25.mvt"} {
		if resp, _ := get(t, h.URL+path); resp.StatusCode != 401 {
			t.Errorf("%s without a token: %d, want 401", path, resp.StatusCode)
		}
		if resp, _ := get(t, h.URL+path, "Authorization", "Bearer "+tok); resp.StatusCode == 401 {
			t.Errorf("%s with the token: 401", path)
		}
	}

	b := newBrowser(t)
	cell, hash, rows := ghoutaCell(f)
	hash += fmt.Sprintf("&sel=cell:%d/%d/%d", cell.Z, cell.X, cell.Y)
	run(t, b, chromedp.Navigate(h.URL+"/"+hash))
	form := `!document.getElementById('auth').hidden && document.activeElement === document.querySelector('#auth input')`
	waitFor(t, b, form)
	run(t, b, chromedp.KeyEvent("wrong-token\r"))
	waitFor(t, b, form+` && document.querySelector('#auth .meta').textContent.includes('refused')`)
	run(t, b, chromedp.KeyEvent(tok+"\r"))
	b.idle(t)
	st := eval[pageState](t, b, `window.trucewatch.state()`)
	checkCells(t, b, f, st, false) // the tiles came with the token
	checkAdmin(t, b, f, st, "adm2", func(*storage.Row) int64 { return 1 })
	if got, want := panelIDs(t, b), ids(rows); !slices.Equal(got, want) {
		t.Errorf("panel lists %v, want %v", got, want)
	}
	if s := eval[string](t, b, `sessionStorage.getItem('trucewatch.readToken') + ' ' + localStorage.length`); s != tok+" 0" {
		t.Errorf("storage: %q, want the token in sessionStorage only", s)
	}
	b.mu.Lock()
	for _, u := range b.requests {
		if strings.Contains(u, tok) {
			t.Errorf("the token in a URL: %s", u)
		}
	}
	b.mu.Unlock()
	if u := eval[string](t, b, `location.href`); strings.Contains(u, tok) {
		t.Errorf("the token in the page's URL: %s", u)
	}
	// 401s are answers, not page problems; the browser logs each as a failed resource.
	b.mu.Lock()
	b.problems = slices.DeleteFunc(b.problems, func(p string) bool { return strings.Contains(p, "status of 401 (Unauthorized)") })
	b.mu.Unlock()
	b.check(t, h.URL)

	// A reload in the same tab keeps the token: no form.
	b.load(t, h.URL+"/"+hash)
	if eval[bool](t, b, `!document.getElementById('auth').hidden`) {
		t.Error("the form asked again after a reload")
	}
	checkCells(t, b, f, eval[pageState](t, b, `window.trucewatch.state()`), false)
	b.check(t, h.URL)
}
