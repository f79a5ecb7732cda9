package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// incidentFeed is events in three places reported by one to three
// partners, some definite or possible violations, some too coarse for a
// district or for anything, one outside the window, resolved by the
// resolver; rows by key.
func incidentFeed(t *testing.T, areas [3][3]string) (*storage.Store, map[read.ReportKey]storage.Row) {
	t.Helper()
	rng := rand.New(rand.NewPCG(8, 8))
	base := time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC)
	places := [3][2]float64{{36.40, 33.57}, {36.63, 35.93}, {37.16, 36.20}}
	var rows []storage.Row
	for e := range 60 {
		pl := e % 3
		lon, lat := places[pl][0]+(rng.Float64()-0.5)*0.1, places[pl][1]+(rng.Float64()-0.5)*0.1
		at := base.Add(time.Duration(rng.Int64N(9*86400)) * time.Second)
		if e == 59 {
			at = base.AddDate(0, 0, 19) // outside the window
		}
		for pi, p := range []string{"ru-obs", "tr-obs", "ngo"} {
			if pi > 0 && rng.IntN(3) == 0 {
				continue
			}
			r := storage.Row{PartnerID: p, ReportID: fmt.Sprintf("%s-%d", p, e), Revision: 1, ReceivedAt: base,
				ObservedAt: at.Add(time.Duration(rng.IntN(1800)) * time.Second),
				Lat:        lat + (rng.Float64()-0.5)*0.004, Lon: lon + (rng.Float64()-0.5)*0.004,
				Category: []string{"shelling", "airstrike"}[e%2], Killed: uint32(rng.IntN(6)), Injured: uint32(rng.IntN(4)),
				Adm1: areas[pl][0], Adm2: areas[pl][1], Adm3: areas[pl][2], Zones: []string{"nationwide-2016"}}
			switch {
			case e%7 == 0:
				r.AccuracyM = 30_000 // a district's worth: not in a sub-district, not beyond zoom 8
			case e%11 == 0:
				r.AccuracyM = 90_000 // placed nowhere but the country
			case e%5 == 3:
				r.AccuracyM = 20_000 // fused, but coarse beyond zoom 9
			}
			switch e % 4 {
			case 0:
				r.Violation, r.ViolationReason, r.Zones = true, "in_zone:astana-3", append(r.Zones, "astana-3")
			case 1:
				if pi == 0 {
					r.Violation, r.ViolationReason, r.PossibleZones = true, "possibly_in_zone:astana-3", []string{"astana-3"}
				}
			case 2:
				r.Violation, r.ViolationReason = true, []string{"in_zone:astana-3", "possibly_in_zone:astana-3"}[pi%2]
			case 3:
				r.PossibleZones = []string{"astana-3"} // no violation there
			}
			rows = append(rows, r)
		}
	}
	byKey := map[read.ReportKey]storage.Row{}
	for _, r := range rows {
		byKey[read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}] = r
	}
	return resolved(t, rows), byKey
}

// incidentCount is what the test expects an incident to add where it
// counts, computed here from the stored incidents and their reports.
type incidentCount struct {
	inc      read.Incident
	class    int // 0 none, 1 definite, 2 possible
	maxZoom  int // the last zoom it counts at (else coarse)
	maxLevel int // the finest admin level it counts at (0: none)
}

