package serve

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/trucewatch/trucewatch/storage"
)

// Tile sources, as reported in the X-Trucewatch-Source header and the
// "source" member of a GeoJSON tile.
const (
	sourceTileAgg = "agg_tile_day" // whole days, category and violation filters only
	sourceRaw     = "reports"      // anything else
)

// MVTLayer is the name of the layer in .mvt tiles.
const MVTLayer = "cells"

var tileParams = []string{"from", "to", "category", "side", "violation", "zone", "partner", "by"}

// tileCell is one grid cell of a tile with its aggregates.
type tileCell struct {
	key                                  uint64 // quadkey of the cell at the cell zoom
	reports, killed, injured, violations int64
	byCategory                           map[string]int64
}

// parseUint parses a path segment of decimal digits only.
func parseUint(param, s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, badParam(param, "want a non-negative integer, got %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max {
		return 0, badParam(param, "%s out of range 0..%d", s, max)
	}
	return n, nil
}

// tileRequest is a validated tile request.
type tileRequest struct {
	tile   maptile.Tile
	format string // geojson or mvt
	win    window
	f      filters
	byCat  bool
}

func (s *Server) parseTile(r *http.Request) (*tileRequest, error) {
	z, err := parseUint("z", r.PathValue("z"), MaxZoom)
	if err != nil {
		return nil, err
	}
	n := uint64(1) << z
	x, err := parseUint("x", r.PathValue("x"), n-1)
	if err != nil {
		return nil, err
	}
	ys, format, ok := strings.Cut(r.PathValue("yfmt"), ".")
	if !ok || (format != "geojson" && format != "mvt") {
		return nil, badParam("format", "the tile path must end in .geojson or .mvt")
	}
	y, err := parseUint("y", ys, n-1)
	if err != nil {
		return nil, err
	}
	q, err := newQuery(r.URL, tileParams)
	if err != nil {
		return nil, err
	}
	tr := &tileRequest{tile: maptile.New(uint32(x), uint32(y), maptile.Zoom(z)), format: format}
	if tr.win, err = q.window(s.o.Now(), s.o.Window, s.o.MaxWindow); err != nil {
		return nil, err
	}
	if tr.f, err = q.filters(s.knownZone); err != nil {
		return nil, err
	}
	by, err := q.enum("by", "", "category")
	if err != nil {
		return nil, err
	}
	tr.byCat = by == "category"
	return tr, nil
}

func (s *Server) knownZone(id string) bool { _, ok := s.zones[id]; return ok }

// tileSource chooses the table a tile is computed from: the tile
// aggregate when the window is whole UTC days, the filters are at most
// category and violation and the cells are no finer than the storage tile
// key; the raw reports otherwise.
func (tr *tileRequest) source() string {
	if tr.f.needsRaw() || !tr.win.dayAligned() || uint32(tr.tile.Z)+GridBits > storage.TileZoom {
		return sourceRaw
	}
	return sourceTileAgg
}

func (s *Server) handleTile(w http.ResponseWriter, r *http.Request) error {
	tr, err := s.parseTile(r)
	if err != nil {
		return err
	}
	key := r.URL.Path + "?" + r.URL.Query().Encode() + "|" + tr.win.From.String() + "|" + tr.win.To.String()
	return s.cached(w, r, key, s.o.TileMaxAge, func(r *http.Request) (response, error) { return s.buildTile(r, tr) })
}

