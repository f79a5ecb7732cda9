package serve_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
	"github.com/trucewatch/trucewatch/violation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestMain closes the shared fixture and the clients' idle connections,
// then checks that nothing outlived the tests.
func TestMain(m *testing.M) {
	code := chtest.Run(m)
	if fix != nil {
		fix.http.CloseClientConnections() // a browser may still hold one open
		fix.http.Close()
		fix.store.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	os.Exit(chtest.Leaks(code))
}

// The fixed data set: 3000 synthetic reports observed in January and
// February 2017, written in three spans, then 60 of them revised (higher
// revision, more casualties) in a fourth span, and one span written twice.
const (
	nReports = 3000
	nRevised = 60
)

var (
	from = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC)
	win  = "from=2017-01-01&to=2017-03-01"
)

// fixture is a seeded database with a server in front of it.
type fixture struct {
	store   *storage.Store
	srv     *serve.Server
	http    *httptest.Server
	current []storage.Row // the current revision of every report
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func matcher(t testing.TB) (*geo.Admin, []*geo.ZoneSet, *geo.Matcher) {
	t.Helper()
	admin, sets := geotest.Shipped(t)
	return admin, sets, geotest.Matcher(t)
}

// seed writes the fixed data set through the real write path and returns
// the current revision of every report.
func seed(t testing.TB, store *storage.Store, m *geo.Matcher) []storage.Row {
	t.Helper()
	ctx := context.Background()
	feed := synth.New(synth.Options{Seed: 7, From: from, To: to})
	rules := violation.DefaultRules()
	received := time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC)
	e := enrich.New(m, rules)
	toRow := func(r *report.Report) storage.Row { return e.Row(r, received) }
	reps := make([]report.Report, nReports)
	rows := make([]storage.Row, nReports)
	coarse := []report.GeoPrecision{report.GeoNear, report.GeoAdm3, report.GeoAdm2, report.GeoAdm1, report.GeoCountry}
	for i := range reps {
		reps[i] = *feed.Next().Report // Next, not Report: Report does not advance the id
		if i%9 == 4 {                 // a ninth of the reports stand for an area, not a place
			reps[i].GeoPrecision = coarse[(i/9)%len(coarse)]
		}
		rows[i] = toRow(&reps[i])
	}
	src := storage.Source{Cluster: "test", Topic: "reports", Partition: 0}
	var off int64
	write := func(rs []storage.Row) storage.Span {
		sp := storage.Span{Source: src, First: off, Last: off + int64(len(rs)) - 1}
		off += int64(len(rs))
		if _, err := store.WriteBatch(ctx, storage.Batch{Span: sp, Rows: rs}); err != nil {
			t.Fatal(err)
		}
		return sp
	}
	for i := 0; i < nReports; i += 1000 {
		sp := write(rows[i : i+1000])
		if i == 1000 { // a redone span changes nothing
			if res, err := store.WriteBatch(ctx, storage.Batch{Span: sp, Rows: rows[i : i+1000]}); err != nil || !res.AlreadyDone {
				t.Fatalf("rewrite span: %+v %v", res, err)
			}
		}
	}
	var revised []storage.Row
	for i := 0; i < nRevised; i++ {
		r := feed.Revise(reps[i*7])
		row := toRow(&r)
		revised = append(revised, row)
		rows[i*7] = row
	}
	write(revised)
	return rows
}

// The placement rule, written out independently of storage/read: the
// last map zoom and the finest admin level at which a report of a geo
// precision counts (elsewhere it is coarse).
var (
	testMaxZoom  = map[string]uint32{"": 99, "exact": 99, "near": 9, "adm3": 10, "adm2": 8, "adm1": 7, "country": 5}
	testAdmLevel = map[string]int{"": 3, "exact": 3, "near": 3, "adm3": 3, "adm2": 2, "adm1": 1, "country": 0}
)

