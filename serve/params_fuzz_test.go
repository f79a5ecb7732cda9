package serve

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

// FuzzParams feeds arbitrary query strings to the parameter parsing every
// endpoint uses. It must never panic; every rejection must be a 400 that
// names a parameter; every acceptance must be within the documented
// limits. The seed corpus (testdata/fuzz/FuzzParams) holds hostile
// strings: SQL fragments, huge numbers, NaN, unicode tricks.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		"from=2017-01-01&to=2017-03-01&category=shelling,airstrike&violation=true&bbox=35,32,37,34&limit=100",
		"category=shelling'%20OR%201=1--&zone=astana-1",
		"bbox=NaN,0,1,1", "bbox=-1e400,0,1,1", "limit=99999999999999999999",
		"from=2017-01-01T00:00:00Z&to=9999-12-31T00:00:00Z",
		"partner=sn4hr%00&side=government%E2%80%AE", "cursor=eyJ0IjoxfQ", "cursor=%ff%fe",
		"zone=astana-1;DROP%20TABLE%20reports", "from=now()&to=toDateTime(1)",
	} {
		f.Add(s)
	}
	now := time.Date(2017, 12, 31, 0, 0, 0, 0, time.UTC)
	allowed := []string{"from", "to", "category", "side", "violation", "zone", "partner", "bbox", "limit", "cursor"}
	known := func(z string) bool { return z == "astana-1" || z == "nationwide-2016" }
	f.Fuzz(func(t *testing.T, raw string) {
		check := func(err error) bool {
			if err == nil {
				return true
			}
			var pe *paramError
			if !errors.As(err, &pe) || pe.Param == "" || pe.Message == "" || (pe.Status != 0 && pe.Status != 400) {
				t.Fatalf("%q: rejection %T %v is not a 400 naming a parameter", raw, err, err)
			}
			return false
		}
		q, err := newQuery(&url.URL{RawQuery: raw}, allowed)
		if !check(err) {
			return
		}
		if w, err := q.window(now, 30*24*time.Hour, DefaultMaxWindow); check(err) {
			if !w.To.After(w.From) || w.To.Sub(w.From) > DefaultMaxWindow {
				t.Fatalf("%q: accepted window %v..%v", raw, w.From, w.To)
			}
		}
		if fl, err := q.filters(known); check(err) {
			for _, z := range fl.Zones {
				if !known(z) {
					t.Fatalf("%q: accepted unknown zone %q", raw, z)
				}
			}
			for _, p := range fl.Partners {
				if !validPartner(p) {
					t.Fatalf("%q: accepted partner %q", raw, p)
				}
			}
		}
		if b, ok, err := q.bbox("bbox", false); check(err) && ok {
			if b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90 || b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
				t.Fatalf("%q: accepted bbox %v", raw, b)
			}
		}
		if n, err := q.intRange("limit", 100, 1, 1000); check(err) && (n < 1 || n > 1000) {
			t.Fatalf("%q: accepted limit %d", raw, n)
		}
		_, err = q.cursor()
		check(err)
	})
}
