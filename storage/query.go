package storage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Filter restricts the aggregate queries. The zero value selects all.
type Filter struct {
	// From and To bound the observation time, [From, To). They are
	// rounded down to the aggregate's hour or day. Zero = unbounded.
	From, To time.Time
	// Categories, if any, keeps only these report categories.
	Categories []string
	// ViolationsOnly keeps only candidate ceasefire violations.
	ViolationsOnly bool
}

// Counts are signed sums over current reports.
type Counts struct {
	Reports, Killed, Injured int64
}

// ZoneQuery selects from the zone x hour aggregate.
type ZoneQuery struct {
	Filter
	Zones           []string // zone ids; none = all zones
	IncludePossible bool     // also reports whose accuracy circle only overlaps a zone
}

// ZoneHour is one row of the zone x hour aggregate.
type ZoneHour struct {
	Zone      string
	Hour      time.Time
	Category  string
	Violation bool
	Possible  bool // the reports only possibly lie in the zone
	Counts
}

// AdmQuery selects from the admin area x day aggregate.
type AdmQuery struct {
	Filter
	// Pcodes, if any, keeps areas whose adm1, adm2 or adm3 pcode is one of
	// these.
	Pcodes []string
}

// AdmDay is one row of the admin area x day aggregate. Reports matched to
// no area have empty pcodes.
type AdmDay struct {
	Adm1, Adm2, Adm3 string
	Day              time.Time
	Category         string
	Violation        bool
	Counts
}

// TileQuery selects from the tile x day aggregate.
type TileQuery struct {
	Filter
	// Area is the tile to count in (zoom 0 = the whole world).
	Area Tile
	// Zoom is the zoom of the result tiles, Area.Z <= Zoom <= TileZoom;
	// below Area.Z it is raised to Area.Z.
	Zoom uint32
}

// TileDay is one row of the tile x day aggregate at the query's zoom.
type TileDay struct {
	Tile      Tile
	Day       time.Time
	Category  string
	Violation bool
	Counts
}

// quote returns s as a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

func inList(col string, vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quote(v)
	}
	return col + " IN (" + strings.Join(q, ", ") + ")"
}

// where builds the filter conditions on a table whose time column col is
// a DateTime (day=false) or a Date (day=true).
func (f Filter) where(col string, day bool) []string {
	var w []string
	lit := func(t time.Time) string {
		t = t.UTC()
		if day {
			return quote(t.Format("2006-01-02"))
		}
		return quote(t.Truncate(time.Hour).Format("2006-01-02 15:04:05"))
	}
	if !f.From.IsZero() {
		w = append(w, col+" >= "+lit(f.From))
	}
	if !f.To.IsZero() {
		// [From, To): the bucket holding To is included only if To is not
		// its start.
		to := f.To.UTC()
		op := " <= "
		if (day && to.Equal(to.Truncate(24*time.Hour))) || (!day && to.Equal(to.Truncate(time.Hour))) {
			op = " < "
		}
		w = append(w, col+op+lit(to))
	}
	if len(f.Categories) > 0 {
		w = append(w, inList("category", f.Categories))
	}
	if f.ViolationsOnly {
		w = append(w, "violation = 1")
	}
	return w
}

func whereClause(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w, " AND ")
}

// ZoneHours returns the zone x hour x category x violation counts matching
// q, ordered by zone and hour. Rows whose counts are all zero (reports
// replaced by revisions elsewhere) are left out.
func (s *Store) ZoneHours(ctx context.Context, q ZoneQuery) ([]ZoneHour, error) {
	w := q.where("hour", false)
	if len(q.Zones) > 0 {
		w = append(w, inList("zone", q.Zones))
	}
	if !q.IncludePossible {
		w = append(w, "possible = 0")
	}
	rows, err := s.conn.Query(ctx, s.sql(`SELECT zone, hour, category, violation, possible,
    sum(n_reports) AS r, sum(n_killed) AS k, sum(n_injured) AS i
FROM {db}.agg_zone_hour FINAL
`+whereClause(w)+`
GROUP BY zone, hour, category, violation, possible
HAVING r != 0 OR k != 0 OR i != 0
ORDER BY zone, hour, category, violation, possible`))
	if err != nil {
		return nil, fmt.Errorf("storage: zone hours: %w", err)
	}
	defer rows.Close()
	var out []ZoneHour
	for rows.Next() {
		var (
			z          ZoneHour
			viol, poss uint8
		)
		if err := rows.Scan(&z.Zone, &z.Hour, &z.Category, &viol, &poss, &z.Reports, &z.Killed, &z.Injured); err != nil {
			return nil, fmt.Errorf("storage: zone hours: %w", err)
		}
		z.Hour = z.Hour.UTC()
		z.Violation, z.Possible = viol == 1, poss == 1
		out = append(out, z)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: zone hours: %w", err)
	}
	return out, nil
}

