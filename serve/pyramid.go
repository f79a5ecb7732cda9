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

	"golang.org/x/sync/singleflight"

	"github.com/trucewatch/trucewatch/storage"
)

// PyramidZoom is the cell zoom of the window pyramid: tiles up to zoom
// PyramidZoom-GridBits (9) are summed from it instead of queried one by
// one.
const PyramidZoom = 16

// maxPyramidCells bounds the cells kept in window pyramids and metatiles
// together.
const maxPyramidCells = 3_000_000

// MetatileLevels: a tile of zoom 2..16 is computed with the 4x4 block of
// tiles around it (its ancestor two zooms up, the classic metatile of tile
// servers): the tiles of one viewport mostly share a few metatiles, and a
// query over a 16 times larger key range costs little more than one over a
// single tile, which is dominated by the per-query overhead.
const MetatileLevels = 2

// A low-zoom tile covers a large part of the key space, so its query reads
// most of the window's rows: a z6 tile over Syria costs as much as the
// whole country. The window pyramid is that whole-country query done once
// per window and filter set, grouped by zoom-13 cell (about 5 km), kept
// for TileMaxAge; every tile of zoom <= 9 in that window is then summed
// from it in memory. A user zooming from the whole country down to a city
// asks for about a hundred such tiles with the same window.

type pyramid struct {
	cells []tileCell // sorted by key (quadkey at zoom cz)
	cz    uint32
}

type pyramidEntry struct {
	p       *pyramid
	expires time.Time
	used    time.Time
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
// every identical request in flight and keeping them for TileMaxAge.
func (s *Server) pyramidFor(r *http.Request, tr *tileRequest, src string, region storage.Tile, cz uint32) (*pyramid, error) {
	key := tr.pyramidKey(src, region, cz)
	now := time.Now()
	ps := &s.pyramids
	ps.mu.Lock()
	if e := ps.items[key]; e != nil && now.Before(e.expires) {
		e.used = now
		ps.mu.Unlock()
		s.mCache.WithLabelValues("cells_hit").Inc()
		return e.p, nil
	}
	ps.mu.Unlock()
	build := func(r *http.Request) (*pyramid, error) {
		lo, hi := storage.TileRange(region)
		cells, err := s.queryCells(r, tr, src, lo, hi, cz)
		if err != nil {
			return nil, err
		}
		return &pyramid{cells: cells, cz: cz}, nil
	}
	v, err, shared := ps.group.Do(key, func() (any, error) {
		p, err := build(r)
		if err != nil {
			return nil, err
		}
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if ps.items == nil {
			ps.items = map[string]*pyramidEntry{}
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
