package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/trucewatch/trucewatch/storage"
)

// PyramidZoom is the cell zoom of the window pyramid: tiles up to zoom
// PyramidZoom-GridBits (9) are summed from it instead of queried one by
// one.
const PyramidZoom = 16

// maxPyramidCells bounds the cells kept in window pyramids and metatiles
// together.
// A week of the 10-million-report benchmark is about 55,000 cells (48
// bytes each): 4,000,000 cells, about 190 MB, hold its whole year.
const maxPyramidCells = 4_000_000

// MetatileLevels: a tile of zoom 2..16 is computed with the 4x4 block of
// tiles around it (its ancestor two zooms up, the classic metatile of tile
// servers): the tiles of one viewport mostly share a few metatiles, and a
// query over a 16 times larger key range costs little more than one over a
// single tile, which is dominated by the per-query overhead.
const MetatileLevels = 2

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

type pyramid struct {
	cells []tileCell // sorted by key (quadkey at zoom cz)
	cz    uint32
}

type pyramidEntry struct {
	p          *pyramid
	expires    time.Time
	used       time.Time
	refreshing bool // a background query is replacing p
}

type pyramids struct {
	mu    sync.Mutex
	cells int // in items
	items map[string]*pyramidEntry
	group singleflight.Group
}

func (tr *tileRequest) pyramidKey(src string, region storage.Tile, cz uint32) string {
	v := "-"
	if tr.f.Violation != nil {
		v = "0"
		if *tr.f.Violation {
			v = "1"
		}
	}
	return fmt.Sprintf("%s|%d/%d/%d|%d|%s|%s|%s|%s|%s|%s|%s|%s", src, region.Z, region.X, region.Y, cz,
		tr.win.From, tr.win.To, strings.Join(tr.f.Categories, ","), strings.Join(tr.f.Sides, ","),
		strings.Join(tr.f.Zones, ","), strings.Join(tr.f.Partners, ","), v, boolStr(tr.byCat))
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// pyramidFor returns the cells of zoom cz of region (a tile containing
// tr's) for tr's window and filters, from src, building them once for
// every identical request in flight and keeping them for TileMaxAge. For
// one more TileMaxAge after that, the old cells are served while one
// background query replaces them (stale-while-revalidate, as the tiles'
// Cache-Control allows clients), so that a busy pyramid's expiry does not
// stall every tile drawn from it.
func (s *Server) pyramidFor(r *http.Request, tr *tileRequest, src string, region storage.Tile, cz uint32) (*pyramid, error) {
	key := tr.pyramidKey(src, region, cz)
	now := time.Now()
	ps := &s.pyramids
	build := func(r *http.Request) (*pyramid, error) {
		lo, hi := storage.TileRange(region)
		cells, err := s.queryCells(r, tr, src, lo, hi, cz)
		if err != nil {
			return nil, err
		}
		return &pyramid{cells: cells, cz: cz}, nil
	}
	ps.mu.Lock()
	if e := ps.items[key]; e != nil && now.Before(e.expires.Add(s.o.TileMaxAge)) {
		e.used = now
		fresh := now.Before(e.expires)
		if !fresh && !e.refreshing {
			e.refreshing = true
			trc := *tr // tr belongs to the request, which may end first
			go s.refreshPyramid(key, func(r *http.Request) (*pyramid, error) {
				lo, hi := storage.TileRange(region)
				cells, err := s.queryCells(r, &trc, src, lo, hi, cz)
				if err != nil {
					return nil, err
				}
				return &pyramid{cells: cells, cz: cz}, nil
			}, r)
		}
		ps.mu.Unlock()
		if fresh {
			s.mCache.WithLabelValues("cells_hit").Inc()
		} else {
			s.mCache.WithLabelValues("cells_stale").Inc()
		}
		return e.p, nil
	}
	ps.mu.Unlock()
	v, err, shared := ps.group.Do(key, func() (any, error) {
		p, err := build(r)
		if err != nil {
			return nil, err
		}
		s.storePyramid(key, p)
		return p, nil
	})
	if shared && err != nil && errors.Is(err, context.Canceled) && r.Context().Err() == nil {
		return build(r)
	}
	if err != nil {
		return nil, err
	}
	if shared {
		s.mCache.WithLabelValues("cells_shared").Inc()
	} else {
		s.mCache.WithLabelValues("cells_miss").Inc()
	}
	return v.(*pyramid), nil
}

// refreshPyramid rebuilds a stale pyramid in the background, with a
// context of its own (the request that noticed may be gone).
func (s *Server) refreshPyramid(key string, build func(*http.Request) (*pyramid, error), r *http.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.QueryTimeout)
	defer cancel()
	_, err, _ := s.pyramids.group.Do(key, func() (any, error) {
		p, err := build(r.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		s.storePyramid(key, p)
		return p, nil
	})
	if err != nil {
		s.o.Logger.Warn("serve: refresh cells", "err", err)
		ps := &s.pyramids
		ps.mu.Lock()
		if e := ps.items[key]; e != nil {
			e.refreshing = false // the next request tries again
		}
		ps.mu.Unlock()
	}
}

// storePyramid keeps p under key, evicting the least recently used
// pyramids beyond maxPyramidCells.
func (s *Server) storePyramid(key string, p *pyramid) {
	ps := &s.pyramids
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.items == nil {
		ps.items = map[string]*pyramidEntry{}
	}
	if old := ps.items[key]; old != nil {
		ps.cells -= len(old.p.cells)
	}
	t := time.Now()
	ps.items[key] = &pyramidEntry{p: p, expires: t.Add(s.o.TileMaxAge), used: t}
	ps.cells += len(p.cells)
	for ps.cells > maxPyramidCells && len(ps.items) > 1 {
		var oldest string
		var ot time.Time
		for k, e := range ps.items {
			if oldest == "" || e.used.Before(ot) {
				oldest, ot = k, e.used
			}
		}
		ps.cells -= len(ps.items[oldest].p.cells)
		delete(ps.items, oldest)
	}
}

// cellsOf sums the pyramid cells inside tile tr into cells at zoom
// tr.Z+GridBits.
func (p *pyramid) cellsOf(tr *tileRequest) []tileCell {
	lo, hi := storage.TileRange(storage.Tile{X: tr.tile.X, Y: tr.tile.Y, Z: uint32(tr.tile.Z)})
	shift := 2 * (storage.TileZoom - p.cz)
	lo, hi = lo>>shift, hi>>shift
	i := sort.Search(len(p.cells), func(i int) bool { return p.cells[i].key >= lo })
	j := sort.Search(len(p.cells), func(i int) bool { return p.cells[i].key >= hi })
	up := 2 * (p.cz - (uint32(tr.tile.Z) + GridBits))
	var out []tileCell
	for _, c := range p.cells[i:j] {
		key := c.key >> up
		if len(out) == 0 || out[len(out)-1].key != key {
			out = append(out, tileCell{key: key})
		}
		o := &out[len(out)-1]
		o.reports += c.reports
		o.killed += c.killed
		o.injured += c.injured
		o.violations += c.violations
		for cat, n := range c.byCategory {
			if o.byCategory == nil {
				o.byCategory = map[string]int64{}
			}
			o.byCategory[cat] += n
		}
	}
	return out
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

// windowCells sums tile tr's cells from the week pyramids of its window,
// building the missing weeks (a few queries at once).
func (s *Server) windowCells(r *http.Request, tr *tileRequest, src string) ([]tileCell, error) {
	ws := weeks(tr.win)
	ps := make([]*pyramid, len(ws))
	var g errgroup.Group
	g.SetLimit(3)
	for i, w := range ws {
		g.Go(func() error {
			wr := *tr
			wr.win = w
			p, err := s.pyramidFor(r, &wr, src, storage.Tile{}, PyramidZoom)
			ps[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var cells []tileCell
	for _, p := range ps {
		cells = addCells(cells, p.cellsOf(tr))
	}
	return dropEmpty(cells), nil
}

// addCells sums two lists of cells sorted by key. Both are the caller's
// own (cellsOf builds them), so their category maps may be reused.
func addCells(a, b []tileCell) []tileCell {
	if len(a) == 0 {
		return b
	}
	out := make([]tileCell, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].key < b[j].key):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].key < a[i].key:
			out = append(out, b[j])
			j++
		default:
			c := a[i]
			c.reports += b[j].reports
			c.killed += b[j].killed
			c.injured += b[j].injured
			c.violations += b[j].violations
			for cat, n := range b[j].byCategory {
				if c.byCategory == nil {
					c.byCategory = map[string]int64{}
				}
				c.byCategory[cat] += n
			}
			out = append(out, c)
			i, j = i+1, j+1
		}
	}
	return out
}