// AdmDays returns the admin area x day x category x violation counts
// matching q, ordered by area and day.
func (s *Store) AdmDays(ctx context.Context, q AdmQuery) ([]AdmDay, error) {
	w := q.where("day", true)
	if len(q.Pcodes) > 0 {
		w = append(w, "("+inList("adm1", q.Pcodes)+" OR "+inList("adm2", q.Pcodes)+" OR "+inList("adm3", q.Pcodes)+")")
	}
	rows, err := s.conn.Query(ctx, s.sql(`SELECT adm1, adm2, adm3, day, category, violation,
    sum(n_reports) AS r, sum(n_killed) AS k, sum(n_injured) AS i
FROM {db}.agg_adm_day FINAL
`+whereClause(w)+`
GROUP BY adm1, adm2, adm3, day, category, violation
HAVING r != 0 OR k != 0 OR i != 0
ORDER BY adm1, adm2, adm3, day, category, violation`))
	if err != nil {
		return nil, fmt.Errorf("storage: adm days: %w", err)
	}
	defer rows.Close()
	var out []AdmDay
	for rows.Next() {
		var (
			a    AdmDay
			viol uint8
		)
		if err := rows.Scan(&a.Adm1, &a.Adm2, &a.Adm3, &a.Day, &a.Category, &viol, &a.Reports, &a.Killed, &a.Injured); err != nil {
			return nil, fmt.Errorf("storage: adm days: %w", err)
		}
		a.Day = dateUTC(a.Day)
		a.Violation = viol == 1
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: adm days: %w", err)
	}
	return out, nil
}

// TileDays returns, for the tiles at zoom q.Zoom inside q.Area, the
// per-day category x violation counts, ordered by tile key and day. The
// area is one range scan of the tile key.
func (s *Store) TileDays(ctx context.Context, q TileQuery) ([]TileDay, error) {
	zoom := q.Zoom
	if zoom < q.Area.Z {
		zoom = q.Area.Z
	}
	if zoom > TileZoom {
		zoom = TileZoom
	}
	lo, hi := TileRange(q.Area)
	w := append(q.where("day", true), fmt.Sprintf("tile >= %d AND tile < %d", lo, hi))
	shift := 2 * (TileZoom - zoom)
	rows, err := s.conn.Query(ctx, s.sql(fmt.Sprintf(`SELECT bitShiftRight(tile, %d) AS qk, day, category, violation,
    sum(n_reports) AS r, sum(n_killed) AS k, sum(n_injured) AS i
FROM {db}.agg_tile_day FINAL
%s
GROUP BY qk, day, category, violation
HAVING r != 0 OR k != 0 OR i != 0
ORDER BY qk, day, category, violation`, shift, whereClause(w))))
	if err != nil {
		return nil, fmt.Errorf("storage: tile days: %w", err)
	}
	defer rows.Close()
	var out []TileDay
	for rows.Next() {
		var (
			d    TileDay
			qk   uint64
			viol uint8
		)
		if err := rows.Scan(&qk, &d.Day, &d.Category, &viol, &d.Reports, &d.Killed, &d.Injured); err != nil {
			return nil, fmt.Errorf("storage: tile days: %w", err)
		}
		d.Tile = TileFromQuadkey(qk, zoom)
		d.Day = dateUTC(d.Day)
		d.Violation = viol == 1
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: tile days: %w", err)
	}
	return out, nil
}

// dateUTC returns midnight UTC of a Date scanned in any location.
func dateUTC(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
