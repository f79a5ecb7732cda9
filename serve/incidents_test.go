package serve_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/incident"
	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

// incidentStore is a store holding two events: one reported by a partner
// of each guarantor, who disagree on casualties and the perpetrator, and
// one reported by a single partner; resolved into incidents.
func incidentStore(t *testing.T) *storage.Store {
	t.Helper()
	at := time.Date(2017, 3, 2, 14, 0, 0, 0, time.UTC)
	rows := []storage.Row{
		{PartnerID: "ru-obs", ReportID: "r1", Revision: 1, ObservedAt: at, Lat: 33.55, Lon: 36.40, AccuracyM: 300,
			Category: "shelling", PerpetratorSide: "opposition", Killed: 2, ReceivedAt: at, Adm1: "SY03",
			Violation: true, ViolationReason: "in_zone:z1"},
		{PartnerID: "tr-obs", ReportID: "t1", Revision: 1, ObservedAt: at.Add(40 * time.Minute), Lat: 33.556, Lon: 36.405,
			Category: "shelling", PerpetratorSide: "government", Killed: 4, ReceivedAt: at, Adm1: "SY03",
			Violation: true, ViolationReason: "possibly_in_zone:z1"},
		{PartnerID: "tr-obs", ReportID: "t2", Revision: 1, ObservedAt: at, Lat: 35.93, Lon: 36.63,
			Category: "airstrike", Killed: 1, ReceivedAt: at, Adm1: "SY07",
			Violation: true, ViolationReason: "possibly_in_zone:z2"},
	}
	return resolved(t, rows)
}

