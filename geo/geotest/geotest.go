// Package geotest gives tests the shipped admin boundaries, zone sets and
// matchers, loaded once per test binary: they are read-only, and loading
// and indexing them costs about a second each time.
package geotest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trucewatch/trucewatch/geo"
)

type shippedData struct {
	admin *geo.Admin
	sets  []*geo.ZoneSet
}

var shipped = sync.OnceValues(func() (shippedData, error) {
	admin, err := geo.LoadAdmin()
	if err != nil {
		return shippedData{}, err
	}
	sets, err := geo.ShippedZoneSets(admin)
	return shippedData{admin, sets}, err
})

// Shipped returns the shipped admin boundaries and zone sets.
func Shipped(t testing.TB) (*geo.Admin, []*geo.ZoneSet) {
	t.Helper()
	d, err := shipped()
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	return d.admin, d.sets
}

var matchers struct {
	sync.Mutex
	m map[string]*geo.Matcher
}

// Matcher returns a matcher of the shipped boundaries and the shipped zone
// sets named (every one when none are), built once per list of names.
func Matcher(t testing.TB, names ...string) *geo.Matcher {
	t.Helper()
	admin, sets := Shipped(t)
	key := strings.Join(names, ",")
	matchers.Lock()
	defer matchers.Unlock()
	if m := matchers.m[key]; m != nil {
		return m
	}
	if len(names) > 0 {
		var named []*geo.ZoneSet
		for _, s := range sets {
			if slices.Contains(names, s.Name) {
				named = append(named, s)
			}
		}
		if len(named) != len(names) {
			t.Fatalf("geotest: %d of the zone sets %q are shipped", len(named), names)
		}
		sets = named
	}
	m, err := geo.NewMatcher(admin, sets...)
	if err != nil {
		t.Fatal(fmt.Errorf("geotest: %w", err))
	}
	if matchers.m == nil {
		matchers.m = map[string]*geo.Matcher{}
	}
	matchers.m[key] = m
	return m
}
