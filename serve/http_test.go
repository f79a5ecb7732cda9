package serve_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucewatch/trucewatch/serve"
)

// TestReadTokensPrivate: behind read tokens no answer may be kept by a
// shared cache (private, Vary: Authorization); without tokens the
// cacheable answers stay public.
func TestReadTokensPrivate(t *testing.T) {
	f := newFixture(t)
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: f.store, Admin: admin, ZoneSets: sets,
		ReadTokens: []string{"analyst-token"}})
	paths := []string{
		tilePath(ghoutaLon, ghoutaLat, 6, "geojson") + "?" + win,
		tilePath(ghoutaLon, ghoutaLat, 10, "mvt") + "?" + win,
		"/v1/zones.geojson?" + win,
		"/v1/zones/nationwide-2016/series?" + win,
		"/v1/admin/adm1.geojson?" + win,
		"/v1/reports?limit=2&" + win,
		"/openapi.json",
	}
	for _, p := range paths {
		for _, hdr := range [][]string{{"Authorization", "Bearer analyst-token"}, {"Authorization", "Bearer analyst-token", "If-None-Match", "*"}} {
			resp, body := get(t, hs.URL+p, hdr...)
			if resp.StatusCode != 200 && resp.StatusCode != 304 {
				t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
			}
			cc := resp.Header.Get("Cache-Control")
			if strings.Contains(cc, "public") || !strings.Contains(cc, "private") && !strings.HasPrefix(cc, "no-") {
				t.Errorf("%s (%d) with tokens: Cache-Control %q", p, resp.StatusCode, cc)
			}
			if !varies(resp.Header, "Authorization") {
				t.Errorf("%s (%d) with tokens: Vary %q", p, resp.StatusCode, resp.Header.Values("Vary"))
			}
		}
		resp, _ := get(t, f.http.URL+p)
		if cc := resp.Header.Get("Cache-Control"); p != paths[5] && !strings.HasPrefix(cc, "public") {
			t.Errorf("%s without tokens: Cache-Control %q", p, cc)
		}
	}
}

func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// TestDateRange: dates get the year range of full timestamps.
func TestDateRange(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ query, param string }{
		{"from=1880-12-01&to=1881-12-01", "to"},
		{"from=1880-12-01T00:00:00Z&to=1881-12-01", "to"},
		{"from=1880-12-01&to=2017-01-01T00:00:00Z", "from"},
		{"from=1970-12-01&to=1971-01-01", "from"},
		{"from=2106-01-01&to=2106-02-01", "to"},
	} {
		for _, p := range []string{"/v1/reports", "/v1/admin/adm1.geojson", "/v1/zones.geojson", tilePath(ghoutaLon, ghoutaLat, 6, "geojson")} {
			resp, body := get(t, f.http.URL+p+"?"+c.query)
			var e struct {
				Error struct {
					Status         int
					Param, Message string
				}
			}
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 400 || e.Error.Param != c.param || !strings.Contains(e.Error.Message, "out of range") {
				t.Errorf("%s?%s: %d %s, want 400 naming %s", p, c.query, resp.StatusCode, body, c.param)
			}
		}
	}
	if resp, body := get(t, f.http.URL+"/v1/reports?from=1971-01-01&to=1971-12-01"); resp.StatusCode != 200 {
		t.Errorf("1971: %d %s", resp.StatusCode, body)
	}
}

// TestMethodNotAllowed: every route of the table answers another method
// with 405, an Allow header listing what it serves, and the common error
// body; a path no route has stays 404.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	admin, sets, _ := matcher(t)
	intake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	withIntake, err := serve.New(serve.Options{Store: f.store, Admin: admin, ZoneSets: sets, Intake: intake})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(withIntake)
	defer hs.Close()
	examples := map[string]string{
		"/v1/tiles/{z}/{x}/{y}.{format}": "/v1/tiles/6/38/25.mvt",
		"/v1/zones/{id}/series":          "/v1/zones/astana-1/series",
		"/v1/admin/{level}.geojson":      "/v1/admin/adm1.geojson",
	}
	for _, srv := range []struct {
		name   string
		url    string
		intake bool
	}{{"without intake", f.http.URL, false}, {"with intake", hs.URL, true}} {
		_, body := get(t, srv.url+"/openapi.json")
		var doc struct{ Paths map[string]map[string]any }
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		for p, ops := range doc.Paths {
			u := p
			if ex, ok := examples[p]; ok {
				u = ex
			}
			want := "GET, HEAD"
			if _, ok := ops["post"]; ok {
				want += ", POST"
			}
			if p == "/v1/reports" && (ops["post"] != nil) != srv.intake {
				t.Errorf("%s: POST /v1/reports documented: %v", srv.name, ops["post"] != nil)
			}
			for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
				if _, ok := ops[strings.ToLower(m)]; ok {
					continue
				}
				req, _ := http.NewRequest(m, srv.url+u, strings.NewReader("{}"))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var e struct {
					Error struct {
						Status  int
						Param   string
						Message string
					}
				}
				err = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				if resp.StatusCode != 405 || resp.Header.Get("Allow") != want || err != nil || e.Error.Status != 405 || e.Error.Message == "" {
					t.Errorf("%s: %s %s: %d Allow %q %+v, want 405 Allow %q", srv.name, m, u, resp.StatusCode, resp.Header.Get("Allow"), e, want)
				}
			}
		}
	}
	for _, c := range []struct {
		method, path string
		body         io.Reader
		want         int
	}{{"POST", "/v1/reports", strings.NewReader("{}"), 202}, {"DELETE", "/v2/nothing", nil, 404}} {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, c.body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}
