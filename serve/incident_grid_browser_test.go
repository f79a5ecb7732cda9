package serve_test

import (
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
)

// TestBrowserViolationsCountIncidents: showing violations, the map's grid
// and areas count incidents unless the count is chosen: the same
// violation reported by two partners is one violation, and the cells
// MapLibre drew carry the incident aggregate's measures; choosing
// "reports" counts every report again.
func TestBrowserViolationsCountIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	at := time.Date(2017, 3, 2, 14, 0, 0, 0, time.UTC)
	viol := func(r storage.Row) storage.Row {
		r.Revision, r.ReceivedAt, r.Violation, r.ViolationReason, r.Zones = 1, at, true, "in_zone:astana-3", []string{"astana-3"}
		return r
	}
	store := resolved(t, []storage.Row{
		viol(storage.Row{PartnerID: "ru-obs", ReportID: "r1", ObservedAt: at, Lat: 33.55, Lon: 36.40, Category: "shelling", Adm1: "SY03"}),
		viol(storage.Row{PartnerID: "tr-obs", ReportID: "t1", ObservedAt: at.Add(30 * time.Minute), Lat: 33.553, Lon: 36.402, Category: "shelling", Adm1: "SY03"}),
		viol(storage.Row{PartnerID: "tr-obs", ReportID: "t2", ObservedAt: at, Lat: 35.93, Lon: 36.63, Category: "airstrike", Adm1: "SY07"}),
	})
	admin, sets, _ := matcher(t)
	hs := testServer(t, serve.Options{Store: store, Incidents: store, Admin: admin, ZoneSets: sets})
	b := newBrowser(t)
	b.load(t, hs.URL+"/#lon=38.6000&lat=34.9000&z=6.10&from=2017-03-01&to=2017-03-08&live=0&choro=adm1&measure=violations")
	type drawn struct {
		Count, Legend                                string
		Cells, Incidents, Reports, Violations, Areas int64
	}
	const look = `(() => {
		const cells = window.trucewatch.rendered('cells-fill'), areas = window.trucewatch.rendered('choro-fill');
		const sum = (xs, k) => xs.reduce((n, x) => n + (x[k] ?? 0), 0);
		return { count: document.querySelector('#f-count').value, legend: document.querySelector('#legend h2').textContent,
			cells: cells.length, incidents: sum(cells, 'incidents'), reports: sum(cells, 'reports'),
			violations: sum(cells, 'violations'), areas: sum(areas, 'value') };
	})()`
	got := eval[drawn](t, b, look)
	if got.Count != "incidents" || got.Legend != "violations (incidents) per grid cell" || got.Cells != 2 ||
		got.Incidents != 2 || got.Reports != 3 || got.Violations != 2 || got.Areas != 2 {
		t.Errorf("violations by default: %+v", got)
	}
	if st := eval[pageState](t, b, `window.trucewatch.state()`); st.Measure != "violations" {
		t.Errorf("state: %+v", st)
	}
	// The zone's panel: its weekly series counts incidents too.
	b.load(t, hs.URL+"/#lon=38.6000&lat=34.9000&z=6.10&from=2017-03-01&to=2017-03-08&live=0&choro=adm1&measure=violations&sel=zone:astana-3")
	if bars := eval[[]string](t, b, `[...document.querySelectorAll('#panel svg title')].map((t) => t.textContent)`); len(bars) != 2 ||
		bars[0] != "week of 2017-02-27: 2 incidents, 2 violations" {
		t.Errorf("the zone's series: %q", bars)
	}
	eval[bool](t, b, `(() => { const e = document.querySelector('#f-count'); e.value = 'reports'; e.dispatchEvent(new Event('change')); return true; })()`)
	b.idle(t)
	got = eval[drawn](t, b, look)
	if got.Count != "reports" || got.Legend != "violations per grid cell" || got.Incidents != 0 || got.Violations != 3 || got.Areas != 3 {
		t.Errorf("violations counting reports: %+v", got)
	}
	b.check(t, hs.URL)
}