func (s *Server) buildTile(r *http.Request, tr *tileRequest) (response, error) {
	src := tr.source()
	cells, err := s.tileCells(r, tr, src)
	if err != nil {
		return response{}, err
	}
	cache := fmt.Sprintf("public, max-age=%d, stale-while-revalidate=%d", int(s.o.TileMaxAge/time.Second), 5*int(s.o.TileMaxAge/time.Second))
	if tr.format == "mvt" {
		layers := mvt.NewLayers(map[string]*geojson.FeatureCollection{MVTLayer: cellFeatures(tr, cells)})
		layers.ProjectToTile(tr.tile)
		layers.Clip(mvt.MapboxGLDefaultExtentBound)
		b, err := mvt.Marshal(layers)
		if err != nil {
			return response{}, fmt.Errorf("serve: encode mvt: %w", err)
		}
		return response{ctype: "application/vnd.mapbox-vector-tile", body: b, cache: cache, route: "tile_mvt", source: src}, nil
	}
	b := appendTileGeoJSON(make([]byte, 0, 64+len(cells)*330), tr, cells, tileExtra(tr, src))
	return response{ctype: "application/geo+json", body: append(b, '\n'), cache: cache, route: "tile_geojson", source: src}, nil
}

// tileExtra are the members a GeoJSON tile carries besides its features,
// sorted by name.
func tileExtra(tr *tileRequest, src string) [][2]string {
	return [][2]string{
		{"from", tr.win.From.Format(time.RFC3339)},
		{"source", src},
		{"tile", fmt.Sprintf("%d/%d/%d", tr.tile.Z, tr.tile.X, tr.tile.Y)},
		{"to", tr.win.To.Format(time.RFC3339)},
	}
}

// cellFeatures turns cells into polygon features (the cell's square) with
// the aggregates as properties, in quadkey order.
func cellFeatures(tr *tileRequest, cells []tileCell) *geojson.FeatureCollection {
	cz := maptile.Zoom(uint32(tr.tile.Z) + GridBits)
	fc := geojson.NewFeatureCollection()
	fc.Features = make([]*geojson.Feature, 0, len(cells))
	for _, c := range cells {
		t := maptile.FromQuadkey(c.key, cz)
		f := geojson.NewFeature(t.Bound().ToPolygon())
		f.ID = int((t.Y-tr.tile.Y<<GridBits)<<GridBits + (t.X - tr.tile.X<<GridBits))
		f.Properties = geojson.Properties{
			"cell":       fmt.Sprintf("%d/%d/%d", t.Z, t.X, t.Y),
			"reports":    c.reports,
			"killed":     c.killed,
			"injured":    c.injured,
			"violations": c.violations,
		}
		for cat, n := range c.byCategory {
			f.Properties["n_"+cat] = n
		}
		fc.Features = append(fc.Features, f)
	}
	return fc
}

// tileCells runs the tile query. Cells are tiles at zoom z+GridBits;
// while that is no finer than storage.TileZoom, a cell is a contiguous
// range of the tile key and ClickHouse groups by the key shifted right.
// Finer cells are binned here from the coordinates of the reports of the
// tile's TileZoom ancestor (a few at most).
func (s *Server) tileCells(r *http.Request, tr *tileRequest, src string) ([]tileCell, error) {
	lo, hi := storage.TileRange(storage.Tile{X: tr.tile.X, Y: tr.tile.Y, Z: uint32(tr.tile.Z)})
	cz := uint32(tr.tile.Z) + GridBits
	if cz > storage.TileZoom {
		return s.fineTileCells(r, tr, lo, hi)
	}
	switch z := uint32(tr.tile.Z); {
	case s.cache == nil: // no caching: nothing is kept between requests
	case src == sourceTileAgg && cz <= PyramidZoom:
		return s.windowCells(r, tr, src)
	case z >= MetatileLevels:
		meta := storage.Tile{X: tr.tile.X >> MetatileLevels, Y: tr.tile.Y >> MetatileLevels, Z: z - MetatileLevels}
		p, err := s.pyramidFor(r, tr, src, meta, cz)
		if err != nil {
			return nil, err
		}
		return dropEmpty(p.cellsOf(tr)), nil
	}
	return s.queryCells(r, tr, src, lo, hi, cz)
}

