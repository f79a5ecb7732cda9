package serve

import (
	"context"
	"errors"
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
const PyramidZoom = 13

const maxPyramids = 32

// A low-zoom tile covers a large part of the key space, so its query reads
// most of the window's rows: a z6 tile over Syria costs as much as the
// whole country. The window pyramid is that whole-country query done once
// per window and filter set, grouped by zoom-13 cell (about 5 km), kept
// for TileMaxAge; every tile of zoom <= 9 in that window is then summed
// from it in memory. A user zooming from the whole country down to a city
// asks for about a hundred such tiles with the same window.

type pyramid struct {
	cells []tileCell // sorted by key (zoom-13 quadkey)
}

type pyramidEntry struct {
	p       *pyramid
	expires time.Time
	used    time.Time
}

type pyramids struct {
	mu    sync.Mutex
	items map[string]*pyramidEntry
	group singleflight.Group
}

func (tr *tileRequest) pyramidKey() string {
	v := "-"
	if tr.f.Violation != nil {
		v = "0"
		if *tr.f.Violation {
			v = "1"
		}
	}
	return tr.win.From.String() + "|" + tr.win.To.String() + "|" + strings.Join(tr.f.Categories, ",") + "|" + v + "|" + boolStr(tr.byCat)
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// pyramidFor returns the window pyramid of tr, building it once for every
// identical request in flight.
func (s *Server) pyramidFor(r *http.Request, tr *tileRequest) (*pyramid, error) {
	key := tr.pyramidKey()
	now := time.Now()
	ps := &s.pyramids
	ps.mu.Lock()
	if e := ps.items[key]; e != nil && now.Before(e.expires) {
		e.used = now
		ps.mu.Unlock()
		s.mCache.WithLabelValues("pyramid_hit").Inc()
		return e.p, nil
	}
	ps.mu.Unlock()
	build := func(r *http.Request) (*pyramid, error) {
		whole := *tr
		whole.tile.X, whole.tile.Y, whole.tile.Z = 0, 0, 0
		cells, err := s.queryCells(r, &whole, sourceTileAgg, 0, 1<<(2*storage.TileZoom), PyramidZoom)
		if err != nil {
			return nil, err
		}
		return &pyramid{cells: cells}, nil
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
		for len(ps.items) > maxPyramids {
			var oldest string
			var ot time.Time
			for k, e := range ps.items {
				if oldest == "" || e.used.Before(ot) {
					oldest, ot = k, e.used
				}
			}
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
	s.mCache.WithLabelValues("pyramid_miss").Inc()
	return v.(*pyramid), nil
}

// cellsOf sums the pyramid cells inside tile tr into cells at zoom
// tr.Z+GridBits.
func (p *pyramid) cellsOf(tr *tileRequest) []tileCell {
	lo, hi := storage.TileRange(storage.Tile{X: tr.tile.X, Y: tr.tile.Y, Z: uint32(tr.tile.Z)})
	shift := 2 * (storage.TileZoom - PyramidZoom)
	lo, hi = lo>>shift, hi>>shift
	i := sort.Search(len(p.cells), func(i int) bool { return p.cells[i].key >= lo })
	j := sort.Search(len(p.cells), func(i int) bool { return p.cells[i].key >= hi })
	up := 2 * (PyramidZoom - (uint32(tr.tile.Z) + GridBits))
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
