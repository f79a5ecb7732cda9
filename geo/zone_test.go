package geo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

const validSet = `{"type":"FeatureCollection","name":"test","features":[
 {"type":"Feature","properties":{"id":"square","kind":"buffer","valid_from":"2018-01-01","valid_to":"2018-12-31"},
  "geometry":{"type":"Polygon","coordinates":[[[36,35],[37,35],[37,36],[36,36],[36,35]],[[36.4,35.4],[36.6,35.4],[36.6,35.6],[36.4,35.6],[36.4,35.4]]]}},
 {"type":"Feature","properties":{"id":"homs","name":"Homs governorate","kind":"ceasefire","valid_from":"2018-01-01T00:00:00+02:00","pcodes":["SY04"],"guarantors":["A","B"],"source":"s1","sources":["s2"]},"geometry":null}
]}`

func TestLoadZoneSet(t *testing.T) {
	a := mustAdmin(t)
	zs, err := LoadZoneSet(strings.NewReader(validSet), a)
	if err != nil {
		t.Fatal(err)
	}
	if zs.Name != "test" || len(zs.Zones) != 2 || !strings.HasPrefix(zs.Version, "sha256:") {
		t.Fatalf("%+v", zs)
	}
	sq, homs := zs.Zones[0], zs.Zones[1]
	if !sq.ValidTo.Equal(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date valid_to %v: want the end of that day", sq.ValidTo)
	}
	if homs.Name != "Homs governorate" || len(homs.Guarantors) != 2 || len(homs.Sources) != 2 || homs.Geometry != nil {
		t.Errorf("%+v", homs)
	}
	if !sq.InForce(time.Date(2018, 12, 31, 23, 0, 0, 0, time.UTC)) || sq.InForce(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)) || sq.InForce(time.Date(2017, 12, 31, 23, 59, 0, 0, time.UTC)) {
		t.Error("InForce bounds")
	}
}