// resolved is a store holding rows, in one span, resolved into incidents
// (ru-obs and tr-obs in the two guarantors' groups).
func resolved(t *testing.T, rows []storage.Row) *storage.Store {
	t.Helper()
	ctx := context.Background()
	store := chtest.Store(t)
	sp := storage.Span{Source: storage.Source{Cluster: "c", Topic: "reports"}, First: 0, Last: int64(len(rows)) - 1}
	if _, err := store.WriteBatch(ctx, storage.Batch{Span: sp, Rows: rows}); err != nil {
		t.Fatal(err)
	}
	r, err := incident.New(incident.Options{Store: store, Groups: map[string]string{"ru-obs": "guarantor:ru", "tr-obs": "guarantor:tr"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Step(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestIncidentsAPI(t *testing.T) {
	store := incidentStore(t)
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: store, Incidents: store, Admin: admin, ZoneSets: sets})

	resp, body := get(t, hs.URL+"/v1/incidents?from=2017-03-01&to=2017-03-08")
	if resp.StatusCode != 200 {
		t.Fatalf("incidents: %d %s", resp.StatusCode, body)
	}
	var fc struct {
		Features []struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
		Counts    map[string]int64 `json:"counts"`
		Truncated bool             `json:"truncated"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"incidents": 2, "reports": 3, "single": 1, "corroborated": 1, "cross_groups": 1,
		"contested": 1, "violations": 1, "possible_violations": 1, "killed": 5, "killed_min": 3}
	for k, v := range want {
		if fc.Counts[k] != v {
			t.Errorf("counts[%s] = %d, want %d (%s)", k, fc.Counts[k], v, body)
		}
	}
	if len(fc.Features) != 2 || fc.Truncated {
		t.Fatalf("%d features, truncated %v", len(fc.Features), fc.Truncated)
	}
	var fused string
	for _, f := range fc.Features {
		if f.Properties["corroboration"] == "cross_groups" {
			fused = f.ID
		}
	}
	if fused == "" {
		t.Fatalf("no incident of both guarantors' partners: %s", body)
	}
	// A definite member makes the fused incident definite; the single
	// report's incident is as possible as its report.
	for _, f := range fc.Features {
		if want := map[bool]string{true: "definite", false: "possible"}[f.ID == fused]; f.Properties["violation_class"] != want {
			t.Errorf("%s: violation_class %v, want %s", f.ID, f.Properties["violation_class"], want)
		}
	}
	_, body = get(t, hs.URL+"/v1/incidents?from=2017-03-01&to=2017-03-08&bbox=36,33,37,34&limit=1")
	if err := json.Unmarshal(body, &fc); err != nil || len(fc.Features) != 1 || fc.Features[0].ID != fused || fc.Counts["incidents"] != 1 {
		t.Fatalf("bbox: %s", body)
	}

	resp, body = get(t, hs.URL+"/v1/incidents/"+fused)
	if resp.StatusCode != 200 {
		t.Fatalf("incident: %d %s", resp.StatusCode, body)
	}
	var one struct {
		Incident map[string]any   `json:"incident"`
		Reports  []map[string]any `json:"reports"`
		Differs  []string         `json:"differs"`
		Spread   map[string]float64
	}
	if err := json.Unmarshal(body, &one); err != nil {
		t.Fatal(err)
	}
	if len(one.Reports) != 2 || one.Incident["contested"] != true || one.Incident["killed"] != 4.0 || one.Incident["killed_min"] != 2.0 {
		t.Fatalf("incident: %s", body)
	}
	for _, f := range []string{"observed_at", "location", "accuracy_m", "perpetrator.side", "killed"} {
		if !slices.Contains(one.Differs, f) {
			t.Errorf("differs %v lacks %s", one.Differs, f)
		}
	}
	if slices.Contains(one.Differs, "category") || one.Spread["time_s"] != 2400 || one.Spread["distance_m"] < 700 || one.Spread["distance_m"] > 900 {
		t.Errorf("differs %v, spread %v", one.Differs, one.Spread)
	}

	for path, code := range map[string]int{
		"/v1/incidents/i0000000000000000": 404, "/v1/incidents?limit=0": 400, "/v1/incidents?zone=x": 400,
		"/v1/incidents/" + fused + "?x=1": 400,
	} {
		if resp, body := get(t, hs.URL+path); resp.StatusCode != code {
			t.Errorf("%s: %d, want %d: %s", path, resp.StatusCode, code, body)
		}
	}
}

// TestAdminIncidents: measure=incidents on the admin choropleths counts each
// incident once in the area of its representative point, and an incident
// too coarse for the level apart.
func TestAdminIncidents(t *testing.T) {
	at := time.Date(2017, 3, 2, 14, 0, 0, 0, time.UTC)
	douma := func(r storage.Row) storage.Row {
		r.Adm1, r.Adm2, r.Adm3, r.Category, r.ReceivedAt = "SY03", "SY0302", "SY030200", "shelling", at
		return r
	}
	rows := []storage.Row{
		douma(storage.Row{PartnerID: "ru-obs", ReportID: "r1", Revision: 1, ObservedAt: at, Lat: 33.55, Lon: 36.40, AccuracyM: 300, Killed: 2,
			Zones: []string{"nationwide-2016", "astana-3"}}),
		douma(storage.Row{PartnerID: "tr-obs", ReportID: "t1", Revision: 1, ObservedAt: at.Add(40 * time.Minute), Lat: 33.556, Lon: 36.405, Killed: 4,
			Zones: []string{"nationwide-2016"}, PossibleZones: []string{"astana-3"}}),
		douma(storage.Row{PartnerID: "tr-obs", ReportID: "t2", Revision: 1, ObservedAt: at, Lat: 33.60, Lon: 36.50, Category: "shelling", Killed: 1,
			Zones: []string{"nationwide-2016"}}),
		// Known to the governorate only: an incident of its own, too
		// coarse for a district.
		douma(storage.Row{PartnerID: "ngo", ReportID: "n1", Revision: 1, ObservedAt: at, Lat: 33.5, Lon: 36.6, GeoPrecision: "adm1", AccuracyM: 80000, Killed: 7,
			PossibleZones: []string{"nationwide-2016"}}),
	}
	store := resolved(t, rows)
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: store, Incidents: store, Admin: admin, ZoneSets: sets})
	area := func(level, pcode string) map[string]any {
		t.Helper()
		resp, body := get(t, hs.URL+"/v1/admin/"+level+".geojson?measure=incidents&from=2017-03-01&to=2017-03-08&zoom=4")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", level, resp.StatusCode, body)
		}
		var fc struct {
			Features []struct {
				Properties map[string]any `json:"properties"`
			} `json:"features"`
		}
		if err := json.Unmarshal(body, &fc); err != nil {
			t.Fatal(err)
		}
		for _, f := range fc.Features {
			if f.Properties["pcode"] == pcode {
				return f.Properties
			}
		}
		t.Fatalf("%s: no area %s", level, pcode)
		return nil
	}
	// Three incidents in the district (the fused pair, t2, n1), n1 too
	// coarse for it; at the governorate all three count.
	want := map[string]map[string]float64{
		"adm2": {"incidents": 2, "reports": 3, "corroborated": 1, "single": 1, "cross_groups": 1, "killed": 5, "killed_min": 3, "coarse_incidents": 1},
		"adm1": {"incidents": 3, "reports": 4, "corroborated": 1, "single": 2, "killed": 12, "coarse_incidents": 0},
	}
	for level, w := range want {
		p := area(level, map[string]string{"adm2": "SY0302", "adm1": "SY03"}[level])
		for k, v := range w {
			if p[k] != v {
				t.Errorf("%s %s = %v, want %v (%v)", level, k, p[k], v, p)
			}
		}
	}
	// The same incidents by zone, at their representative report (the most
	// precise: t1, only possibly in astana-3): the fused pair and t2 in
	// nationwide-2016, n1 only possibly in it.
	resp, body := get(t, hs.URL+"/v1/zones.geojson?measure=incidents&from=2017-03-01&to=2017-03-08&zoom=4")
	if resp.StatusCode != 200 {
		t.Fatalf("zones: %d %s", resp.StatusCode, body)
	}
	var zfc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &zfc); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]float64{}
	for _, f := range zfc.Features {
		p := f.Properties
		got[p["id"].(string)] = [2]float64{p["incidents"].(float64), p["possible_incidents"].(float64)}
	}
	if got["nationwide-2016"] != [2]float64{2, 1} || got["astana-3"] != [2]float64{0, 1} || got["astana-1"] != [2]float64{0, 0} {
		t.Errorf("zones by incidents: %v", got)
	}
	// nationwide-2016's series of incidents, one day, in Damascus time:
	// the pair and t2 inside it, n1 possibly.
	resp, body = get(t, hs.URL+"/v1/zones/nationwide-2016/series?measure=incidents&bucket=day&from=2017-03-02&to=2017-03-03&tz=Asia/Damascus")
	var series struct {
		Measure string
		Points  []map[string]any
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &series) != nil || series.Measure != "incidents" || len(series.Points) != 1 {
		t.Fatalf("incident series: %d %s", resp.StatusCode, body)
	}
	if p := series.Points[0]; p["t"] != "2017-03-02T00:00:00+02:00" || p["incidents"] != 2.0 || p["possible_incidents"] != 1.0 || p["cross_groups"] != 1.0 || p["killed"] != 5.0 {
		t.Errorf("incident series point: %v", p)
	}
	// What the incident aggregates do not hold is refused, naming why.
	for path, param := range map[string]string{
		"/v1/tiles/6/38/25.mvt?measure=incidents&side=government":                         "measure",
		"/v1/tiles/6/38/25.mvt?measure=incidents&from=2017-03-01T05:00:00Z&to=2017-03-08": "from",
		"/v1/tiles/6/38/25.mvt?measure=events":                                            "measure",
	} {
		if resp, body := get(t, hs.URL+path); resp.StatusCode != 400 || !strings.Contains(string(body), `"param":"`+param+`"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}
