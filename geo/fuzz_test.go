package geo

import (
	"bytes"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// FuzzLoadZoneSet: any input is either rejected or gives zones that a
// Matcher can index and match.
func FuzzLoadZoneSet(f *testing.F) {
	f.Add([]byte(validSet))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"a","kind":"buffer","valid_from":"2018-01-01"},"geometry":{"type":"MultiPolygon","coordinates":[[[[36,35],[37,35],[36,36],[36,35]]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"a","kind":"ceasefire","valid_from":"2018-01-01","pcodes":["SY07"]},"geometry":null}]}`))
	a := mustAdmin(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		zs, err := LoadZoneSet(bytes.NewReader(data), a)
		if err != nil {
			return
		}
		m, err := NewMatcher(a, zs)
		if err != nil {
			return
		}
		var dst Match
		for _, z := range zs.Zones {
			if z.Geometry == nil {
				continue
			}
			b := z.Geometry.Bound()
			for _, p := range []orb.Point{b.Min, b.Max, b.Center()} {
				m.MatchDistances(p, time.Time{}, 100, &dst)
			}
		}
	})
}
