package serve_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"

	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
)

type cellProps struct {
	Cell                                 string
	Reports, Killed, Injured, Violations int64
	Possible, Coarse                     int64
}

func tileCells(t *testing.T, f *fixture, path string) (map[string]cellProps, string) {
	t.Helper()
	resp, body := get(t, f.http.URL+path)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	fc, err := geojson.UnmarshalFeatureCollection(body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cellProps{}
	for _, ft := range fc.Features {
		p := cellProps{Cell: ft.Properties.MustString("cell")}
		p.Reports = int64(ft.Properties.MustFloat64("reports"))
		p.Killed = int64(ft.Properties.MustFloat64("killed"))
		p.Injured = int64(ft.Properties.MustFloat64("injured"))
		p.Violations = int64(ft.Properties.MustFloat64("violations"))
		p.Possible = int64(ft.Properties.MustFloat64("possible_violations"))
		p.Coarse = int64(ft.Properties.MustFloat64("coarse_reports"))
		out[p.Cell] = p
	}
	return out, resp.Header.Get("X-Trucewatch-Source")
}

// The tile counts are those of the current revisions of the reports that
// were written, computed here from the rows themselves.
func TestTileCountsMatchData(t *testing.T) {
	f := newFixture(t)
	for _, z := range []uint32{0, 4, 6, 9, 12, 13, 14, 15, 16, 17, 19} {
		tl := read.TileOf(ghoutaLon, ghoutaLat, z)
		want := map[string]cellProps{}
		for _, r := range f.current {
			if !(!r.ObservedAt.Before(from) && r.ObservedAt.Before(to)) || read.TileOf(r.Lon, r.Lat, z) != tl {
				continue
			}
			c := read.TileOf(r.Lon, r.Lat, z+serve.GridBits)
			key := fmt.Sprintf("%d/%d/%d", c.Z, c.X, c.Y)
			p := want[key]
			p.Cell = key
			switch {
			case !placedAtZoom(&r, z):
				p.Coarse++
			case definite(&r):
				p.Violations++
			case r.Violation:
				p.Possible++
			}
			if placedAtZoom(&r, z) {
				p.Reports++
				p.Killed += int64(r.Killed)
				p.Injured += int64(r.Injured)
			}
			want[key] = p
		}
		path := fmt.Sprintf("/v1/tiles/%d/%d/%d.geojson?%s", z, tl.X, tl.Y, win)
		got, src := tileCells(t, f, path)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("z%d (%s): got %d cells, want %d\ngot  %v\nwant %v", z, src, len(got), len(want), got, want)
		}
		// The same tile from the raw table (a filter that keeps everything).
		raw, src2 := tileCells(t, f, path+"&side=government,opposition,excluded_group,unknown")
		if src2 != "reports" || fmt.Sprint(raw) != fmt.Sprint(want) {
			t.Errorf("z%d raw (%s) differs from the data", z, src2)
		}
		if z <= 16 && src != "counts_tile_day" {
			t.Errorf("z%d: source %s, want counts_tile_day", z, src)
		}
	}
}

func TestMVT(t *testing.T) {
	f := newFixture(t)
	path := tilePath(ghoutaLon, ghoutaLat, 8, "mvt") + "?" + win
	resp, body := get(t, f.http.URL+path)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	cells, _ := tileCells(t, f, strings.Replace(path, ".mvt", ".geojson", 1))
	if len(layers) != 1 || layers[0].Name != serve.MVTLayer || len(layers[0].Features) != len(cells) || len(cells) == 0 {
		t.Fatalf("mvt has %d layers, %d features; geojson %d cells", len(layers), len(layers[0].Features), len(cells))
	}
	var total int64
	for _, ft := range layers[0].Features {
		total += int64(ft.Properties.MustFloat64("reports"))
	}
	var want int64
	for _, c := range cells {
		want += c.Reports
	}
	if total != want {
		t.Errorf("mvt reports %d, geojson %d", total, want)
	}
}

