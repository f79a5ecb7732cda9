package serve

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb/maptile"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Tile sources, as reported in the X-Trucewatch-Source header and the
// "source" member of a GeoJSON tile.
const (
	sourceTileAgg     = "counts_tile_day"          // whole days, category and violation filters only
	sourceRaw         = "reports"                  // anything else
	sourceIncidentAgg = "incident_counts_tile_day" // measure=incidents, at every zoom
)

// MVTLayer is the name of the layer in .mvt tiles.
const MVTLayer = "cells"

var tileParams = []string{"from", "to", "category", "side", "violation", "zone", "partner", "precision", "by", "measure"}

// tileCell is one grid cell of a tile with its aggregates. Before it is
// placed (see pyramid.cellsOf), key holds the precision too.
type tileCell struct {
	key                                  uint64 // quadkey of the cell at the cell zoom
	reports, killed, injured, violations int64
	possibleViolations, coarse           int64
	byCategory                           map[string]int64
	// measure=incidents: the incidents, and reports means the reports in
	// them, coarse the incidents too coarse; byCategory counts incidents.
	incidents, single, corroborated, crossGroups, contested, killedMin int64
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
	// incidents: measure=incidents, counted from the incident aggregate.
	incidents bool
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
	if tr.win, err = q.window(s.windowNow(r), s.o.Window, s.o.MaxWindow); err != nil {
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
	if tr.incidents, err = s.incidentTile(q, tr); err != nil {
		return nil, err
	}
	return tr, nil
}

// incidentTile reads measure; incident tiles take what their aggregate
// holds: whole UTC days, category, violation and precision filters.
func (s *Server) incidentTile(q *query, tr *tileRequest) (bool, error) {
	measure, err := s.measureParam(q)
	if err != nil || measure != "incidents" {
		return false, err
	}
	if tr.f.NeedsRaw() {
		return false, badParam("measure", "incident tiles take no side, zone or partner filter (their aggregate holds category, violation and precision)")
	}
	if !tr.win.dayAligned() {
		return false, badParam("from", "incident tiles count whole days: from and to must be dates or UTC midnights")
	}
	return true, nil
}

func (s *Server) knownZone(id string) bool { _, ok := s.zones[id]; return ok }

// tileSource chooses the table a tile is computed from: the tile
// aggregate when the window is whole UTC days, the filters are at most
// category and violation and the cells are no finer than the storage tile
// key; the raw reports otherwise.
func (tr *tileRequest) source() string {
	if tr.incidents {
		return sourceIncidentAgg
	}
	if tr.f.NeedsRaw() || !tr.win.dayAligned() || uint32(tr.tile.Z)+GridBits > read.TileZoom {
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
		return response{ctype: "application/vnd.mapbox-vector-tile", body: cellsMVT(tr, cells), cache: cache, route: "tile_mvt", source: src}, nil
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

// keyZoom is the zoom of the tile key of tr's aggregate: the finest cells
// ClickHouse can group by (the incident aggregate's key is finer).
func (tr *tileRequest) keyZoom() uint32 {
	if tr.incidents {
		return read.IncidentTileZoom
	}
	return read.TileZoom
}

// tileCells runs the tile query. Cells are tiles at zoom z+GridBits;
// while that is no finer than read.TileZoom, a cell is a contiguous
// range of the tile key and ClickHouse groups by the key shifted right.
// Finer cells are binned here from the coordinates of the reports of the
// tile's TileZoom ancestor (a few at most).
func (s *Server) tileCells(r *http.Request, tr *tileRequest, src string) ([]tileCell, error) {
	cz := uint32(tr.tile.Z) + GridBits
	if cz > tr.keyZoom() {
		return s.fineTileCells(r, tr)
	}
	switch z := uint32(tr.tile.Z); {
	case s.cache == nil: // no caching: nothing is kept between requests
	case (src == sourceTileAgg || src == sourceIncidentAgg) && cz <= PyramidZoom:
		return s.windowCells(r, tr, src)
	case z >= MetatileLevels:
		mz, mcz := metatile(z, tr.keyZoom())
		meta := read.Tile{X: tr.tile.X >> (z - mz), Y: tr.tile.Y >> (z - mz), Z: mz}
		p, err := s.pyramidFor(r, tr, src, meta, mcz)
		if err != nil {
			return nil, err
		}
		return dropEmpty(p.cellsOf(tr)), nil
	}
	area := read.Tile{X: tr.tile.X, Y: tr.tile.Y, Z: uint32(tr.tile.Z)}
	cells, err := s.queryCells(r, tr, src, area, cz)
	if err != nil {
		return nil, err
	}
	return dropEmpty(newPyramid(cells, cz).cellsOf(tr)), nil
}

// queryCells aggregates the tiles of region into cells of zoom cz in
// ClickHouse, one per cell and precision: key is the cell's quadkey
// shifted left by precisionBits, plus its read.PrecisionIndex. Which of
// them a tile shows depends on its zoom (read.MaxZoom): pyramid.cellsOf
// places them.
func (s *Server) queryCells(r *http.Request, tr *tileRequest, src string, region read.Tile, cz uint32) ([]tileCell, error) {
	name := "tile" // a tile or a metatile
	if region == (read.Tile{}) {
		name = "tile_week" // a week pyramid
	}
	q := read.CellQuery{Filter: inWindow(tr.f, tr.win), Area: region, Zoom: cz, ByCategory: tr.byCat, ByPrecision: true, Raw: src == sourceRaw,
		// A small key range: one thread is enough, and cheaper to start
		// when many tiles are asked for at once.
		OneThread: tr.tile.Z >= 10 && name == "tile"}
	var cells []tileCell
	var err error
	if tr.incidents {
		cells, err = s.incidentCells(r, name, q)
	} else {
		cells, err = s.reportCells(r, name, src, q)
	}
	if err != nil {
		return nil, err
	}
	// One cell per cell and precision, ordered by the packed key: rows
	// come by cell, category and precision (the precisions' order by
	// name, not by index).
	slices.SortStableFunc(cells, func(a, b tileCell) int { return cmp.Compare(a.key, b.key) })
	merged := cells[:0]
	for i := range cells {
		if n := len(merged); n > 0 && merged[n-1].key == cells[i].key {
			merged[n-1].merge(&cells[i])
			continue
		}
		merged = append(merged, cells[i])
	}
	cells = merged
	return cells, nil
}

// reportCells are the unplaced cells of q from the report aggregate or
// the raw reports (src), one per row.
func (s *Server) reportCells(r *http.Request, name, src string, q read.CellQuery) ([]tileCell, error) {
	var rows []read.Cell
	err := s.ask(r, name, src, func(ctx context.Context) (err error) {
		rows, err = s.o.Store.TileCells(ctx, q)
		return err
	})
	cells := make([]tileCell, 0, len(rows))
	for _, rc := range rows {
		c := tileCell{key: rc.Key<<precisionBits | uint64(max(read.PrecisionIndex(rc.Precision), 0))}
		c.add(rc.Counts)
		if q.ByCategory && rc.Reports != 0 {
			c.byCategory = map[string]int64{rc.Category: rc.Reports}
		}
		cells = append(cells, c)
	}
	return cells, err
}

// incidentCells are the unplaced cells of q from the incident aggregate,
// one per row.
func (s *Server) incidentCells(r *http.Request, name string, q read.CellQuery) ([]tileCell, error) {
	var rows []read.IncidentTileCell
	err := s.ask(r, name, sourceIncidentAgg, func(ctx context.Context) (err error) {
		rows, err = s.o.Incidents.IncidentTileCells(ctx, q)
		return err
	})
	cells := make([]tileCell, 0, len(rows))
	for _, rc := range rows {
		c := tileCell{key: rc.Key<<precisionBits | uint64(max(read.PrecisionIndex(rc.Precision), 0)),
			incidents: rc.Incidents, reports: rc.Reports, single: rc.Single, corroborated: rc.Corroborated,
			crossGroups: rc.CrossGroups, contested: rc.Contested, violations: rc.Violations,
			possibleViolations: rc.PossibleViolations, killed: rc.Killed, killedMin: rc.KilledMin, injured: rc.Injured}
		if q.ByCategory && rc.Incidents != 0 {
			c.byCategory = map[string]int64{rc.Category: rc.Incidents}
		}
		cells = append(cells, c)
	}
	return cells, err
}

// precisionBits hold a precision index in the key of unplaced cells.
const precisionBits = 3

func (c *tileCell) add(n read.Counts) {
	c.reports += n.Reports
	c.killed += n.Killed
	c.injured += n.Injured
	c.violations += n.Violations
	c.possibleViolations += n.PossibleViolations
	c.coarse += n.Coarse
}

// merge adds o's counts and categories to c.
func (c *tileCell) merge(o *tileCell) {
	c.reports += o.reports
	c.killed += o.killed
	c.injured += o.injured
	c.violations += o.violations
	c.possibleViolations += o.possibleViolations
	c.coarse += o.coarse
	c.incidents += o.incidents
	c.single += o.single
	c.corroborated += o.corroborated
	c.crossGroups += o.crossGroups
	c.contested += o.contested
	c.killedMin += o.killedMin
	for cat, n := range o.byCategory {
		if c.byCategory == nil {
			c.byCategory = map[string]int64{}
		}
		c.byCategory[cat] += n
	}
}

// dropEmpty removes cells whose reports were all retracted.
func dropEmpty(cells []tileCell) []tileCell {
	out := cells[:0]
	for _, c := range cells {
		if c.reports > 0 || c.coarse > 0 {
			out = append(out, c)
		}
	}
	return out
}

// fineTileCells bins the reports of a tile whose cells are finer than the
// storage key, from their coordinates.
func (s *Server) fineTileCells(r *http.Request, tr *tileRequest) ([]tileCell, error) {
	var pts []read.Point
	err := s.ask(r, "tile_fine", sourceRaw, func(ctx context.Context) (err error) {
		pts, err = s.o.Store.TilePoints(ctx, read.Tile{X: tr.tile.X, Y: tr.tile.Y, Z: uint32(tr.tile.Z)}, inWindow(tr.f, tr.win), maxRawTileRows)
		return err
	})
	if err != nil {
		return nil, err
	}
	cz := uint32(tr.tile.Z) + GridBits
	byKey := map[uint64]*tileCell{}
	for _, p := range pts {
		if p.Reports == 0 {
			continue
		}
		t := read.TileOf(p.Lon, p.Lat, cz)
		if t.X>>GridBits != tr.tile.X || t.Y>>GridBits != tr.tile.Y {
			continue // in the storage tile, not in this finer tile
		}
		key := t.Quadkey()
		c := byKey[key]
		if c == nil {
			c = &tileCell{key: key}
			byKey[key] = c
		}
		if read.MaxZoom(p.Precision) < uint32(tr.tile.Z) {
			c.coarse += p.Reports
			continue
		}
		c.add(p.Counts)
		if tr.byCat {
			if c.byCategory == nil {
				c.byCategory = map[string]int64{}
			}
			c.byCategory[p.Category] += p.Reports
		}
	}
	cells := make([]tileCell, 0, len(byKey))
	for _, c := range byKey {
		cells = append(cells, *c)
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].key < cells[j].key })
	return dropEmpty(cells), nil
}
