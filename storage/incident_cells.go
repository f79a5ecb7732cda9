package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// The incident aggregates (migration 0008), written by package incident's
// resolver through WriteIncidentCells and StoredIncidentCells, read by
// serve through IncidentTileCells, IncidentAreaCounts, IncidentZoneCounts
// and IncidentZoneSeries.

// incidentCellTable is each kind's table and its key columns, in
// scanCellKey's order.
var incidentCellTable = map[uint8]struct{ name, key string }{
	read.CellTileDay:  {"incident_counts_tile_day", "tile, day, category, violation_class, precision"},
	read.CellAdmDay:   {"incident_counts_adm_day", "adm1, adm2, adm3, day, category, violation_class, precision"},
	read.CellZoneHour: {"incident_counts_zone_hour", "zone, hour, category, violation, possible, precision"},
}

// incidentCellKinds in the order the resolver writes them.
var incidentCellKinds = []uint8{read.CellTileDay, read.CellAdmDay, read.CellZoneHour}

const incidentSumCols = `n_incidents, n_reports, n_single, n_corroborated, n_cross_groups, n_contested, n_killed, n_killed_min, n_injured`

func sumsOf(s *read.IncidentSums) []any {
	return []any{s.Incidents, s.Reports, s.Single, s.Corroborated, s.CrossGroups, s.Contested, s.Killed, s.KilledMin, s.Injured}
}

func sumsDst(s *read.IncidentSums) []any {
	return []any{&s.Incidents, &s.Reports, &s.Single, &s.Corroborated, &s.CrossGroups, &s.Contested, &s.Killed, &s.KilledMin, &s.Injured}
}

// cellKeyOf is the key columns' values of c, in incidentCellTable order.
func cellKeyOf(c *read.IncidentCell) []any {
	t := time.Unix(c.Time, 0).UTC()
	switch c.Kind {
	case read.CellTileDay:
		return []any{c.Tile, t, c.Category, c.ViolationClass, c.Precision}
	case read.CellAdmDay:
		return []any{c.Adm1, c.Adm2, c.Adm3, t, c.Category, c.ViolationClass, c.Precision}
	}
	return []any{c.Zone, t, c.Category, c.ViolationClass, c.Possible, c.Precision}
}

// MaxCellPartitions bounds the month partitions one INSERT of
// WriteIncidentCells touches: current releases refuse more than 100.
const MaxCellPartitions = 100

// WriteIncidentCells stores cells (their whole sums) at version, one
// INSERT per table and per MaxIncidentRows rows or MaxCellPartitions
// months. Each cell must be given once. Writing the same again, or at a
// higher version, is harmless: the tables keep each cell's highest
// version.
func (s *Store) WriteIncidentCells(ctx context.Context, version uint64, cells []read.IncidentCell) error {
	byKind := map[uint8][]read.IncidentCell{}
	for _, c := range cells {
		if _, ok := incidentCellTable[c.Kind]; !ok {
			return fmt.Errorf("storage: write incident cells: no cell kind %d", c.Kind)
		}
		byKind[c.Kind] = append(byKind[c.Kind], c)
	}
	for _, kind := range incidentCellKinds {
		cs := byKind[kind]
		slices.SortFunc(cs, func(a, b read.IncidentCell) int { return cmp.Compare(a.Time, b.Time) })
		for len(cs) > 0 {
			n := cellChunk(cs)
			if err := s.insertCells(ctx, kind, version, cs[:n]); err != nil {
				return err
			}
			cs = cs[n:]
		}
	}
	return nil
}

// cellChunk is how many of cs (sorted by time) one INSERT takes.
func cellChunk(cs []read.IncidentCell) int {
	months, last := 0, ""
	for i, c := range cs {
		m := time.Unix(c.Time, 0).UTC().Format("200601")
		if m != last {
			if months++; months > MaxCellPartitions {
				return i
			}
			last = m
		}
		if i == MaxIncidentRows {
			return i
		}
	}
	return len(cs)
}

func (s *Store) insertCells(ctx context.Context, kind uint8, version uint64, cs []read.IncidentCell) error {
	t := incidentCellTable[kind]
	b, err := s.conn.PrepareBatch(ctx, s.sql(fmt.Sprintf("INSERT INTO {db}.%s (%s, version, %s)", t.name, t.key, incidentSumCols)))
	if err != nil {
		return fmt.Errorf("storage: write incident cells: %w", readErr(err))
	}
	for i := range cs {
		row := append(append(cellKeyOf(&cs[i]), version), sumsOf(&cs[i].IncidentSums)...)
		if err := b.Append(row...); err != nil {
			b.Abort()
			return fmt.Errorf("storage: write incident cells: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("storage: write incident cells: %w", readErr(err))
	}
	return nil
}

// StoredIncidentCells returns every stored cell of the incident
// aggregates that holds incidents (FINAL: each cell's latest sums) and
// the highest version written.
func (s *Store) StoredIncidentCells(ctx context.Context) ([]read.IncidentCell, uint64, error) {
	var out []read.IncidentCell
	var version uint64
	for _, kind := range incidentCellKinds {
		t := incidentCellTable[kind]
		q := s.sql(fmt.Sprintf("SELECT %s, version, %s FROM {db}.%s FINAL", t.key, incidentSumCols, t.name))
		err := s.each(ctx, "stored incident cells", q, nil, func(sc scanner) error {
			c := read.IncidentCell{IncidentCellKey: read.IncidentCellKey{Kind: kind}}
			var at time.Time
			var v uint64
			var dst []any
			switch kind {
			case read.CellTileDay:
				dst = []any{&c.Tile, &at, &c.Category, &c.ViolationClass, &c.Precision}
			case read.CellAdmDay:
				dst = []any{&c.Adm1, &c.Adm2, &c.Adm3, &at, &c.Category, &c.ViolationClass, &c.Precision}
			default:
				dst = []any{&c.Zone, &at, &c.Category, &c.ViolationClass, &c.Possible, &c.Precision}
			}
			if err := sc.Scan(append(append(dst, &v), sumsDst(&c.IncidentSums)...)...); err != nil {
				return err
			}
			if kind != read.CellZoneHour {
				at = dateUTC(at)
			}
			c.Time, version = at.Unix(), max(version, v)
			// An emptied cell (all zeros) is no cell: filtered here, not in
			// SQL, where a condition on a non-key column could be applied
			// before FINAL picks the latest version.
			if c.IncidentSums != (read.IncidentSums{}) {
				out = append(out, c)
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return out, version, nil
}
