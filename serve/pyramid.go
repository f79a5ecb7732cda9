package serve

import (
	"context"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/storage/read"
)

// PyramidZoom is the cell zoom of the window pyramid: tiles up to zoom
// PyramidZoom-GridBits (12) are summed from it instead of queried one by
// one.
const PyramidZoom = 16

// maxPyramidCells bounds the cells kept in week pyramids and metatiles
// together: about 256 MB of narrow cells. A week of the 10-million-report
// benchmark is about 55,000 cells; its year, whole and partial weeks, fits
// (at 4,000,000 the pieces evicted each other and tile p99 tripled).
const maxPyramidCells = 8_000_000

// maxAreaTotals bounds the areas' week totals kept (about 100 bytes each):
// ten years of weeks of the 272 sub-districts.
const maxAreaTotals = 150_000

// MetatileLevels: a tile of zoom 2 or more that no pyramid holds is
// computed with at least the 4x4 block of tiles around it (its ancestor
// two zooms up, the classic metatile of tile servers; see metatile): the
// tiles of one viewport mostly share a few metatiles, and a query over a
// 16 times larger key range costs little more than one over a single
// tile, which is dominated by the per-query overhead.
const MetatileLevels = 2

// metatile is the zoom of the region whose piece computes a tile of zoom
// z, and the zoom of its cells: the ancestor MetatileLevels up, with the
// tile's own cells; above the pyramids' zooms the zooms pair up (13 and
// 14, 15 and 16), both computed from the odd zoom's metatile with the
// even zoom's cells (when no finer than maxCell). A map zoomed in from 13
// to 14 then reads nothing new, and a pan at 14 stays longer inside its
// 8x8-tile metatile; under the load benchmark these queries were most of
// the z13-14 tiles' p99.
func metatile(z, maxCell uint32) (region, cells uint32) {
	region, cells = z-MetatileLevels, z+GridBits
	if first := uint32(PyramidZoom - GridBits + 1); z >= first {
		odd := z - (z-first)%2
		if c := odd + 1 + GridBits; c <= maxCell {
			return odd - MetatileLevels, c
		}
	}
	return region, cells
}

// A low-zoom tile covers a large part of the key space, so its query reads
// most of the window's rows: a z6 tile over Syria costs as much as the
// whole country. So the tiles of zoom <= PyramidZoom-GridBits (12) are
// summed in memory from pyramids: the whole country's cells at
// PyramidZoom (about 600 m) for one week (Monday to Monday, UTC) and one
// filter set, one query each, kept for TileMaxAge. A window is the weeks
// it covers plus its partial weeks at either end, so windows that overlap
// (a time slider moved by a week, users on the default window) share
// their weeks instead of each reading all of its rows again: under the
// load benchmark, whole-window pyramids were 114 queries of about a second
// in 30 s, most of ClickHouse's work.

// A pyramid's cells are sorted by key (quadkey at zoom cz, then
// precision). They are kept narrow (32 bytes instead of 64) unless they
// carry categories or a sum outside int32: a server holds millions.
type pyramid struct {
	narrow []narrowCell
	wide   []tileCell
	cz     uint32
}

type narrowCell struct {
	key                                  uint64 // quadkey<<precisionBits | precision index
	reports, killed, injured, violations int32
	possibleViolations                   int32
}

// newPyramid keeps cells as queryCells returns them: by cell and
// precision, not yet placed.
func newPyramid(cells []tileCell, cz uint32) *pyramid {
	fits := func(v int64) bool { return v >= math.MinInt32 && v <= math.MaxInt32 }
	for _, c := range cells {
		if c.byCategory != nil || c.incidents != 0 || !fits(c.reports) || !fits(c.killed) || !fits(c.injured) || !fits(c.violations) || !fits(c.possibleViolations) {
			return &pyramid{wide: cells, cz: cz}
		}
	}
	narrow := make([]narrowCell, len(cells))
	for i, c := range cells {
		narrow[i] = narrowCell{key: c.key, reports: int32(c.reports), killed: int32(c.killed), injured: int32(c.injured),
			violations: int32(c.violations), possibleViolations: int32(c.possibleViolations)}
	}
	return &pyramid{narrow: narrow, cz: cz}
}

