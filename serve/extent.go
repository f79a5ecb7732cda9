package serve

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// extentMaxAge is how long the extent is kept before it is asked again;
// "no data yet" only for noDataMaxAge, so that a new feed shows at once.
const (
	extentMaxAge = 30 * time.Second
	noDataMaxAge = 2 * time.Second
)

// extentCache holds the last answer of Store.Extent.
type extentCache struct {
	mu          sync.Mutex
	at          time.Time // when fetched; zero = never
	first, last time.Time
	ok          bool // data exists
}

// extent returns the data's first and last day, cached for extentMaxAge.
// ok is false when no report is stored.
func (s *Server) extent(ctx context.Context) (first, last time.Time, ok bool, err error) {
	c := &s.extentC
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	maxAge := extentMaxAge
	if !c.ok {
		maxAge = noDataMaxAge
	}
	if !c.at.IsZero() && now.Sub(c.at) < maxAge {
		return c.first, c.last, c.ok, nil
	}
	start := time.Now()
	f, l, err := s.o.Store.Extent(ctx)
	switch {
	case err == nil:
		c.first, c.last, c.ok = f.UTC(), l.UTC(), true
	case errors.Is(err, read.ErrNoData):
		c.ok = false
		err = nil
	default:
		s.observe("extent", "counts_adm_day", start, err)
		return first, last, false, err
	}
	s.observe("extent", "counts_adm_day", start, nil)
	c.at = now
	return c.first, c.last, c.ok, nil
}

// windowNow is the "now" the default window ends at: the clock, or the
// last day that holds data when that is earlier, so that a historical
// data set (the demo's 2017, an import) opens on its own last 30 days.
// When the extent cannot be read it is the clock.
func (s *Server) windowNow(r *http.Request) time.Time {
	now := s.o.Now()
	if v := r.URL.Query(); v.Has("from") && v.Has("to") {
		return now // not used: no lookup
	}
	ctx, cancel := s.queryCtx(r)
	defer cancel()
	_, last, ok, err := s.extent(ctx)
	if err != nil {
		s.log.Warn("extent", "err", err)
	}
	if ok && last.Before(now) {
		return last
	}
	return now
}

// handleExtent answers GET /v1/extent: the days that hold data and the
// default window of every endpoint.
func (s *Server) handleExtent(w http.ResponseWriter, r *http.Request) error {
	q, err := newQuery(r.URL, nil)
	if err != nil {
		return err
	}
	ctx, cancel := s.queryCtx(r)
	defer cancel()
	first, last, ok, err := s.extent(ctx)
	if err != nil {
		return err
	}
	win, err := q.window(s.windowNow(r), s.o.Window, s.o.MaxWindow)
	if err != nil {
		return err
	}
	type body struct {
		First       *string `json:"first"` // first day with data, null when none
		Last        *string `json:"last"`  // last day with data
		DefaultFrom string  `json:"default_from"`
		DefaultTo   string  `json:"default_to"`
		MaxWindow   int     `json:"max_window_days"`
		Now         string  `json:"now"`
	}
	b := body{DefaultFrom: win.From.Format(time.RFC3339), DefaultTo: win.To.Format(time.RFC3339),
		MaxWindow: int(s.o.MaxWindow / (24 * time.Hour)), Now: s.o.Now().UTC().Format(time.RFC3339)}
	if ok {
		f, l := first.Format("2006-01-02"), last.Format("2006-01-02")
		b.First, b.Last = &f, &l
	}
	return s.sendJSON(w, r, "extent", "application/json", "no-cache", b)
}