func TestValidation(t *testing.T) {
	a := mustAdmin(t)
	feature := func(props, geom string) string {
		return `{"type":"Feature","properties":{` + props + `},"geometry":` + geom + `}`
	}
	const sq = `{"type":"Polygon","coordinates":[[[36,35],[37,35],[37,36],[36,36],[36,35]]]}`
	for _, tc := range []struct {
		name, feature, zone, problem string
	}{
		{"open ring", feature(`"id":"open","kind":"buffer","valid_from":"2018-01-01"`,
			`{"type":"Polygon","coordinates":[[[36,35],[37,35],[37,36],[36,36]]]}`), "open", "ring 0 is not closed"},
		{"bow tie", feature(`"id":"bowtie","kind":"buffer","valid_from":"2018-01-01"`,
			`{"type":"Polygon","coordinates":[[[36,35],[37,36],[37,35],[36,36],[36,35]]]}`), "bowtie", "self-intersection"},
		{"spike", feature(`"id":"spike","kind":"buffer","valid_from":"2018-01-01"`,
			`{"type":"Polygon","coordinates":[[[36,35],[37,35],[38,35],[37,35],[37,36],[36,36],[36,35]]]}`), "spike", "self-intersection"},
		{"overlapping members", feature(`"id":"mp","kind":"buffer","valid_from":"2018-01-01"`,
			`{"type":"MultiPolygon","coordinates":[[[[36,35],[37,35],[37,36],[36,36],[36,35]]],[[[36.5,35.5],[37.5,35.5],[37.5,36.5],[36.5,36.5],[36.5,35.5]]]]}`), "mp", "self-intersection"},
		{"short ring", feature(`"id":"short","kind":"buffer","valid_from":"2018-01-01"`,
			`{"type":"Polygon","coordinates":[[[36,35],[37,35],[36,35]]]}`), "short", "need at least 4"},
		{"unknown pcode", feature(`"id":"nowhere","kind":"ceasefire","valid_from":"2018-01-01","pcodes":["SY07","SY99"]`, `null`), "nowhere", `unknown pcode "SY99"`},
		{"valid_to before valid_from", feature(`"id":"backwards","kind":"ceasefire","valid_from":"2018-01-01","valid_to":"2017-12-01","pcodes":["SY07"]`, `null`), "backwards", "valid_to 2017-12-01 is not after valid_from 2018-01-01"},
		{"bad date", feature(`"id":"baddate","kind":"ceasefire","valid_from":"1 Jan 2018","pcodes":["SY07"]`, `null`), "baddate", "valid_from"},
		{"no valid_from", feature(`"id":"nofrom","kind":"ceasefire","pcodes":["SY07"]`, `null`), "nofrom", "missing valid_from"},
		{"unknown kind", feature(`"id":"truce","kind":"truce","valid_from":"2018-01-01","pcodes":["SY07"]`, `null`), "truce", `unknown kind "truce"`},
		{"no id", feature(`"kind":"ceasefire","valid_from":"2018-01-01","pcodes":["SY07"]`, `null`), "#0", "missing id"},
		{"both", feature(`"id":"both","kind":"ceasefire","valid_from":"2018-01-01","pcodes":["SY07"]`, sq), "both", "both a geometry and pcodes"},
		{"neither", feature(`"id":"neither","kind":"ceasefire","valid_from":"2018-01-01"`, `null`), "neither", "neither a geometry nor pcodes"},
		{"point", feature(`"id":"pt","kind":"ceasefire","valid_from":"2018-01-01"`, `{"type":"Point","coordinates":[36,35]}`), "pt", "want Polygon or MultiPolygon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"type":"FeatureCollection","name":"t","features":[` + tc.feature + `]}`
			_, err := LoadZoneSet(strings.NewReader(doc), a)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error %v, want a *ValidationError", err)
			}
			for _, p := range verr.Problems {
				if p.Zone == tc.zone && strings.Contains(p.Problem, tc.problem) {
					return
				}
			}
			t.Fatalf("problems %v, want zone %s: %q", verr.Problems, tc.zone, tc.problem)
		})
	}
	// Duplicate ids, and every problem reported at once.
	doc := `{"type":"FeatureCollection","features":[` +
		feature(`"id":"x","kind":"ceasefire","valid_from":"2018-01-01","pcodes":["SY07"]`, `null`) + `,` +
		feature(`"id":"x","kind":"ceasefire","valid_from":"2018-01-01","pcodes":["SY99"]`, `null`) + `]}`
	_, err := LoadZoneSet(strings.NewReader(doc), a)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 2 || !strings.Contains(err.Error(), "duplicate id") {
		t.Fatalf("%v", err)
	}
	// pcodes without an Admin.
	if _, err := LoadZoneSet(strings.NewReader(doc), nil); !errors.Is(err, ErrNoAdmin) {
		t.Fatalf("no admin: %v", err)
	}
	// Not GeoJSON.
	if _, err := LoadZoneSet(strings.NewReader(`{"type":"Feature"`), a); err == nil {
		t.Fatal("broken JSON accepted")
	}
}

func TestInlineZoneMatch(t *testing.T) {
	a := mustAdmin(t)
	zs, err := LoadZoneSet(strings.NewReader(validSet), a)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatcher(a, zs)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)
	var dst Match
	ids := func() string {
		var s []string
		for _, h := range dst.Zones {
			id := h.ID
			if h.Possible {
				id += "?"
			}
			s = append(s, id)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		p    orb.Point
		acc  float64
		at   time.Time
		want string
	}{
		{orb.Point{36.2, 35.2}, 0, at, "square"},
		{orb.Point{36.5, 35.5}, 0, at, ""},                         // in the hole
		{orb.Point{36.4, 35.5}, 0, at, "square"},                   // on the hole's boundary
		{orb.Point{36, 35.5}, 0, at, "square"},                     // on the outer boundary
		{orb.Point{36.2, 35.2}, 0, at.AddDate(2, 0, 0), ""},        // expired
		{orb.Point{36.5, 35.5}, 15000, at, "square?"},              // hole, 11 km from its edge
		{orb.Point{35.99, 35.5}, 2000, at, "square?"},              // 900 m outside
		{orb.Point{36.7167, 34.7333}, 0, at, "homs"},               // Homs city
		{orb.Point{36.2, 35.2}, 0, time.Time{}, "square"},          // zero time: all zones
		{orb.Point{37.5, 34.5}, 0, at, "homs"},                     // Homs desert
		{orb.Point{36.7167, 34.7333}, 0, at.AddDate(-2, 0, 0), ""}, // before valid_from
	} {
		m.Match(tc.p, tc.at, tc.acc, &dst)
		if got := ids(); got != tc.want {
			t.Errorf("%v acc %v at %v: %q, want %q", tc.p, tc.acc, tc.at, got, tc.want)
		}
	}
}

