package serve_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trucewatch/trucewatch/serve"
)

// TestBrowserMapIncidents: the map draws the incidents of the view
// coloured by corroboration with their counts, and a click on one lists
// its reports side by side with what differs.
func TestBrowserMapIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	store := incidentStore(t)
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: store, Incidents: store, Admin: admin, ZoneSets: sets,
		Now: func() time.Time { return time.Date(2017, 3, 8, 0, 0, 0, 0, time.UTC) }})
	_, body := get(t, hs.URL+"/v1/incidents?from=2017-03-01&to=2017-03-08&bbox=36,33,37,34")
	var fc struct {
		Features []struct {
			ID       string `json:"id"`
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil || len(fc.Features) != 1 {
		t.Fatalf("incidents: %s %v", body, err)
	}
	inc := fc.Features[0]

	b := newBrowser(t)
	b.load(t, hs.URL+"/#lon=36.4000&lat=33.5500&z=12.00&from=2017-03-01&to=2017-03-08&live=0&grid=0&choro=none")
	type dot struct {
		ID, Corroboration string
		Reports           int
		Contested         bool
	}
	dots := eval[[]dot](t, b, `window.trucewatch.rendered('incidents-dot')`)
	if len(dots) != 1 || dots[0].ID != inc.ID || dots[0].Corroboration != "cross_groups" || dots[0].Reports != 2 || !dots[0].Contested {
		t.Fatalf("incidents drawn: %+v", dots)
	}
	type incState struct {
		Counts  map[string]int64
		Shown   string
		Reports int
		Differs []string
	}
	st := eval[incState](t, b, `window.trucewatch.incidents()`)
	if st.Counts["incidents"] != 1 || st.Counts["cross_groups"] != 1 || st.Counts["contested"] != 1 || st.Counts["reports"] != 2 {
		t.Fatalf("counts shown: %+v", st.Counts)
	}
	type point struct{ X, Y float64 }
	p := eval[point](t, b, `window.trucewatch.project(`+jsNum(inc.Geometry.Coordinates[0])+`, `+jsNum(inc.Geometry.Coordinates[1])+`)`)
	run(t, b, chromedp.MouseClickXY(p.X, p.Y))
	b.idle(t)
	st = eval[incState](t, b, `window.trucewatch.incidents()`)
	if st.Shown != inc.ID || st.Reports != 2 || !slices.Contains(st.Differs, "killed") {
		t.Fatalf("incident shown: %+v", st)
	}
	cols := eval[int](t, b, `document.querySelectorAll('#incidents .incident tr:first-child td').length`)
	differing := eval[int](t, b, `document.querySelectorAll('#incidents .incident tr.differs').length`)
	if cols != 2 || differing < 4 {
		t.Fatalf("the incident's table: %d report columns, %d rows that differ", cols, differing)
	}
	// The governorates counting incidents: the fused pair once in Rural
	// Damascus, the single report in Idlib, as the API says.
	b.load(t, hs.URL+"/#lon=38.6000&lat=34.9000&z=6.10&from=2017-03-01&to=2017-03-08&live=0&grid=0&choro=adm1&count=incidents")
	areas := eval[[]renderedArea](t, b, `window.trucewatch.rendered('choro-fill')`)
	drawn := map[string]int64{}
	for _, a := range areas {
		drawn[a.Pcode] = a.Value
	}
	if drawn["SY03"] != 1 || drawn["SY07"] != 1 || len(areas) < 10 {
		t.Fatalf("governorates by incidents: %v", drawn)
	}
	if legend := eval[string](t, b, `document.querySelector('#legend h2:nth-of-type(1)')?.textContent ?? ''`); legend != "incidents per governorate" {
		t.Errorf("legend title %q", legend)
	}
	b.check(t, hs.URL)
}

func jsNum(f float64) string { b, _ := json.Marshal(f); return string(b) }