// ogrinfo (GDAL) is a real map client: it must read the GeoJSON endpoints
// straight from the server and an MVT tile from disk.
func TestOgrinfo(t *testing.T) {
	if _, err := exec.LookPath("ogrinfo"); err != nil {
		t.Fatal("ogrinfo not found: run make deps (gdal-bin)")
	}
	f := newFixture(t)
	dir := t.TempDir()
	count := func(args ...string) int {
		t.Helper()
		out, err := exec.Command("ogrinfo", append([]string{"-ro", "-so", "-al"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ogrinfo %v: %v\n%s", args, err, out)
		}
		m := regexp.MustCompile(`Feature Count: (\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("ogrinfo %v: no feature count\n%s", args, out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	// GeoJSON over HTTP.
	for _, c := range []struct {
		path string
		want int
	}{
		{"/v1/admin/adm3.geojson?zoom=6&" + win, 272},
		{"/v1/admin/adm1.geojson?" + win, 14},
		{"/v1/zones.geojson?set=astana-2017&" + win, 4},
		{"/v1/reports?bbox=36.3,33.5,36.5,33.6&limit=7&" + win, 7},
	} {
		if n := count(f.http.URL + c.path); n != c.want {
			t.Errorf("%s: ogrinfo counts %d features, want %d", c.path, n, c.want)
		}
	}
	// A tile, saved to disk in both formats.
	tl := read.TileOf(idlibLon, idlibLat, 9)
	base := fmt.Sprintf("/v1/tiles/9/%d/%d", tl.X, tl.Y)
	cells, _ := tileCells(t, f, base+".geojson?"+win)
	_, gj := get(t, f.http.URL+base+".geojson?"+win)
	_, mv := get(t, f.http.URL+base+".mvt?"+win)
	gjPath, mvPath := filepath.Join(dir, "tile.geojson"), filepath.Join(dir, "tile.mvt")
	os.WriteFile(gjPath, gj, 0o644)
	os.WriteFile(mvPath, mv, 0o644)
	if n := count(gjPath); n != len(cells) || n == 0 {
		t.Errorf("tile.geojson: ogrinfo %d features, want %d", n, len(cells))
	}
	if n := count("-oo", fmt.Sprintf("Z=%d", 9), "-oo", fmt.Sprintf("X=%d", tl.X), "-oo", fmt.Sprintf("Y=%d", tl.Y), mvPath); n != len(cells) {
		t.Errorf("tile.mvt: ogrinfo %d features, want %d", n, len(cells))
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t)
	ok := tilePath(ghoutaLon, ghoutaLat, 8, "geojson")
	for _, c := range []struct {
		path, param string
		status      int
	}{
		{"/v1/tiles/23/0/0.geojson", "z", 400},
		{"/v1/tiles/-1/0/0.geojson", "z", 400},
		{"/v1/tiles/a/0/0.geojson", "z", 400},
		{"/v1/tiles/3/8/0.geojson", "x", 400},
		{"/v1/tiles/3/0/8.mvt", "y", 400},
		{"/v1/tiles/3/0/1e2.mvt", "y", 400},
		{"/v1/tiles/3/0/0.png", "format", 400},
		{"/v1/tiles/3/0/0", "format", 400},
		{ok + "?from=yesterday", "from", 400},
		{ok + "?to=2017-13-01", "to", 400},
		{ok + "?from=2017-03-01&to=2017-01-01", "to", 400},
		{ok + "?from=2016-01-01&to=2017-03-01", "to", 400},
		{ok + "?category=picnic", "category", 400},
		{ok + "?category=shelling,", "category", 400},
		{ok + "?side=martians", "side", 400},
		{ok + "?violation=maybe", "violation", 400},
		{ok + "?zone=atlantis", "zone", 400},
		{ok + "?partner=a%20b", "partner", 400},
		{ok + "?by=side", "by", 400},
		{ok + "?bogus=1", "bogus", 400},
		{ok + "?from=2017-01-01&from=2017-01-02", "from", 400},
		{ok + "?partner=x'%20OR%201=1--", "partner", 400},
		{"/v1/zones.geojson?set=nope", "set", 400},
		{"/v1/zones.geojson?zoom=19", "zoom", 400},
		{"/v1/zones.geojson?from=2017-01-01T00:30:00Z&to=2017-01-02", "from", 400},
		{"/v1/zones/nope/series", "id", 404},
		{"/v1/zones/astana-1/series?bucket=decade", "bucket", 400},
		{"/v1/zones/astana-1/series?tz=Mars/Olympus", "tz", 400},
		{"/v1/zones/astana-1/series?tz=Asia/Kolkata", "tz", 400},
		{"/v1/zones/astana-1/series?bucket=hour&from=2016-01-01&to=2018-01-01", "bucket", 400},
		{"/v1/admin/adm3.geojson?precision=city", "precision", 400},
		{"/v1/admin/adm3.geojson?violation=maybe", "violation", 400},
		{"/v1/admin/adm3.geojson?from=1990-01-01&to=2012-01-01", "to", 400},
		{"/v1/admin/adm4.geojson", "level", 404},
		{"/v1/admin/adm3.geojson?from=2017-01-01T12:00:00Z", "from", 400},
		{"/v1/admin/adm3.geojson?zoom=-1", "zoom", 400},
		{"/v1/reports?bbox=1,2,3", "bbox", 400},
		{"/v1/reports?bbox=10,2,3,4", "bbox", 400},
		{"/v1/reports?bbox=1,2,3,95", "bbox", 400},
		{"/v1/reports?bbox=1,2,x,4", "bbox", 400},
		{"/v1/reports?limit=0", "limit", 400},
		{"/v1/reports?limit=1001", "limit", 400},
		{"/v1/reports?cursor=!!", "cursor", 400},
		{"/v1/reports?cursor=e30", "cursor", 400},
		{"/healthz?x=1", "x", 400},
		{"/v2/nothing", "path", 404},
	} {
		resp, body := get(t, f.http.URL+c.path)
		var e struct {
			Error struct {
				Status  int
				Param   string
				Message string
			}
		}
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != c.status || e.Error.Param != c.param ||
			e.Error.Status != c.status || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d naming %q", c.path, resp.StatusCode, body, c.status, c.param)
			continue
		}
		if strings.Contains(strings.ToLower(string(body)), "select") || strings.Contains(string(body), ".go:") {
			t.Errorf("%s: error body leaks internals: %s", c.path, body)
		}
	}
}

// Every route is documented with exactly the parameters it accepts, and
// every documented operation answers.
func TestOpenAPI(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.http.URL+"/openapi.json")
	var doc struct {
		OpenAPI string
		Paths   map[string]map[string]struct {
			OperationID string
			Parameters  []struct{ Name, In string }
			Responses   map[string]any
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %v %q", err, doc.OpenAPI)
	}
	examples := map[string]string{
		"/v1/tiles/{z}/{x}/{y}.{format}":     tilePath(ghoutaLon, ghoutaLat, 7, "geojson"),
		"/v1/zones/{id}/series":              "/v1/zones/astana-1/series",
		"/v1/admin/{level}.geojson":          "/v1/admin/adm1.geojson",
		"/v1/reports/{partner}/{id}/history": "/v1/reports/" + f.current[0].PartnerID + "/" + f.current[0].ReportID + "/history",
	}
	want := []string{"/healthz", "/metrics", "/openapi.json", "/readyz", "/v1/admin/{level}.geojson",
		"/v1/extent", "/v1/reports", "/v1/reports/{partner}/{id}/history", "/v1/tiles/{z}/{x}/{y}.{format}", "/v1/zones.geojson", "/v1/zones/{id}/series"}
	var got []string
	for p := range doc.Paths {
		got = append(got, p)
	}
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paths %v, want %v", got, want)
	}
	for p, ops := range doc.Paths {
		for method, op := range ops {
			if method != "get" {
				continue
			}
			u := p
			if ex, ok := examples[p]; ok {
				u = ex
			}
			resp, body := get(t, f.http.URL+u)
			if resp.StatusCode != 200 {
				t.Errorf("%s (%s): %d %s", p, u, resp.StatusCode, body)
			}
			if _, ok := op.Responses["200"]; !ok {
				t.Errorf("%s: no 200 response documented", p)
			}
			if p == "/metrics" {
				continue
			}
			// Every documented query parameter is accepted (a bad value is
			// reported as that parameter, not as unknown), and an
			// undocumented one is rejected.
			for _, prm := range op.Parameters {
				if prm.In != "query" {
					continue
				}
				resp, body := get(t, f.http.URL+u+"?"+prm.Name+"=%00")
				if strings.Contains(string(body), "unknown parameter") {
					t.Errorf("%s: documented parameter %s rejected as unknown: %s", p, prm.Name, body)
				}
				_ = resp
			}
			resp, body = get(t, f.http.URL+u+"?undocumented=1")
			if resp.StatusCode != 400 || !strings.Contains(string(body), `"param":"undocumented"`) {
				t.Errorf("%s: undocumented parameter not rejected: %d %s", p, resp.StatusCode, body)
			}
		}
	}
}

func TestCORSGzipETag(t *testing.T) {
	f := newFixture(t)
	path := f.http.URL + tilePath(idlibLon, idlibLat, 7, "geojson") + "?" + win
	resp, body := get(t, path, "Origin", "https://map.example.org")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://map.example.org" {
		t.Errorf("allowed origin: %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=60") {
		t.Errorf("Cache-Control %q", cc)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, _ = get(t, path, "Origin", "https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("origin not in the allow-list got %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, b304 := get(t, path, "If-None-Match", etag)
	if resp.StatusCode != 304 || len(b304) != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", resp.StatusCode, len(b304))
	}
	resp, gz := get(t, path, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, body) || len(gz) >= len(body) {
		t.Errorf("gzip body: %d bytes -> %d, equal %v", len(body), len(gz), bytes.Equal(plain, body))
	}
	// The repeated requests were answered from the cache.
	_, metrics := get(t, f.http.URL+"/metrics")
	if !regexp.MustCompile(`trucewatch_serve_cache_requests_total\{result="hit"\} [1-9]`).Match(metrics) {
		t.Errorf("no cache hits in /metrics")
	}
	// Preflight.
	req, _ := http.NewRequest("OPTIONS", path, nil)
	req.Header.Set("Origin", "https://map.example.org")
	req.Header.Set("Access-Control-Request-Method", "GET")
	pr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	if pr.StatusCode != 204 || !strings.Contains(pr.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %d %v", pr.StatusCode, pr.Header)
	}
}

// Paging through the reports of a bbox returns each current revision once.
func TestReportsPagination(t *testing.T) {
	f := newFixture(t)
	bbox := [4]float64{36.2, 33.4, 36.6, 33.7}
	want := map[string]uint32{}
	for _, r := range f.current {
		if r.Lon >= bbox[0] && r.Lon <= bbox[2] && r.Lat >= bbox[1] && r.Lat <= bbox[3] {
			want[r.PartnerID+"/"+r.ReportID] = r.Revision
		}
	}
	got := map[string]uint32{}
	next := fmt.Sprintf("/v1/reports?bbox=%g,%g,%g,%g&limit=97&%s", bbox[0], bbox[1], bbox[2], bbox[3], win)
	pages := 0
	for next != "" {
		pages++
		resp, body := get(t, f.http.URL+next)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", next, resp.StatusCode, body)
		}
		fc, err := geojson.UnmarshalFeatureCollection(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, ft := range fc.Features {
			id := ft.ID.(string)
			if _, dup := got[id]; dup {
				t.Fatalf("%s on two pages", id)
			}
			got[id] = uint32(ft.Properties.MustFloat64("revision"))
		}
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
			if err != nil {
				t.Fatal(err)
			}
			next = u.String()
		}
	}
	if len(want) < 200 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%d pages, %d reports, want %d (revisions must be current)", pages, len(got), len(want))
	}
}

// The adm3 choropleth shrinks with the zoom; the sizes are logged for the
// record (see doc.go).
func TestChoroplethSize(t *testing.T) {
	f := newFixture(t)
	sizes := map[string]int{}
	for _, z := range []string{"", "&zoom=6", "&zoom=8", "&zoom=10"} {
		_, body := get(t, f.http.URL+"/v1/admin/adm3.geojson?"+win+z)
		_, gz := get(t, f.http.URL+"/v1/admin/adm3.geojson?"+win+z, "Accept-Encoding", "gzip")
		sizes[z] = len(body)
		t.Logf("adm3.geojson%s: %d bytes, %d gzipped", z, len(body), len(gz))
	}
	if sizes["&zoom=6"]*10 > sizes[""] {
		t.Errorf("zoom 6 (%d bytes) is not a tenth of full detail (%d)", sizes["&zoom=6"], sizes[""])
	}
}

func TestReadyz(t *testing.T) {
	ch := chtest.New(t)
	ctx := context.Background()
	store := chtest.Open(t, ch, storage.Options{ReadTimeout: 2 * time.Second, DialTimeout: time.Second})
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: store, Admin: admin, ZoneSets: sets})
	if resp, body := get(t, hs.URL+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("ready: %d %s", resp.StatusCode, body)
	}
	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, hs.URL+"/readyz"); resp.StatusCode != 503 {
		t.Errorf("with ClickHouse down: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, hs.URL+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthz with ClickHouse down: %d", resp.StatusCode)
	}
	if resp, body := get(t, hs.URL+"/v1/admin/adm1.geojson"); resp.StatusCode != 503 || strings.Contains(string(body), "dial") {
		t.Errorf("query with ClickHouse down: %d %s", resp.StatusCode, body)
	}
	if err := ch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := get(t, hs.URL+"/readyz")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready again after restart: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// slowStore is the real store with a query of a few seconds in ClickHouse
// before every tile query, so that a client can give up while the
// server-side query is still running.
type slowStore struct{ *storage.Store }

func (s slowStore) TileCells(ctx context.Context, q read.CellQuery) ([]read.Cell, error) {
	if err := s.Conn().Exec(ctx, "SELECT count() FROM numbers(400000000) WHERE sipHash64(number) = 1"); err != nil {
		return nil, err
	}
	return s.Store.TileCells(ctx, q)
}

// A request abandoned by its client cancels its query in ClickHouse.
func TestCancelledRequestCancelsQuery(t *testing.T) {
	f := newFixture(t)
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: slowStore{f.store}, Admin: admin, ZoneSets: sets,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	running := func() int {
		var n uint64
		err := f.store.Conn().QueryRow(context.Background(),
			"SELECT count() FROM system.processes WHERE query LIKE '%numbers(400000000)%' AND query NOT LIKE '%system.processes%'").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+tilePath(ghoutaLon, ghoutaLat, 6, "geojson")+"?"+win, nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the query never showed up in system.processes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	<-done
	for running() > 0 {
		if time.Since(start) > 2*time.Second {
			t.Fatal("the query still runs in ClickHouse 2 s after the client went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("query gone from system.processes %v after the client cancelled", time.Since(start).Round(time.Millisecond))
}

// Partitions made of one part are read without FINAL; the answers must
// not change when a partition is merged into one part, nor when a redone
// span then adds duplicate rows to it.
func TestFinalOnlyWhereNeeded(t *testing.T) {
	ctx := context.Background()
	store := chtest.Store(t)
	admin, sets, m := matcher(t)
	seed(t, store, m)
	hs := testServer(t, serve.Options{Store: store, Admin: admin, ZoneSets: sets, CacheBytes: -1})
	paths := []string{
		tilePath(ghoutaLon, ghoutaLat, 6, "geojson") + "?" + win,
		tilePath(idlibLon, idlibLat, 8, "geojson") + "?" + win + "&by=category",
		tilePath(ghoutaLon, ghoutaLat, 9, "geojson") + "?" + win + "&partner=sn4hr,daraa24",
		"/v1/zones.geojson?" + win,
		"/v1/zones/nationwide-2016/series?bucket=day&" + win,
		"/v1/admin/adm3.geojson?zoom=6&" + win,
	}
	bodies := func() []string {
		var out []string
		for _, p := range paths {
			resp, body := get(t, hs.URL+p)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
			}
			out = append(out, string(body))
		}
		return out
	}
	exec := func(q string) {
		if err := store.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	parts := func(table string) uint64 {
		var n uint64
		if err := store.Conn().QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active AND partition = '201701'",
			store.Database(), table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tables := []string{"reports", "counts_tile_day", "counts_adm_day", "counts_zone_hour"}
	before := bodies()
	for _, tb := range tables {
		exec(fmt.Sprintf("OPTIMIZE TABLE %s.%s PARTITION 201701 FINAL", store.Database(), tb))
		if n := parts(tb); n != 1 {
			t.Fatalf("%s: %d parts in 201701 after OPTIMIZE", tb, n)
		}
	}
	time.Sleep(1100 * time.Millisecond) // part counts are cached for a second
	if after := bodies(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("answers changed when January was merged into one part (read without FINAL)")
	}
	// A redone span: the same aggregate rows written again, in a new part.
	for _, tb := range tables[1:] {
		col := map[string]string{"counts_tile_day": "day", "counts_adm_day": "day", "counts_zone_hour": "hour"}[tb]
		var cols []string
		rows, err := store.Conn().Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", store.Database(), tb)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			rows.Scan(&c)
			cols = append(cols, c)
		}
		rows.Close()
		list := strings.Join(cols, ", ")
		exec(fmt.Sprintf("INSERT INTO %[1]s.%[2]s (%[3]s) SELECT %[3]s FROM %[1]s.%[2]s WHERE toYYYYMM(%[4]s) = 201701",
			store.Database(), tb, list, col))
		if n := parts(tb); n != 2 {
			t.Fatalf("%s: %d parts in 201701 after the duplicate insert", tb, n)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	if after := bodies(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("answers changed when January got duplicate rows in a second part (must be read with FINAL)")
	}
}

// TestReadTokens checks the optional bearer tokens of the read API: reads
// need one, probes do not, and every answer carries the security headers.
func TestReadTokens(t *testing.T) {
	f := newFixture(t)
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: f.store, Admin: admin, ZoneSets: sets,
		ReadTokens: []string{"analyst-token", " map-token "}})
	path := hs.URL + "/v1/admin/adm1.geojson?from=2017-01-01&to=2017-02-01"
	for _, c := range []struct {
		hdr  []string
		want int
	}{
		{nil, 401},
		{[]string{"Authorization", "Bearer wrong"}, 401},
		{[]string{"Authorization", "analyst-token"}, 401},
		{[]string{"Authorization", "Bearer analyst-token"}, 200},
		{[]string{"Authorization", "Bearer map-token"}, 200},
	} {
		resp, body := get(t, path, c.hdr...)
		if resp.StatusCode != c.want {
			t.Errorf("%v: %d %s, want %d", c.hdr, resp.StatusCode, body, c.want)
		}
		if resp.StatusCode == 401 && (resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "Authorization")) {
			t.Errorf("401 without a challenge or a named parameter: %v %s", resp.Header, body)
		}
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s missing", h)
			}
		}
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		if resp, _ := get(t, hs.URL+probe); resp.StatusCode != 200 {
			t.Errorf("%s without a token: %d", probe, resp.StatusCode)
		}
	}
}

// TestHostileParameters sends SQL fragments, huge numbers, NaN and unicode
// tricks to every endpoint: each comes back as a 400 that names a
// parameter, without SQL in the body, and the data is unchanged.
func TestHostileParameters(t *testing.T) {
	f := newFixture(t)
	count := func() (n uint64) {
		q := "SELECT count() FROM " + f.store.Database() + ".reports"
		if err := f.store.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	hostile := []string{
		"category=shelling'%20OR%201=1--", "category=%27%3B%20DROP%20TABLE%20reports%3B--",
		"zone=astana-1;DROP%20TABLE%20reports", "zone=astana%E2%80%8B-1", "side=government%E2%80%AE",
		"partner=sn4hr%00", "partner=a%27)%20OR%20(1=1", "violation=1%20OR%201",
		"from=now()&to=toDateTime(1)", "from=2017-01-01&to=9999-12-31", "from=NaN", "to=1e999",
		"bbox=NaN,0,1,1", "bbox=-1e400,0,1,1", "bbox=36,33,35,34", "limit=99999999999999999999", "limit=-1",
		"cursor=%ff%fe", "cursor=eyJ0IjoiJyBPUiAxPTEifQ", "unknown=1", "=1", "from=2017-01-01&from=2017-01-02",
		"bucket=decade", "set=x%27%20OR%201=1", "zoom=1e9",
	}
	paths := []string{"/v1/tiles/6/38/25.geojson", "/v1/tiles/6/38/25.mvt", "/v1/zones.geojson",
		"/v1/zones/astana-1/series", "/v1/admin/adm3.geojson", "/v1/reports"}
	for _, p := range paths {
		for _, h := range hostile {
			resp, body := get(t, f.http.URL+p+"?"+h)
			if resp.StatusCode != 400 {
				t.Errorf("%s?%s: %d %s", p, h, resp.StatusCode, body)
				continue
			}
			var e struct {
				Error struct {
					Param   string `json:"param"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Param == "" {
				t.Errorf("%s?%s: body %s does not name a parameter", p, h, body)
			}
			if low := strings.ToLower(string(body)); strings.Contains(low, "select ") || strings.Contains(low, "clickhouse") || strings.Contains(low, "goroutine") {
				t.Errorf("%s?%s: body leaks internals: %s", p, h, body)
			}
		}
	}
	for _, bad := range []string{"/v1/tiles/23/0/0.geojson", "/v1/tiles/6/64/0.geojson", "/v1/tiles/6/-1/0.mvt", "/v1/admin/adm4.geojson"} {
		if resp, body := get(t, f.http.URL+bad); resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
		}
	}
	if after := count(); after != before {
		t.Errorf("reports went from %d to %d rows", before, after)
	}
}

// Tiles of zoom <= 12 and admin choropleths are summed from cached week
// pieces; they must equal the answer computed by its own query (the server
// without a cache), for windows that start and end mid-week, with and
// without filters.
func TestWeekPyramidsMatchDirectQueries(t *testing.T) {
	f := newFixture(t)
	admin, sets, _ := matcher(t)
	direct, err := serve.New(serve.Options{Store: f.store, Admin: admin, ZoneSets: sets, CacheBytes: -1,
		Now: func() time.Time { return to }})
	if err != nil {
		t.Fatal(err)
	}
	hd := httptest.NewServer(direct)
	defer hd.Close()
	n := 0
	for _, w := range []string{win, "from=2017-01-04&to=2017-02-23", "from=2017-02-08&to=2017-02-09"} {
		for _, q := range []string{"", "&by=category", "&category=shelling,airstrike", "&violation=true"} {
			for z := uint32(5); z <= 12; z++ {
				for _, at := range [][2]float64{{ghoutaLon, ghoutaLat}, {idlibLon, idlibLat}} {
					p := tilePath(at[0], at[1], z, "geojson") + "?" + w + q
					r1, cached := get(t, f.http.URL+p)
					r2, fresh := get(t, hd.URL+p)
					if r1.StatusCode != 200 || r2.StatusCode != 200 {
						t.Fatalf("%s: %d / %d", p, r1.StatusCode, r2.StatusCode)
					}
					if !bytes.Equal(cached, fresh) {
						t.Errorf("%s: week pyramids give\n%.300s\nits own query\n%.300s", p, cached, fresh)
					}
					n++
				}
			}
		}
	}
	for _, w := range []string{win, "from=2017-01-04&to=2017-02-23", "from=2017-02-08&to=2017-02-09"} {
		for _, level := range []string{"adm1", "adm2", "adm3"} {
			p := "/v1/admin/" + level + ".geojson?zoom=6&" + w
			r1, cached := get(t, f.http.URL+p)
			r2, fresh := get(t, hd.URL+p)
			if r1.StatusCode != 200 || r2.StatusCode != 200 {
				t.Fatalf("%s: %d / %d", p, r1.StatusCode, r2.StatusCode)
			}
			if !bytes.Equal(cached, fresh) {
				t.Errorf("%s: week totals and one query differ", p)
			}
			n++
		}
	}
	t.Logf("%d tiles and choropleths compared", n)
}

// When its week pyramids expire, a tile is served from them once more
// while one background query replaces them, and then shows the new data.
func TestStalePyramidsRefresh(t *testing.T) {
	ctx := context.Background()
	store := chtest.Store(t)
	admin, sets, m := matcher(t)
	rows := seed(t, store, m)
	const maxAge = 2 * time.Second
	hs := testServer(t, serve.Options{Store: store, Admin: admin, ZoneSets: sets, TileMaxAge: maxAge})
	extra := rows[0]
	extra.ReportID, extra.Revision = "stale-test", 1
	p := tilePath(extra.Lon, extra.Lat, 6, "geojson") + "?" + win
	count := func() int64 {
		resp, body := get(t, hs.URL+p)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		var fc struct {
			Features []struct{ Properties struct{ Reports int64 } }
		}
		if err := json.Unmarshal(body, &fc); err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, f := range fc.Features {
			n += f.Properties.Reports
		}
		return n
	}
	built := time.Now()
	before := count()
	sp := storage.Span{Source: storage.Source{Cluster: "test", Topic: "reports", Partition: 1}, First: 0, Last: 0}
	if _, err := store.WriteBatch(ctx, storage.Batch{Span: sp, Rows: []storage.Row{extra}}); err != nil {
		t.Fatal(err)
	}
	// The checks below hold in their time slots: a machine too slow to
	// reach a slot in time skips that check rather than fail it.
	if n := count(); n != before && time.Since(built) < maxAge {
		t.Fatalf("within max-age: %d reports, want the cached %d", n, before)
	}
	time.Sleep(time.Until(built.Add(maxAge + 100*time.Millisecond)))
	if n := count(); n != before && time.Since(built) < 2*maxAge {
		t.Fatalf("just after max-age: %d reports, want the stale %d while the refresh runs", n, before)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the new report never showed: %d reports, want %d", count(), before+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// definite is the independent classification of a definite candidate
// violation: in a protected zone, not only possibly (violation.Rules'
// reasons).
func definite(r *storage.Row) bool {
	return r.Violation && !strings.HasPrefix(r.ViolationReason, "possibly_in_zone")
}

// TestLongSeries: a zone's series over years in month and year buckets of
// a local time zone, each bucket counted here from the rows themselves;
// the admin choropleth over ten years equals the data's total.
func TestLongSeries(t *testing.T) {
	f := newFixture(t)
	damascus, err := time.LoadLocation("Asia/Damascus")
	if err != nil {
		t.Fatal(err)
	}
	for _, bucket := range []string{"month", "year", "day"} {
		resp, body := get(t, f.http.URL+"/v1/zones/nationwide-2016/series?bucket="+bucket+"&from=2016-01-01&to=2019-01-01&tz=Asia/Damascus")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", bucket, resp.StatusCode, body)
		}
		var sb struct {
			TZ, From string
			Points   []struct {
				T                   string
				Reports, Violations int64
				PossibleViolations  int64 `json:"possible_violations"`
			}
		}
		if err := json.Unmarshal(body, &sb); err != nil {
			t.Fatal(err)
		}
		want := map[string][3]int64{}
		for i := range f.current {
			r := &f.current[i]
			in, possibly := slices.Contains(r.Zones, "nationwide-2016"), slices.Contains(r.PossibleZones, "nationwide-2016")
			if !in && !possibly {
				continue
			}
			l := r.ObservedAt.In(damascus)
			k := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, damascus)
			switch bucket {
			case "month":
				k = time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, damascus)
			case "year":
				k = time.Date(l.Year(), 1, 1, 0, 0, 0, 0, damascus)
			}
			v := want[k.Format(time.RFC3339)]
			switch {
			case in:
				v[0]++
				if r.Violation {
					v[1]++
				}
			case r.Violation: // only possibly in the zone
				v[2]++
			}
			want[k.Format(time.RFC3339)] = v
		}
		n := map[string]int{"month": 36, "year": 3, "day": 1096}[bucket]
		if sb.TZ != "Asia/Damascus" || len(sb.Points) != n || sb.Points[0].T != "2016-01-01T00:00:00+02:00" {
			t.Fatalf("%s: tz %s, %d points from %s", bucket, sb.TZ, len(sb.Points), sb.Points[0].T)
		}
		for _, p := range sb.Points {
			if w := want[p.T]; [3]int64{p.Reports, p.Violations, p.PossibleViolations} != w {
				t.Errorf("%s %s: %d reports, %d violations, %d possible; want %v", bucket, p.T, p.Reports, p.Violations, p.PossibleViolations, w)
			}
		}
	}
	resp, body := get(t, f.http.URL+"/v1/admin/adm1.geojson?from=2010-01-01&to=2030-01-01&zoom=4")
	if resp.StatusCode != 200 {
		t.Fatalf("20 years of admin areas: %d %s", resp.StatusCode, body)
	}
	fc, err := geojson.UnmarshalFeatureCollection(body)
	if err != nil {
		t.Fatal(err)
	}
	var got, wantN int64
	for _, ft := range fc.Features {
		got += int64(ft.Properties.MustFloat64("reports") + ft.Properties.MustFloat64("coarse_reports"))
	}
	for i := range f.current {
		if f.current[i].Adm1 != "" {
			wantN++
		}
	}
	if got != wantN {
		t.Errorf("20 years of governorates: %d reports and coarse, want %d", got, wantN)
	}
}

// TestHistory: a corrected report's revisions, oldest first; an unknown
// report is a 404 naming id.
func TestHistory(t *testing.T) {
	f := newFixture(t)
	var r *storage.Row
	for i := range f.current {
		if f.current[i].Revision == 2 {
			r = &f.current[i]
			break
		}
	}
	if r == nil {
		t.Fatal("the fixture has no corrected report")
	}
	resp, body := get(t, f.http.URL+"/v1/reports/"+r.PartnerID+"/"+r.ReportID+"/history")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	fc, err := geojson.UnmarshalFeatureCollection(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Features) != 2 || fc.Features[0].Properties.MustFloat64("revision") != 1 || fc.Features[1].Properties.MustFloat64("revision") != 2 ||
		fc.Features[1].Properties.MustBool("withdrawn") || int64(fc.Features[1].Properties.MustFloat64("killed")) != int64(r.Killed) {
		t.Fatalf("history: %s", body)
	}
	resp, body = get(t, f.http.URL+"/v1/reports/"+r.PartnerID+"/nobody/history")
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"param":"id"`) {
		t.Fatalf("unknown report: %d %s", resp.StatusCode, body)
	}
}
