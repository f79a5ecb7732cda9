package geo_test

import (
	"fmt"
	"time"

	"github.com/paulmach/orb"
	"github.com/trucewatch/trucewatch/geo"
)

func ExampleMatcher_Match() {
	admin, err := geo.LoadAdmin()
	if err != nil {
		panic(err)
	}
	sets, err := geo.ShippedZoneSets(admin)
	if err != nil {
		panic(err)
	}
	m, err := geo.NewMatcher(admin, sets...)
	if err != nil {
		panic(err)
	}
	var dst geo.Match // reuse across calls: no allocations
	daraa := orb.Point{36.1021, 32.6189}
	m.Match(daraa, time.Date(2017, 8, 1, 0, 0, 0, 0, time.UTC), 0, &dst)
	fmt.Println(dst.Adm1, dst.Adm2, dst.Adm3, dst.AdmApprox)
	for _, z := range dst.Zones {
		fmt.Println(z.ID, z.Kind, z.Possible)
	}
	// Output:
	// SY12 SY1200 SY120000 false
	// astana-4 de_escalation false
	// nationwide-2016 ceasefire false
}

func ExampleHolder() {
	admin, _ := geo.LoadAdmin()
	shipped, _ := geo.ShippedZoneSets(admin)
	h, err := geo.NewHolder(admin, shipped, nil)
	if err != nil {
		panic(err)
	}
	// On SIGHUP: h.Reload("zones.geojson"); or in a goroutine:
	// go h.Watch(ctx, geo.DefaultWatchInterval, "zones.geojson").
	var dst geo.Match
	h.Match(orb.Point{36.2919, 33.5138}, time.Date(2017, 1, 15, 0, 0, 0, 0, time.UTC), 0, &dst)
	fmt.Println(dst.Adm3, len(dst.Zones), dst.Zones[0].ID)
	// Output: SY010000 1 nationwide-2016
}