// TestDistances checks DepthM and Nearest against a square whose edges
// are meridians and parallels, where distances are known.
func TestDistances(t *testing.T) {
	a := mustAdmin(t)
	zs, err := LoadZoneSet(strings.NewReader(validSet), a)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatcher(a, zs)
	if err != nil {
		t.Fatal(err)
	}
	var dst Match
	at := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)
	// 0.05 degrees of latitude north of the square's south edge, well
	// inside: the nearest edge is the south edge (0.05 deg = 5,559.9 m).
	m.MatchDistances(orb.Point{36.2, 35.05}, at, 0, &dst)
	if len(dst.Zones) != 1 || abs(dst.Zones[0].DepthM-5559.9) > 1 {
		t.Fatalf("depth: %+v", dst.Zones)
	}
	// South of the square: the buffer's nearest edge is 0.1 deg away.
	m.MatchDistances(orb.Point{36.2, 34.9}, at, 0, &dst)
	var near *ZoneNear
	for i := range dst.Nearest {
		if dst.Nearest[i].Kind == KindBuffer {
			near = &dst.Nearest[i]
		}
	}
	if near == nil || near.ID != "square" || abs(near.DistanceM-11119.5) > 2 {
		t.Fatalf("nearest: %+v", dst.Nearest)
	}
	// Possible hits carry the signed distance.
	m.Match(orb.Point{36.2, 34.99}, at, 2000, &dst)
	if len(dst.Zones) != 1 || !dst.Zones[0].Possible || abs(dst.Zones[0].DepthM+1112) > 1 {
		t.Fatalf("possible: %+v", dst.Zones)
	}
	// Shipped: Damascus is deep in the nationwide ceasefire; the distance
	// to the border (Lebanon, about 25 km west) is plausible.
	ms := mustMatcher(t)
	ms.MatchDistances(orb.Point{36.2919, 33.5138}, time.Date(2017, 9, 1, 0, 0, 0, 0, time.UTC), 0, &dst)
	var depth float64
	for _, h := range dst.Zones {
		if h.ID == "nationwide-2016" {
			depth = h.DepthM
		}
	}
	if depth < 15000 || depth > 40000 {
		t.Fatalf("Damascus depth in the nationwide zone %.0f m: %+v", depth, dst)
	}
	// And its nearest de-escalation zone is Eastern Ghouta, a few km away.
	if len(dst.Nearest) != 1 || dst.Nearest[0].ID != "astana-3" || dst.Nearest[0].DistanceM > 10000 {
		t.Fatalf("Damascus nearest: %+v", dst.Nearest)
	}
}

func TestHolderReload(t *testing.T) {
	a := mustAdmin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "zones.geojson")
	if err := os.WriteFile(path, []byte(validSet), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v0 := h.Load().Version()
	if changed, err := h.Reload(path); err != nil || !changed {
		t.Fatalf("first reload: %v %v", changed, err)
	}
	v1 := h.Load().Version()
	if v1 == v0 {
		t.Fatal("version did not change")
	}
	if changed, err := h.Reload(path); err != nil || changed {
		t.Fatalf("same file: %v %v", changed, err)
	}
	// A broken file keeps the current matcher.
	if err := os.WriteFile(path, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x"},"geometry":null}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Reload(path); err == nil || h.Load().Version() != v1 || h.LastError() == nil {
		t.Fatalf("broken file: %v, version %s", err, h.Load().Version())
	}

	// Watch picks up a fixed file while matches run concurrently.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = h.Watch(ctx, 10*time.Millisecond, path)
	}()
	go func() {
		defer wg.Done()
		var dst Match
		for ctx.Err() == nil {
			h.Match(orb.Point{36.2, 35.2}, time.Time{}, 0, &dst)
			if dst.ZoneSet == "" {
				t.Error("empty version")
				return
			}
		}
	}()
	fixed := strings.Replace(validSet, `"name":"test"`, `"name":"test2"`, 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.Load().Version() == v1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if h.Load().Version() == v1 || h.LastError() != nil {
		t.Fatalf("watch did not reload: %v", h.LastError())
	}
	if sets := h.Load().ZoneSets(); len(sets) != 1 || sets[0].Name != "test2" {
		t.Fatalf("sets %+v", sets)
	}
}