// queryCells aggregates the tile key range [lo, hi) into cells of zoom cz
// in ClickHouse.
func (s *Server) queryCells(r *http.Request, tr *tileRequest, src string, lo, hi uint64, cz uint32) ([]tileCell, error) {
	shift := uint8(2 * (storage.TileZoom - cz))
	catCol, catGroup := "", ""
	if tr.byCat {
		catCol, catGroup = ", category", ", category"
	}
	name := "tile" // a tile or a metatile
	if wlo, whi := storage.TileRange(storage.Tile{}); lo == wlo && hi == whi {
		name = "tile_week" // a week pyramid
	}
	ctx, cancel := s.queryCtx(r)
	defer cancel()
	if tr.tile.Z >= 10 && name == "tile" {
		// A small key range: one thread is enough, and cheaper to start
		// when many tiles are asked for at once.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1}))
	}
	table := src
	segs := s.segments(ctx, table, tr.win.From, tr.win.To)
	sql, args := unionSQL("cell"+catCol+", sum(n), sum(k), sum(i), sum(v)", "GROUP BY cell"+catGroup+"\nORDER BY cell"+catGroup, segs,
		func(seg segment, final string) (string, []any) {
			var sql strings.Builder
			var args []any
			if src == sourceTileAgg {
				fmt.Fprintf(&sql, `SELECT bitShiftRight(tile, ?) AS cell%s,
    sum(n_reports) AS n, sum(n_killed) AS k, sum(n_injured) AS i, sumIf(n_reports, violation = 1) AS v
FROM %s.agg_tile_day%s
WHERE tile >= ? AND tile < ? AND day >= toDate(?) AND day < toDate(?)`, catCol, s.db, final)
				args = append(args, shift, lo, hi, seg.from.Format("2006-01-02"), seg.to.Format("2006-01-02"))
				if len(tr.f.Categories) > 0 {
					sql.WriteString(" AND category IN ?")
					args = append(args, set(tr.f.Categories))
				}
				if tr.f.Violation != nil {
					sql.WriteString(" AND violation = ?")
					args = append(args, b2u(*tr.f.Violation))
				}
			} else {
				fmt.Fprintf(&sql, `SELECT bitShiftRight(tile, ?) AS cell%s,
    sum(sign) AS n, sum(sign * killed) AS k, sum(sign * injured) AS i, sum(sign * violation) AS v
FROM %s.reports%s
WHERE tile >= ? AND tile < ?`, catCol, s.db, final)
				args = append(args, shift, lo, hi)
				args = s.rawFilters(&sql, args, window{From: seg.from, To: seg.to}, &tr.f)
			}
			fmt.Fprintf(&sql, "\nGROUP BY cell%s", catGroup)
			return sql.String(), args
		})
	start := time.Now()
	rows, err := s.o.Conn.Query(ctx, sql, args...)
	if err != nil {
		s.observe(name, src, start, err)
		return nil, fmt.Errorf("serve: tile query: %w", err)
	}
	defer rows.Close()
	var cells []tileCell
	for rows.Next() {
		var (
			key             uint64
			cat             string
			n, k, inj, viol int64
		)
		dst := []any{&key}
		if tr.byCat {
			dst = append(dst, &cat)
		}
		dst = append(dst, &n, &k, &inj, &viol)
		if err := rows.Scan(dst...); err != nil {
			s.observe(name, src, start, err)
			return nil, fmt.Errorf("serve: tile scan: %w", err)
		}
		if len(cells) == 0 || cells[len(cells)-1].key != key {
			cells = append(cells, tileCell{key: key})
		}
		c := &cells[len(cells)-1]
		c.reports += n
		c.killed += k
		c.injured += inj
		c.violations += viol
		if tr.byCat && n != 0 {
			if c.byCategory == nil {
				c.byCategory = map[string]int64{}
			}
			c.byCategory[cat] += n
		}
	}
	err = rows.Err()
	s.observe(name, src, start, err)
	if err != nil {
		return nil, fmt.Errorf("serve: tile rows: %w", err)
	}
	return dropEmpty(cells), nil
}

