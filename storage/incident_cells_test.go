package storage_test

import (
	"slices"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// Incident cells over 110 years (their tables' partitions) are written in
// INSERTs of at most MaxPartitionsPerInsert years, read back one year at a
// time; a higher
// version replaces a cell whole (zeros: gone), a lower one changes
// nothing.
func TestIncidentCellsRoundTrip(t *testing.T) {
	s := openStore(t, nil)
	ctx := t.Context()
	from := time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC)
	var cells []read.IncidentCell
	for m := range 110 {
		day := from.AddDate(m, 0, 3).Unix()
		sums := read.IncidentSums{Incidents: int64(m + 1), Reports: 2 * int64(m+1), Killed: 3}
		cells = append(cells,
			read.IncidentCell{IncidentCellKey: read.IncidentCellKey{Kind: read.CellTileDay, Tile: uint64(m) << 40, Time: day, Category: "shelling", ViolationClass: 1, Precision: "exact"}, IncidentSums: sums},
			read.IncidentCell{IncidentCellKey: read.IncidentCellKey{Kind: read.CellAdmDay, Adm1: "SY03", Adm2: "SY0302", Adm3: "SY030200", Time: day, Category: "shelling", Precision: "near"}, IncidentSums: sums},
			read.IncidentCell{IncidentCellKey: read.IncidentCellKey{Kind: read.CellZoneHour, Zone: "astana-3", Possible: 1, Time: day + 7200, Category: "airstrike", ViolationClass: 1, Precision: "adm2"}, IncidentSums: sums})
	}
	tiles := cells[:0:0]
	for _, c := range cells {
		if c.Kind == read.CellTileDay {
			tiles = append(tiles, c)
		}
	}
	if n := storage.CellChunk(tiles); n != storage.MaxPartitionsPerInsert {
		t.Fatalf("an INSERT of 110 years' cells takes %d, want %d", n, storage.MaxPartitionsPerInsert)
	}
	if err := s.WriteIncidentCells(ctx, 10, cells); err != nil {
		t.Fatal(err)
	}
	check := func(want []read.IncidentCell, version uint64) {
		t.Helper()
		got, v, err := s.StoredIncidentCells(ctx)
		if err != nil {
			t.Fatal(err)
		}
		key := func(a, b read.IncidentCell) int {
			return int(a.Kind)*1e12 - int(b.Kind)*1e12 + int(a.Time-b.Time)
		}
		slices.SortFunc(got, key)
		want = slices.Clone(want)
		slices.SortFunc(want, key)
		if !slices.Equal(got, want) || v != version {
			t.Fatalf("stored %d cells (version %d), want %d (version %d)", len(got), v, len(want), version)
		}
	}
	check(cells, 10)
	// The first year's cells emptied, the second's changed, at version
	// 11; the third's written again at a lower version: stale.
	emptied, changed, stale := cells[0:3], slices.Clone(cells[3:6]), slices.Clone(cells[6:9])
	var upd []read.IncidentCell
	for _, c := range emptied {
		upd = append(upd, read.IncidentCell{IncidentCellKey: c.IncidentCellKey})
	}
	for i := range changed {
		changed[i].Incidents, changed[i].Contested = 99, 1
	}
	if err := s.WriteIncidentCells(ctx, 11, append(upd, changed...)); err != nil {
		t.Fatal(err)
	}
	for i := range stale {
		stale[i].Incidents = -5
	}
	if err := s.WriteIncidentCells(ctx, 9, stale); err != nil {
		t.Fatal(err)
	}
	check(append(slices.Clone(changed), cells[6:]...), 11)

	// Readers take each cell's latest version too: those years'
	// partitions now hold several parts (FINAL), the others one.
	got, err := s.IncidentAreaCounts(ctx, 3, read.Filter{From: from, To: from.AddDate(4, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// Year 0 emptied, year 1 changed to 99, year 2 kept (3), year 3 (4).
	if n := got["SY030200"].Incidents; n != 99+3+4 {
		t.Errorf("SY030200 over the first four years: %d incidents, want %d", n, 99+3+4)
	}
}