func placedAtZoom(r *storage.Row, z uint32) bool { return testMaxZoom[r.GeoPrecision] >= z }
func placedAtLevel(r *storage.Row, l int) bool   { return testAdmLevel[r.GeoPrecision] >= l }

func newFixture(t testing.TB) *fixture {
	fixOnce.Do(func() {
		fix, fixErr = buildFixture(t)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func buildFixture(t testing.TB) (*fixture, error) {
	ch := chtest.Shared(t)
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{Addr: ch.Addr(), Database: chtest.Database(t)})
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	admin, sets, m := matcher(t)
	f := &fixture{store: store}
	f.current = seed(t, store, m)
	f.srv, err = serve.New(serve.Options{
		Store: store, Admin: admin, ZoneSets: sets,
		AllowOrigins: []string{"https://map.example.org"},
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:          func() time.Time { return to },
	})
	if err != nil {
		return nil, err
	}
	f.http = httptest.NewServer(f.srv)
	return f, nil
}

func get(t testing.TB, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// No transparent gzip: the tests look at what is sent.
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func tilePath(lon, lat float64, z uint32, ext string) string {
	tl := read.TileOf(lon, lat, z)
	return fmt.Sprintf("/v1/tiles/%d/%d/%d.%s", tl.Z, tl.X, tl.Y, ext)
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./serve -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (%d vs %d bytes); run go test ./serve -update if the change is intended",
			name, len(got), len(want))
	}
}

// Ghouta and Idlib: the two densest hotspots of the synthetic feed.
const (
	ghoutaLon, ghoutaLat = 36.40, 33.55
	idlibLon, idlibLat   = 36.63, 35.93
)

func goldenCases(f *fixture) []struct{ name, path string } {
	fine := f.current[11]
	return []struct{ name, path string }{
		{"tile-z6.geojson", tilePath(ghoutaLon, ghoutaLat, 6, "geojson") + "?" + win},
		{"tile-z8-by-category.geojson", tilePath(idlibLon, idlibLat, 8, "geojson") + "?" + win + "&by=category&category=shelling,airstrike"},
		{"tile-z8-violations.geojson", tilePath(idlibLon, idlibLat, 8, "geojson") + "?" + win + "&violation=true"},
		{"tile-z10-side-raw.geojson", tilePath(ghoutaLon, ghoutaLat, 10, "geojson") + "?" + win + "&side=excluded_group"},
		{"tile-z10-hours-raw.geojson", tilePath(ghoutaLon, ghoutaLat, 10, "geojson") + "?from=2017-01-10T06:00:00Z&to=2017-02-10T18:00:00Z"},
		{"tile-z10.mvt", tilePath(ghoutaLon, ghoutaLat, 10, "mvt") + "?" + win},
		{"tile-z18-fine.geojson", tilePath(fine.Lon, fine.Lat, 18, "geojson") + "?" + win},
		{"zones-astana.geojson", "/v1/zones.geojson?set=astana-2017&zoom=6&" + win},
		{"zones-all.geojson", "/v1/zones.geojson?zoom=4&" + win},
		{"zone-series-day.json", "/v1/zones/nationwide-2016/series?bucket=day&from=2017-02-01&to=2017-02-08"},
		{"zone-series-week.json", "/v1/zones/nationwide-2016/series?bucket=week&" + win},
		{"admin-adm1-z5.geojson", "/v1/admin/adm1.geojson?zoom=5&" + win},
		{"reports-page1.geojson", "/v1/reports?bbox=36.3,33.5,36.5,33.6&limit=5&" + win},
		{"openapi.json", "/openapi.json"},
	}
}

func TestGolden(t *testing.T) {
	f := newFixture(t)
	for _, c := range goldenCases(f) {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, f.http.URL+c.path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
			}
			golden(t, c.name, body)
		})
	}
}

// testServer is a server with o behind an httptest server, closed with t.
func testServer(t testing.TB, o serve.Options) *httptest.Server {
	t.Helper()
	s, err := serve.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs
}