// dropEmpty removes cells whose reports were all retracted.
func dropEmpty(cells []tileCell) []tileCell {
	out := cells[:0]
	for _, c := range cells {
		if c.reports > 0 {
			out = append(out, c)
		}
	}
	return out
}

// rawFilters appends the WHERE conditions on the raw reports table.
func (s *Server) rawFilters(sql *strings.Builder, args []any, win window, f *filters) []any {
	sql.WriteString(" AND observed_at >= toDateTime(?) AND observed_at < toDateTime(?)")
	args = append(args, win.From.Unix(), win.To.Unix())
	if len(f.Categories) > 0 {
		sql.WriteString(" AND category IN ?")
		args = append(args, set(f.Categories))
	}
	if len(f.Sides) > 0 {
		sql.WriteString(" AND perpetrator_side IN ?")
		args = append(args, set(f.Sides))
	}
	if f.Violation != nil {
		sql.WriteString(" AND violation = ?")
		args = append(args, b2u(*f.Violation))
	}
	if len(f.Zones) > 0 {
		sql.WriteString(" AND hasAny(zones, ?)")
		args = append(args, f.Zones)
	}
	if len(f.Partners) > 0 {
		sql.WriteString(" AND partner_id IN ?")
		args = append(args, set(f.Partners))
	}
	return args
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// fineTileCells bins the reports of a tile whose cells are finer than the
// storage key, from their coordinates.
func (s *Server) fineTileCells(r *http.Request, tr *tileRequest, lo, hi uint64) ([]tileCell, error) {
	var sql strings.Builder
	fmt.Fprintf(&sql, `SELECT lon, lat, category, sum(sign), sum(sign * killed), sum(sign * injured), sum(sign * violation)
FROM %s.reports FINAL
WHERE tile >= ? AND tile < ?`, s.db)
	args := []any{lo, hi}
	args = s.rawFilters(&sql, args, tr.win, &tr.f)
	fmt.Fprintf(&sql, "\nGROUP BY partner_id, report_id, revision, lon, lat, category\nLIMIT %d", maxRawTileRows)
	ctx, cancel := s.queryCtx(r)
	defer cancel()
	start := time.Now()
	rows, err := s.o.Conn.Query(ctx, sql.String(), args...)
	if err != nil {
		s.observe("tile_fine", sourceRaw, start, err)
		return nil, fmt.Errorf("serve: tile query: %w", err)
	}
	defer rows.Close()
	cz := uint32(tr.tile.Z) + GridBits
	byKey := map[uint64]*tileCell{}
	for rows.Next() {
		var (
			lon, lat        float64
			cat             string
			n, k, inj, viol int64
		)
		if err := rows.Scan(&lon, &lat, &cat, &n, &k, &inj, &viol); err != nil {
			s.observe("tile_fine", sourceRaw, start, err)
			return nil, fmt.Errorf("serve: tile scan: %w", err)
		}
		if n == 0 {
			continue
		}
		t := storage.TileOf(lon, lat, cz)
		if t.X>>GridBits != tr.tile.X || t.Y>>GridBits != tr.tile.Y {
			continue // in the storage tile, not in this finer tile
		}
		key := t.Quadkey()
		c := byKey[key]
		if c == nil {
			c = &tileCell{key: key}
			byKey[key] = c
		}
		c.reports += n
		c.killed += k
		c.injured += inj
		c.violations += viol
		if tr.byCat {
			if c.byCategory == nil {
				c.byCategory = map[string]int64{}
			}
			c.byCategory[cat] += n
		}
	}
	err = rows.Err()
	s.observe("tile_fine", sourceRaw, start, err)
	if err != nil {
		return nil, fmt.Errorf("serve: tile rows: %w", err)
	}
	cells := make([]tileCell, 0, len(byKey))
	for _, c := range byKey {
		cells = append(cells, *c)
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].key < cells[j].key })
	return dropEmpty(cells), nil
}