func countsOf(t *testing.T, store *storage.Store, rows map[read.ReportKey]storage.Row) []incidentCount {
	t.Helper()
	incs, err := store.Incidents(context.Background(), read.IncidentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []incidentCount
	for _, inc := range incs {
		c := incidentCount{inc: inc}
		for _, m := range inc.Members {
			switch r := rows[m]; {
			case strings.HasPrefix(r.ViolationReason, "in_zone"):
				c.class = 1
			case strings.HasPrefix(r.ViolationReason, "possibly") && c.class == 0:
				c.class = 2
			}
		}
		switch u := inc.UncertaintyM; {
		case u < 15_000:
			c.maxZoom, c.maxLevel = 99, 3
		case u <= 15_000:
			c.maxZoom, c.maxLevel = 10, 3
		case u <= 25_000:
			c.maxZoom, c.maxLevel = 9, 3
		case u <= 40_000:
			c.maxZoom, c.maxLevel = 8, 2
		case u <= 80_000:
			c.maxZoom, c.maxLevel = 7, 1
		default:
			c.maxZoom, c.maxLevel = 5, 0
		}
		out = append(out, c)
	}
	return out
}

// add adds c's measures to m (placed: else as coarse under coarse).
func (c incidentCount) add(m map[string]int64, placed bool, coarse string) {
	if !placed {
		m[coarse]++
		return
	}
	m["incidents"]++
	m["reports"] += int64(len(c.inc.Members))
	if len(c.inc.Partners) == 1 {
		m["single"]++
	} else {
		m["corroborated"]++
	}
	if len(c.inc.Groups) >= 2 {
		m["cross_groups"]++
	}
	if c.inc.Contested {
		m["contested"]++
	}
	if c.class == 1 {
		m["violations"]++
	}
	if c.class == 2 {
		m["possible_violations"]++
	}
	m["killed"] += int64(c.inc.Killed)
	m["killed_min"] += int64(c.inc.KilledMin)
	m["injured"] += int64(c.inc.Injured)
}

var incidentMeasures = []string{"incidents", "reports", "single", "corroborated", "cross_groups", "contested",
	"violations", "possible_violations", "killed", "killed_min", "injured"}

// sameMeasures compares the measures got (a feature's properties) with
// want, naming what.
func sameMeasures(t *testing.T, what string, got map[string]any, want map[string]int64, extra string) {
	t.Helper()
	for _, k := range append(incidentMeasures, extra) {
		if g, _ := got[k].(float64); int64(g) != want[k] {
			t.Errorf("%s: %s = %v, want %d", what, k, got[k], want[k])
		}
	}
}

type featureCollection struct {
	Features []struct {
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

func getFC(t *testing.T, u string) featureCollection {
	t.Helper()
	resp, body := get(t, u)
	var fc featureCollection
	if resp.StatusCode != 200 || json.Unmarshal(body, &fc) != nil {
		t.Fatalf("%s: %d %s", u, resp.StatusCode, body)
	}
	return fc
}

// TestIncidentAggregates: the grid tiles at every zoom, the admin and
// zone choropleths and the zone series with measure=incidents equal the
// counts made here from the stored incidents, with and without filters,
// with the server's caches (pyramids, metatiles) and without.
func TestIncidentAggregates(t *testing.T) {
	admin, sets, _ := matcher(t)
	a3 := admin.Areas(3)
	var areas [3][3]string
	for i, a := range []int{0, len(a3) / 2, len(a3) - 1} {
		areas[i] = [3]string{a3[a].Adm1, a3[a].Adm2, a3[a].PCode}
	}
	store, rows := incidentFeed(t, areas)
	counts := countsOf(t, store, rows)
	from, to := time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2017, 3, 11, 0, 0, 0, 0, time.UTC)
	in := func(c incidentCount, f url.Values) bool {
		at := time.Unix(c.inc.ObservedAt, 0)
		if at.Before(from) || !at.Before(to) {
			return false
		}
		if cat := f.Get("category"); cat != "" && c.inc.Category != cat {
			return false
		}
		return f.Get("violation") == "" || f.Get("violation") == "definite" && c.class == 1
	}
	var corroborated, classes [3]int
	var levels [4]int
	for _, c := range counts {
		corroborated[min(len(c.inc.Partners), 2)]++
		levels[c.maxLevel]++
		classes[c.class]++
	}
	t.Logf("%d incidents: partners %v, admin levels %v, classes %v", len(counts), corroborated, levels, classes)
	fusedCoarse := 0 // coarse beyond some zoom, yet of several reports
	for _, c := range counts {
		if c.maxZoom < 99 && len(c.inc.Members) > 1 {
			fusedCoarse++
		}
	}
	if corroborated[2] < 10 || levels[0] == 0 || levels[2] == 0 || classes[1] < 5 || classes[2] < 3 || fusedCoarse < 3 {
		t.Fatalf("fixture too thin")
	}
	for _, cacheBytes := range []int{0, -1} {
		hs := testServer(t, serve.Options{Store: store, Incidents: store, Admin: admin, ZoneSets: sets, CacheBytes: cacheBytes})
		for _, f := range []url.Values{{}, {"category": {"shelling"}, "violation": {"definite"}}} {
			q := "measure=incidents&from=2017-03-01&to=2017-03-11"
			if len(f) > 0 {
				q += "&" + f.Encode()
			}
			checkIncidentTiles(t, hs.URL, q, counts, func(c incidentCount) bool { return in(c, f) })
			checkIncidentAreas(t, hs.URL, f, counts, in)
		}
	}
}

func checkIncidentTiles(t *testing.T, base, q string, counts []incidentCount, in func(incidentCount) bool) {
	t.Helper()
	for _, z := range []maptile.Zoom{4, 7, 9, 11, 13, 16, 18, 21, 22} {
		tiles := map[maptile.Tile]map[string]map[string]int64{} // tile -> cell -> measures
		for _, c := range counts {
			if !in(c) {
				continue
			}
			pt := orb.Point{c.inc.Lon, c.inc.Lat}
			tl, cell := maptile.At(pt, z), maptile.At(pt, z+serve.GridBits)
			if tiles[tl] == nil {
				tiles[tl] = map[string]map[string]int64{}
			}
			key := fmt.Sprintf("%d/%d/%d", cell.Z, cell.X, cell.Y)
			if tiles[tl][key] == nil {
				tiles[tl][key] = map[string]int64{}
			}
			c.add(tiles[tl][key], int(z) <= c.maxZoom, "coarse_incidents")
		}
		n := 0
		for tl, want := range tiles {
			if n++; n > 5 {
				break
			}
			u := fmt.Sprintf("%s/v1/tiles/%d/%d/%d.geojson?%s", base, tl.Z, tl.X, tl.Y, q)
			got := map[string]map[string]any{}
			for _, f := range getFC(t, u).Features {
				got[f.Properties["cell"].(string)] = f.Properties
			}
			if len(got) != len(want) {
				t.Errorf("%s: %d cells, want %d", u, len(got), len(want))
			}
			if z == 9 { // by category: each cell's incidents split by category
				for _, f := range getFC(t, u+"&by=category").Features {
					p := f.Properties
					if n, _ := p["n_shelling"].(float64); n+numOr0(p["n_airstrike"]) != numOr0(p["incidents"]) {
						t.Errorf("%s&by=category: %v", u, p)
					}
				}
			}
			for cell, w := range want {
				sameMeasures(t, u+" cell "+cell, got[cell], w, "coarse_incidents")
			}
		}
	}
}

func checkIncidentAreas(t *testing.T, base string, f url.Values, counts []incidentCount, in func(incidentCount, url.Values) bool) {
	t.Helper()
	q := "measure=incidents&from=2017-03-01&to=2017-03-11&" + f.Encode()
	for level, name := range map[int]string{1: "adm1", 2: "adm2", 3: "adm3"} {
		want := map[string]map[string]int64{}
		for _, c := range counts {
			if in(c, f) {
				pc := [4]string{"", c.inc.Adm1, c.inc.Adm2, c.inc.Adm3}[level]
				if want[pc] == nil {
					want[pc] = map[string]int64{}
				}
				c.add(want[pc], c.maxLevel >= level, "coarse_incidents")
			}
		}
		for _, ft := range getFC(t, base+"/v1/admin/"+name+".geojson?zoom=2&"+q).Features {
			pc := ft.Properties["pcode"].(string)
			sameMeasures(t, name+" "+pc+" "+q, ft.Properties, want[pc], "coarse_incidents")
		}
	}
	// Zones take no violation filter; a zone's violations are the
	// candidates inside it, its possible_violations those only possibly
	// in it, as for reports.
	fz := url.Values{"category": f["category"]}
	q = "measure=incidents&from=2017-03-01&to=2017-03-11&" + fz.Encode()
	zones := map[string]map[string]int64{}
	series := map[string]int64{} // nationwide-2016's incidents per day
	for _, c := range counts {
		if !in(c, fz) {
			continue
		}
		for i, zs := range [][]string{c.inc.Zones, c.inc.PossibleZones} {
			for _, z := range zs {
				if zones[z] == nil {
					zones[z] = map[string]int64{}
				}
				m := zones[z]
				if i == 1 {
					m["possible_incidents"]++
					if c.class != 0 {
						m["possible_violations"]++
					}
					continue
				}
				inside := incidentCount{inc: c.inc} // its class counted apart
				inside.add(m, true, "")
				if c.class != 0 {
					m["violations"]++
				}
				if z == "nationwide-2016" {
					series[time.Unix(c.inc.ObservedAt, 0).UTC().Format("2006-01-02T00:00:00Z")]++
				}
			}
		}
	}
	for _, ft := range getFC(t, base+"/v1/zones.geojson?zoom=2&"+q).Features {
		id := ft.Properties["id"].(string)
		sameMeasures(t, "zone "+id+" "+q, ft.Properties, zones[id], "possible_incidents")
	}
	resp, body := get(t, base+"/v1/zones/nationwide-2016/series?bucket=day&tz=UTC&"+q)
	var sr struct{ Points []map[string]any }
	if resp.StatusCode != 200 || json.Unmarshal(body, &sr) != nil || len(sr.Points) != 10 {
		t.Fatalf("series: %d %s", resp.StatusCode, body)
	}
	for _, p := range sr.Points {
		if int64(p["incidents"].(float64)) != series[p["t"].(string)] {
			t.Errorf("series %s %s: %v incidents, want %d", q, p["t"], p["incidents"], series[p["t"].(string)])
		}
	}
}

func numOr0(v any) float64 { f, _ := v.(float64); return f }
