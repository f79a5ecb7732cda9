package storage_test

import (
	"slices"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

func TestQueries(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	a := row("a", 1, 2)
	b := row("b", 1, 1)
	b.Category, b.Violation = "arrest", false
	b.ObservedAt = t0.Add(26 * time.Hour)
	b.Zones = []string{"z1", "z3"}
	write(t, s, span(0, 1), a, b)
	// Revision 2 of a moves it one hour later: the first hour is emptied.
	a2 := row("a", 2, 3)
	a2.ObservedAt = t0.Add(time.Hour)
	write(t, s, span(2, 2), a2)

	zh, err := s.ZoneHours(ctx, storage.ZoneQuery{})
	if err != nil {
		t.Fatal(err)
	}
	h := t0.Truncate(time.Hour)
	want := []storage.ZoneHour{
		{Zone: "z1", Hour: h.Add(time.Hour), Category: "shelling", Violation: true, Counts: storage.Counts{1, 3, 1}},
		{Zone: "z1", Hour: h.Add(26 * time.Hour), Category: "arrest", Counts: storage.Counts{1, 1, 1}},
		{Zone: "z3", Hour: h.Add(26 * time.Hour), Category: "arrest", Counts: storage.Counts{1, 1, 1}},
	}
	if !slices.Equal(zh, want) {
		t.Fatalf("zone hours\n got %+v\nwant %+v", zh, want)
	}
	zh, err = s.ZoneHours(ctx, storage.ZoneQuery{Zones: []string{"z2"}, IncludePossible: true,
		Filter: storage.Filter{From: t0, To: t0.Add(2 * time.Hour), ViolationsOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(zh) != 1 || !zh[0].Possible || zh[0].Reports != 1 || zh[0].Killed != 3 {
		t.Fatalf("possible zone z2: %+v", zh)
	}

	ad, err := s.AdmDays(ctx, storage.AdmQuery{Pcodes: []string{"SY02"}, Filter: storage.Filter{Categories: []string{"shelling"}}})
	if err != nil {
		t.Fatal(err)
	}
	d := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
	if len(ad) != 1 || ad[0].Day != d || ad[0].Adm3 != "SY020000" || ad[0].Reports != 1 || ad[0].Killed != 3 {
		t.Fatalf("adm days: %+v", ad)
	}
	ad, err = s.AdmDays(ctx, storage.AdmQuery{Filter: storage.Filter{From: d.Add(24 * time.Hour), To: d.Add(48 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ad) != 1 || ad[0].Category != "arrest" {
		t.Fatalf("adm days window: %+v", ad)
	}

	// The whole world at zoom 0, results at zoom 8; then the tile itself.
	td, err := s.TileDays(ctx, storage.TileQuery{Zoom: 8})
	if err != nil {
		t.Fatal(err)
	}
	tile8 := storage.TileOf(37.15, 36.2, 8)
	if len(td) != 2 || td[0].Tile != tile8 || td[0].Reports+td[1].Reports != 2 {
		t.Fatalf("tile days: %+v (want tile %+v)", td, tile8)
	}
	td, err = s.TileDays(ctx, storage.TileQuery{Area: tile8, Zoom: 8, Filter: storage.Filter{ViolationsOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(td) != 1 || td[0].Killed != 3 {
		t.Fatalf("tile days in tile: %+v", td)
	}
	// A neighbouring tile holds nothing.
	td, err = s.TileDays(ctx, storage.TileQuery{Area: storage.Tile{X: tile8.X + 1, Y: tile8.Y, Z: 8}, Zoom: 10})
	if err != nil || len(td) != 0 {
		t.Fatalf("neighbour: %+v %v", td, err)
	}
}