// len is the pyramid's size in narrow cells: a wide cell (categories,
// incidents) counts as the narrow cells its memory would hold, so that
// maxPyramidCells bounds memory whatever the pyramids hold.
func (p *pyramid) len() int { return len(p.narrow) + len(p.wide)*wideCost }

const wideCost = int(unsafe.Sizeof(tileCell{}) / unsafe.Sizeof(narrowCell{}))

func (tr *tileRequest) pyramidKey(src string, region read.Tile, cz uint32) string {
	// Built by hand: it is made for every week of every tile request.
	b := make([]byte, 0, 128)
	b = append(b, src...)
	for _, n := range [...]uint32{region.Z, region.X, region.Y, cz} {
		b = strconv.AppendUint(append(b, '|'), uint64(n), 10)
	}
	for _, t := range [...]time.Time{tr.win.From, tr.win.To} {
		b = strconv.AppendInt(append(b, '|'), t.UnixNano(), 10)
	}
	for _, l := range [...][]string{tr.f.Categories, tr.f.Sides, tr.f.Zones, tr.f.Partners, tr.f.Precisions} {
		b = append(b, '|')
		for i, v := range l {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
	}
	b = append(b, '|')
	for _, v := range tr.f.Violations {
		b = strconv.AppendUint(append(b, ','), uint64(v), 10)
	}
	return string(strconv.AppendBool(append(b, '|'), tr.byCat))
}

// pyramidFor returns the cells of zoom cz of region (a tile containing
// tr's) for tr's window and filters, from src, through the piece cache
// (kept for TileMaxAge, then served stale while refreshed).
func (s *Server) pyramidFor(r *http.Request, tr *tileRequest, src string, region read.Tile, cz uint32) (*pyramid, error) {
	trc := *tr // a background refresh may outlive the request
	build := func(ctx context.Context) (*pyramid, error) {
		cells, err := s.queryCells(r.WithContext(ctx), &trc, src, region, cz)
		if err != nil {
			return nil, err
		}
		return newPyramid(cells, cz), nil
	}
	p, how, err := s.pyramids.get(r.Context(), tr.pyramidKey(src, region, cz), s.o.TileMaxAge, s.o.QueryTimeout,
		s.dataVersion(src, trc.win), build,
		func(err error) { s.o.Logger.Warn("serve: refresh cells", "err", err) })
	if err != nil {
		return nil, err
	}
	s.mCache.WithLabelValues("cells_" + how).Inc()
	return p, nil
}

// dataVersion is the version of table's data over win, "" when the store
// cannot tell (the piece is then built again when it expires).
func (s *Server) dataVersion(table string, win window) versionFunc {
	return func(ctx context.Context, notBefore time.Time) string {
		v, err := s.o.Store.DataVersion(ctx, table, win.From, win.To, notBefore)
		if err != nil {
			return ""
		}
		return v
	}
}

// cellsOf sums the pyramid cells inside tile tr into cells at zoom
// tr.Z+GridBits, placed: a report whose precision is too coarse for the
// tile's zoom (read.MaxZoom) counts only in coarse.
func (p *pyramid) cellsOf(tr *tileRequest) []tileCell {
	g := gridPool.Get().(*cellGrid)
	defer gridPool.Put(g)
	p.addTo(g, tr)
	return g.take()
}

// cellGrid sums the cells of one tile at zoom z+GridBits: 2^(2 GridBits)
// at most, each at the low bits of its quadkey, which are its place in
// the tile's quadkey order. Summing the weeks of a window into it costs
// no merge of sorted lists.
type cellGrid struct {
	cells [1 << (2 * GridBits)]tileCell
	used  [1 << (2 * GridBits)]bool
	n     int
}

var gridPool = sync.Pool{New: func() any { return new(cellGrid) }}

// take returns the cells summed, in key order, and empties g.
func (g *cellGrid) take() []tileCell {
	out := make([]tileCell, 0, g.n)
	for i := range g.cells {
		if g.used[i] {
			out = append(out, g.cells[i])
			g.cells[i], g.used[i] = tileCell{}, false
		}
	}
	g.n = 0
	return out
}

func (g *cellGrid) at(key uint64) *tileCell {
	i := key & (1<<(2*GridBits) - 1)
	if !g.used[i] {
		g.used[i], g.n = true, g.n+1
		g.cells[i].key = key
	}
	return &g.cells[i]
}

// addTo adds the pyramid's cells inside tile tr to g.
func (p *pyramid) addTo(g *cellGrid, tr *tileRequest) {
	// The tile's key range at the pyramid's zoom (which may be finer than
	// read.TileZoom: the incident aggregate's key is).
	t := read.Tile{X: tr.tile.X, Y: tr.tile.Y, Z: uint32(tr.tile.Z)}
	d := 2 * (p.cz - t.Z)
	lo, hi := t.Quadkey()<<d<<precisionBits, (t.Quadkey()+1)<<d<<precisionBits
	up := 2*(p.cz-(uint32(tr.tile.Z)+GridBits)) + precisionBits
	var placed [8]bool
	for i, pr := range read.Precisions {
		placed[i] = read.MaxZoom(pr) >= uint32(tr.tile.Z)
	}
	if p.wide == nil {
		i := sort.Search(len(p.narrow), func(i int) bool { return p.narrow[i].key >= lo })
		j := sort.Search(len(p.narrow), func(i int) bool { return p.narrow[i].key >= hi })
		for _, c := range p.narrow[i:j] {
			o := g.at(c.key >> up)
			if !placed[c.key&(1<<precisionBits-1)] {
				o.coarse += int64(c.reports)
				continue
			}
			o.reports += int64(c.reports)
			o.killed += int64(c.killed)
			o.injured += int64(c.injured)
			o.violations += int64(c.violations)
			o.possibleViolations += int64(c.possibleViolations)
		}
		return
	}
	i := sort.Search(len(p.wide), func(i int) bool { return p.wide[i].key >= lo })
	j := sort.Search(len(p.wide), func(i int) bool { return p.wide[i].key >= hi })
	for _, c := range p.wide[i:j] {
		o, ok := g.at(c.key>>up), placed[c.key&(1<<precisionBits-1)]
		switch {
		case !ok && c.incidents != 0: // an incident cell: coarse counts incidents
			o.coarse += c.incidents
		case !ok:
			o.coarse += c.reports
		default:
			o.merge(&c) // unplaced cells hold nothing coarse
		}
	}
}

// weeks splits w at the Mondays (UTC) inside it.
func weeks(w window) []window {
	var out []window
	for from := w.From; from.Before(w.To); {
		d := from.Truncate(24 * time.Hour)
		next := d.AddDate(0, 0, 7-(int(d.Weekday())+6)%7) // the next Monday
		if next.After(w.To) {
			next = w.To
		}
		out = append(out, window{From: from, To: next})
		from = next
	}
	return out
}

// eachWeek gets one piece per week of win (see weeks), a few at once.
func eachWeek[V any](win window, get func(window) (V, error)) ([]V, error) {
	ws := weeks(win)
	out := make([]V, len(ws))
	var g errgroup.Group
	g.SetLimit(3)
	for i, w := range ws {
		g.Go(func() error {
			v, err := get(w)
			out[i] = v
			return err
		})
	}
	return out, g.Wait()
}

// windowCells sums tile tr's cells from the week pyramids of its window,
// building the missing weeks (a few queries at once).
func (s *Server) windowCells(r *http.Request, tr *tileRequest, src string) ([]tileCell, error) {
	ps, err := eachWeek(tr.win, func(w window) (*pyramid, error) {
		wr := *tr
		wr.win = w
		return s.pyramidFor(r, &wr, src, read.Tile{}, PyramidZoom)
	})
	if err != nil {
		return nil, err
	}
	g := gridPool.Get().(*cellGrid)
	defer gridPool.Put(g)
	for _, p := range ps {
		p.addTo(g, tr)
	}
	return dropEmpty(g.take()), nil
}
