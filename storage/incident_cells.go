package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

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

// WriteIncidentCells stores cells (their whole sums) at version, one
// INSERT per table and per MaxIncidentRows rows or MaxPartitionsPerInsert
// years (the tables' partitions). Each cell must be given once. Writing the same again, or at a
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
	// The three tables at once: a pass's write is three INSERTs' latency
	// otherwise, most of it ClickHouse's per-part work.
	var g errgroup.Group
	for _, kind := range incidentCellKinds {
		cs := byKind[kind]
		g.Go(func() error {
			slices.SortFunc(cs, func(a, b read.IncidentCell) int { return cmp.Compare(a.Time, b.Time) })
			for len(cs) > 0 {
				n := cellChunk(cs)
				if err := s.insertCells(ctx, kind, version, cs[:n]); err != nil {
					return err
				}
				cs = cs[n:]
			}
			return nil
		})
	}
	return g.Wait()
}

// cellChunk is how many of cs (sorted by time) one INSERT takes.
func cellChunk(cs []read.IncidentCell) int {
	years, last := 0, -1
	for i, c := range cs {
		y := time.Unix(c.Time, 0).UTC().Year()
		if y != last {
			if years++; years > MaxPartitionsPerInsert {
				return i
			}
			last = y
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
// the highest version written. It reads one year partition at a time:
// FINAL on 18.16 opens every part it reads at once, each column with a
// read buffer, too much memory over many partitions.
func (s *Store) StoredIncidentCells(ctx context.Context) ([]read.IncidentCell, uint64, error) {
	var out []read.IncidentCell
	var version uint64
	parts, _, err := s.partsAfter(ctx, time.Now()) // every partition written before this call
	if err != nil {
		return nil, 0, fmt.Errorf("storage: stored incident cells: %w", readErr(err))
	}
	for _, kind := range incidentCellKinds {
		t := incidentCellTable[kind]
		var years []int
		for id := range parts[t.name] { // the partition ids: years
			y, err := strconv.Atoi(id)
			if err != nil {
				return nil, 0, fmt.Errorf("storage: stored incident cells: %s partition %q is not a year", t.name, id)
			}
			years = append(years, y)
		}
		slices.Sort(years)
		col := "day"
		if kind == read.CellZoneHour {
			col = "hour"
		}
		for _, y := range years {
			q := s.sql(fmt.Sprintf("SELECT %s, version, %s FROM {db}.%s FINAL WHERE toYear(%s) = ?", t.key, incidentSumCols, t.name, col))
			err := s.each(ctx, "stored incident cells", q, []any{y}, func(sc scanner) error {
				c, v, err := scanStoredCell(sc, kind)
				version = max(version, v)
				// An emptied cell (all zeros) is no cell: filtered here, not
				// in SQL, where a condition on a non-key column could be
				// applied before FINAL picks the latest version.
				if err == nil && c.IncidentSums != (read.IncidentSums{}) {
					out = append(out, c)
				}
				return err
			})
			if err != nil {
				return nil, 0, err
			}
		}
	}
	return out, version, nil
}

// scanStoredCell scans a row of StoredIncidentCells' query of kind.
func scanStoredCell(sc scanner, kind uint8) (read.IncidentCell, uint64, error) {
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
		return c, 0, err
	}
	if kind != read.CellZoneHour {
		at = dateUTC(at)
	}
	c.Time = at.Unix()
	return c, v, nil
}

// Tables of the incident aggregates, as serve reads them.
const (
	incTileTable = "incident_counts_tile_day"
	incAdmTable  = "incident_counts_adm_day"
	incZoneTable = "incident_counts_zone_hour"
)

// incidentAggSums are the measures of an incident aggregate as
// read.IncidentCounts (in scanIncidentAgg's order): the sums of the rows
// where in holds, the incidents where v and pv hold as Violations and
// PossibleViolations, and those where extra holds (Coarse or Possible).
func incidentAggSums(in, v, pv, extra string) string {
	return fmt.Sprintf(`sumIf(n_incidents, %[1]s) AS s0, sumIf(n_reports, %[1]s) AS s1, sumIf(n_single, %[1]s) AS s2,
    sumIf(n_corroborated, %[1]s) AS s3, sumIf(n_cross_groups, %[1]s) AS s4, sumIf(n_contested, %[1]s) AS s5,
    sumIf(n_incidents, %[2]s) AS s6, sumIf(n_incidents, %[3]s) AS s7, sumIf(n_killed, %[1]s) AS s8,
    sumIf(n_killed_min, %[1]s) AS s9, sumIf(n_injured, %[1]s) AS s10, sumIf(n_incidents, %[4]s) AS s11`, in, v, pv, extra)
}

const incidentAggOuter = "sum(s0), sum(s1), sum(s2), sum(s3), sum(s4), sum(s5), sum(s6), sum(s7), sum(s8), sum(s9), sum(s10), sum(s11)"

func scanIncidentAgg(c *read.IncidentCounts, extra *int64) []any {
	return []any{&c.Incidents, &c.Reports, &c.Single, &c.Corroborated, &c.CrossGroups, &c.Contested,
		&c.Violations, &c.PossibleViolations, &c.Killed, &c.KilledMin, &c.Injured, extra}
}

// placedIncidentSums are the sums of the tile and adm aggregates: the
// incidents of a precision in placed count, the others are Coarse.
func placedIncidentSums(placed []string) string {
	in := "precision IN " + quoted(placed)
	return incidentAggSums(in, in+" AND violation_class = 1", in+" AND violation_class = 2", "NOT "+in)
}

// IncidentTileCells returns the incident counts of the cells (tiles at
// zoom q.Zoom, up to read.IncidentTileZoom) inside q.Area, by cell,
// precision (unplaced: nothing is Coarse) and, with q.ByCategory,
// category, ordered by cell, over whole UTC days [q.From, q.To) and q's
// categories, violation classes and precisions. A cell emptied since may
// come with zero counts.
func (s *Store) IncidentTileCells(ctx context.Context, q read.CellQuery) ([]read.IncidentTileCell, error) {
	if q.Zoom > read.IncidentTileZoom || q.Area.Z > q.Zoom {
		return nil, fmt.Errorf("storage: incident tile cells: cell zoom %d outside %d..%d", q.Zoom, q.Area.Z, read.IncidentTileZoom)
	}
	lo, hi := read.TileRange(q.Area)
	up := 2 * uint64(read.IncidentTileZoom-read.TileZoom)
	if q.Area.Z > read.TileZoom { // finer than the report tile key: its own range at zoom 30
		t := q.Area
		qk := read.Tile{X: t.X, Y: t.Y, Z: t.Z}.Quadkey()
		lo, hi, up = qk<<(2*(read.IncidentTileZoom-t.Z)), (qk+1)<<(2*(read.IncidentTileZoom-t.Z)), 0
	}
	lo, hi = lo<<up, hi<<up
	by := ", precision"
	if q.ByCategory {
		by = ", category, precision"
	}
	if q.OneThread {
		ctx = context.WithValue(ctx, oneThreadKey{}, true)
	}
	sums := incidentAggSums("1", "violation_class = 1", "violation_class = 2", "0")
	segs := s.segments(ctx, incTileTable, q.From, q.To)
	sql, args := unionSQL("cell"+by+", "+incidentAggOuter, "GROUP BY cell"+by+"\nORDER BY cell"+by, segs,
		func(seg segment, final string) (string, []any) {
			var b strings.Builder
			fmt.Fprintf(&b, `SELECT bitShiftRight(tile, %d) AS cell%s, %s
FROM %s.%s%s
WHERE tile >= ? AND tile < ? AND day >= toDate(?) AND day < toDate(?)`, 2*(read.IncidentTileZoom-q.Zoom), by, sums, s.qdb, incTileTable, final)
			args := aggFilters(&b, []any{lo, hi, seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02")}, &q.Filter)
			fmt.Fprintf(&b, "\nGROUP BY cell%s", by)
			return b.String(), args
		})
	var out []read.IncidentTileCell
	err := s.each(ctx, "incident tile cells", sql, args, func(sc scanner) error {
		var c read.IncidentTileCell
		var none int64
		dst := []any{&c.Key}
		if q.ByCategory {
			dst = append(dst, &c.Category)
		}
		if err := sc.Scan(append(append(dst, &c.Precision), scanIncidentAgg(&c.IncidentCounts, &none)...)...); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// IncidentAreaCounts counts the incidents of each admin area of level 1,
// 2 or 3 (by pcode of the representative point) over [f.From, f.To),
// whole UTC days, of f's categories, violation classes and precisions:
// an incident counts at the level only if its precision places it there
// (read.AdminLevel of read.IncidentPrecision: its uncertainty radius at
// most read.LevelRadiusM), else as Coarse.
func (s *Store) IncidentAreaCounts(ctx context.Context, level int, f read.Filter) (map[string]read.IncidentCounts, error) {
	if level < 1 || level > 3 {
		return nil, fmt.Errorf("storage: incident area counts: no admin level %d", level)
	}
	sums := placedIncidentSums(read.PlacedAt(level, 0))
	segs := s.segments(ctx, incAdmTable, f.From, f.To)
	sql, args := unionSQL("pc, "+incidentAggOuter, "GROUP BY pc", segs, func(seg segment, final string) (string, []any) {
		var b strings.Builder
		fmt.Fprintf(&b, `SELECT adm%d AS pc, %s
FROM %s.%s%s
WHERE day >= toDate(?) AND day < toDate(?)`, level, sums, s.qdb, incAdmTable, final)
		args := aggFilters(&b, []any{seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02")}, &f)
		b.WriteString("\nGROUP BY pc")
		return b.String(), args
	})
	out := map[string]read.IncidentCounts{}
	err := s.each(ctx, "incident area counts", sql, args, func(sc scanner) error {
		var pc string
		var c read.IncidentCounts
		if err := sc.Scan(append([]any{&pc}, scanIncidentAgg(&c, &c.Coarse)...)...); err != nil {
			return err
		}
		out[pc] = c
		return nil
	})
	return out, err
}

// zoneIncidentSQL is the query of the zone incident aggregate over f
// (whole hours; f's categories and precisions) for the zones where cond
// holds, grouped by group (an expression named g).
func (s *Store) zoneIncidentSQL(ctx context.Context, group, cond string, condArgs []any, f read.Filter) (string, []any) {
	// Inside the zone; possibly in it apart; the candidate violations
	// among each, as zoneSums.
	sums := incidentAggSums("possible = 0", "possible = 0 AND violation = 1", "possible = 1 AND violation = 1", "possible = 1")
	segs := s.segments(ctx, incZoneTable, f.From, f.To)
	return unionSQL("g, "+incidentAggOuter, "GROUP BY g\nORDER BY g", segs, func(seg segment, final string) (string, []any) {
		var b strings.Builder
		fmt.Fprintf(&b, `SELECT %s AS g, %s
FROM %s.%s%s
WHERE %s AND hour >= toDateTime(?) AND hour < toDateTime(?)`, group, sums, s.qdb, incZoneTable, final, cond)
		args := zoneFilters(&b, append(slices.Clone(condArgs), seg.from.Unix(), seg.to.Unix()), &f)
		b.WriteString("\nGROUP BY g")
		return b.String(), args
	})
}

// IncidentZoneCounts counts the incidents in each of zones over
// [f.From, f.To), whole hours, of f's categories and precisions, at their
// representative point and its uncertainty: inside the zone, or
// (Possible) their circle only crossing it.
func (s *Store) IncidentZoneCounts(ctx context.Context, zones []string, f read.Filter) (map[string]read.IncidentCounts, error) {
	out := map[string]read.IncidentCounts{}
	if len(zones) == 0 {
		return out, nil
	}
	sql, args := s.zoneIncidentSQL(ctx, "zone", "zone IN ?", []any{set(zones)}, f)
	err := s.each(ctx, "incident zone counts", sql, args, func(sc scanner) error {
		var z string
		var c read.IncidentCounts
		if err := sc.Scan(append([]any{&z}, scanIncidentAgg(&c, &c.Possible)...)...); err != nil {
			return err
		}
		out[z] = c
		return nil
	})
	return out, err
}

// IncidentZoneSeries counts the incidents in zone per hour of
// [f.From, f.To) (hours holding some, in order), as IncidentZoneCounts.
func (s *Store) IncidentZoneSeries(ctx context.Context, zone string, f read.Filter) ([]read.IncidentHour, error) {
	sql, args := s.zoneIncidentSQL(ctx, "toUInt32(hour)", "zone = ?", []any{zone}, f)
	var out []read.IncidentHour
	err := s.each(ctx, "incident zone series", sql, args, func(sc scanner) error {
		var h uint32
		var c read.IncidentHour
		if err := sc.Scan(append([]any{&h}, scanIncidentAgg(&c.IncidentCounts, &c.Possible)...)...); err != nil {
			return err
		}
		c.Hour = time.Unix(int64(h), 0).UTC()
		out = append(out, c)
		return nil
	})
	return out, err
}
