package incident_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

func (c *crashingStore) WriteIncidentCells(ctx context.Context, v uint64, cells []read.IncidentCell) error {
	if !c.crashCells {
		return c.Store.WriteIncidentCells(ctx, v, cells)
	}
	c.crashCells = false
	if err := c.Store.WriteIncidentCells(ctx, v, cells[:len(cells)/2]); err != nil {
		return err
	}
	return errCrash
}

// placeIn gives report pi of event e admin areas, zones, a violation
// flag (definite or possible) and sometimes a coarse location, from e and
// pi alone (the feed's random sequence stays as it was), so that the
// incident aggregates have cells of every kind and class.
func placeIn(r *storage.Row, e, pi int) {
	r.Adm1 = fmt.Sprintf("SY%02d", 1+e%3)
	r.Adm2, r.Adm3 = r.Adm1+fmt.Sprintf("%02d", e%2), r.Adm1+fmt.Sprintf("%02d%02d", e%2, pi)
	switch (e + pi) % 4 {
	case 0:
		r.Zones = []string{"zone-a"}
	case 1:
		r.Zones, r.PossibleZones = []string{"zone-a"}, []string{"zone-b"}
	case 2:
		r.PossibleZones = []string{"zone-b"}
	}
	switch (e + pi) % 5 {
	case 0:
		r.Violation, r.ViolationReason = true, "in_zone:zone-a"
	case 1:
		r.Violation, r.ViolationReason = true, "possibly_in_zone:zone-b"
	}
	if pi == 2 && e%15 == 0 {
		r.AccuracyM = 20_000
	}
}

// checkCells: the stored incident aggregates are the cells of incs
// (resolved from reports), counted here on their own.
func checkCells(ctx context.Context, t *testing.T, store *storage.Store, incs []read.Incident, reports []read.Report) {
	t.Helper()
	byKey := map[read.ReportKey]read.Report{}
	for _, r := range reports {
		byKey[read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}] = r
	}
	want := map[read.IncidentCellKey]read.IncidentSums{}
	kinds := map[string]int{}
	for _, inc := range incs {
		var class uint8
		for _, m := range inc.Members {
			if r := byKey[m]; r.Violation && r.ViolationReason == "in_zone:zone-a" {
				class = 1
			} else if r.Violation && class == 0 {
				class = 2
			}
		}
		prec := "country"
		for _, p := range []struct {
			p string
			u float32
		}{{"adm1", 80e3}, {"adm2", 40e3}, {"near", 25e3}, {"adm3", 15e3}, {"exact", 14999.99}} {
			if inc.UncertaintyM <= p.u {
				prec = p.p
			}
		}
		at := time.Unix(inc.ObservedAt, 0).UTC()
		day, hour := at.Truncate(24*time.Hour).Unix(), at.Truncate(time.Hour).Unix()
		s := read.IncidentSums{Incidents: 1, Reports: int64(len(inc.Members)), Killed: int64(inc.Killed), KilledMin: int64(inc.KilledMin), Injured: int64(inc.Injured)}
		if len(inc.Partners) == 1 {
			s.Single = 1
		} else {
			s.Corroborated = 1
		}
		if len(inc.Groups) > 1 {
			s.CrossGroups = 1
		}
		if inc.Contested {
			s.Contested = 1
		}
		add := func(k read.IncidentCellKey) {
			v := want[k]
			v.Add(s)
			want[k] = v
		}
		add(read.IncidentCellKey{Kind: read.CellTileDay, Tile: read.TileOf(inc.Lon, inc.Lat, 30).Quadkey(), Time: day, Category: inc.Category, ViolationClass: class, Precision: prec})
		add(read.IncidentCellKey{Kind: read.CellAdmDay, Adm1: inc.Adm1, Adm2: inc.Adm2, Adm3: inc.Adm3, Time: day, Category: inc.Category, ViolationClass: class, Precision: prec})
		for i, zs := range [][]string{inc.Zones, inc.PossibleZones} {
			for _, z := range zs {
				add(read.IncidentCellKey{Kind: read.CellZoneHour, Zone: z, Possible: uint8(i), Time: hour, Category: inc.Category, ViolationClass: min(class, 1), Precision: prec})
			}
		}
		kinds[fmt.Sprintf("class %d", class)]++
		kinds[prec]++
	}
	stored, _, err := store.StoredIncidentCells(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[read.IncidentCellKey]read.IncidentSums{}
	for _, c := range stored {
		got[c.IncidentCellKey] = c.IncidentSums
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("cell %+v: stored %+v, want %+v", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("cell %+v: stored %+v, want none", k, g)
		}
	}
	t.Logf("%d cells of %d incidents: %v", len(want), len(incs), kinds)
	if kinds["class 1"] < 10 || kinds["class 2"] < 10 || kinds["near"] == 0 {
		t.Fatalf("the feed lacks violation classes or precisions: %v", kinds)
	}
}
