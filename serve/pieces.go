package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// pieceCache keeps the results of the queries that answers are summed
// from (a week's cells, a week's area totals) for a max-age, builds each
// once for every request in flight, and serves an expired result for one
// more max-age while a single background query replaces it
// (stale-while-revalidate, as the answers' Cache-Control allows clients):
// a busy piece's expiry must not stall every request drawn from it. The
// least recently used pieces go when the sum of their sizes passes max.
type pieceCache[V any] struct {
	max  int         // bound on the sum of size(v)
	size func(V) int // in the unit max counts

	mu    sync.Mutex
	units int
	items map[string]*piece[V]
	group singleflight.Group
}

type piece[V any] struct {
	v          V
	version    string // of the data it was built from ("": unknown)
	units      int
	expires    time.Time
	used       time.Time
	refreshing bool // a background query is replacing v
}

// How a piece was found, for the cache metrics.
const (
	pieceHit    = "hit"
	pieceStale  = "stale"
	pieceShared = "shared"
	pieceMiss   = "miss"
)

// versionFunc names the state of the data a piece is built from, in a
// snapshot taken after notBefore ("": unknown).
type versionFunc func(ctx context.Context, notBefore time.Time) string

// get returns the piece under key, building it with build (under ctx, or
// under a context of refresh's timeout in the background) when needed.
// An expired piece whose data version has not changed since it was built
// is kept for another maxAge without a query: most pieces are weeks of
// the past, which change only when a late report lands in them.
// onRefreshErr hears of background failures; the next request retries.
func (c *pieceCache[V]) get(ctx context.Context, key string, maxAge, refresh time.Duration, version versionFunc,
	build func(context.Context) (V, error), onRefreshErr func(error)) (V, string, error) {
	now := time.Now()
	c.mu.Lock()
	if p := c.items[key]; p != nil && now.Before(p.expires.Add(maxAge)) {
		p.used = now
		fresh := now.Before(p.expires)
		if !fresh && !p.refreshing {
			p.refreshing = true
			go c.refresh(key, maxAge, refresh, version, build, onRefreshErr)
		}
		v := p.v
		c.mu.Unlock()
		if fresh {
			return v, pieceHit, nil
		}
		return v, pieceStale, nil
	}
	c.mu.Unlock()
	res, err, shared := c.load(ctx, key, maxAge, version, build)
	if shared && err != nil && errors.Is(err, context.Canceled) && ctx.Err() == nil {
		// The request that ran the query went away; this one has not.
		v, err := build(ctx)
		return v, pieceMiss, err
	}
	if err != nil {
		var zero V
		return zero, pieceMiss, err
	}
	if shared {
		return res.(V), pieceShared, nil
	}
	return res.(V), pieceMiss, nil
}

func (c *pieceCache[V]) refresh(key string, maxAge, timeout time.Duration, version versionFunc, build func(context.Context) (V, error), onErr func(error)) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if c.unchanged(ctx, key, maxAge, version) {
		return
	}
	_, err, _ := c.load(ctx, key, maxAge, version, build)
	if err != nil {
		c.mu.Lock()
		if p := c.items[key]; p != nil {
			p.refreshing = false
		}
		c.mu.Unlock()
		onErr(err)
	}
}

// unchanged extends the expired piece under key by maxAge if its data
// version, in a snapshot taken since it expired (so after every write
// that could have made it stale), is the one it was built from.
func (c *pieceCache[V]) unchanged(ctx context.Context, key string, maxAge time.Duration, version versionFunc) bool {
	c.mu.Lock()
	p := c.items[key]
	var built string
	var expired time.Time
	if p != nil {
		built, expired = p.version, p.expires
	}
	c.mu.Unlock()
	if built == "" || version(ctx, expired) != built {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items[key] != p {
		return false
	}
	p.expires, p.refreshing = time.Now().Add(maxAge), false
	return true
}

// load builds and stores the piece under key once for all its callers in
// flight, with the data version read before the build began (a write
// during the build changes the version: the next refresh builds again).
func (c *pieceCache[V]) load(ctx context.Context, key string, maxAge time.Duration, version versionFunc, build func(context.Context) (V, error)) (any, error, bool) {
	return c.group.Do(key, func() (any, error) {
		ver := version(ctx, time.Time{})
		v, err := build(ctx)
		if err != nil {
			return nil, err
		}
		c.store(key, v, ver, maxAge)
		return v, nil
	})
}

func (c *pieceCache[V]) store(key string, v V, version string, maxAge time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[string]*piece[V]{}
	}
	if old := c.items[key]; old != nil {
		c.units -= old.units
	}
	t := time.Now()
	p := &piece[V]{v: v, version: version, units: c.size(v), expires: t.Add(maxAge), used: t}
	c.items[key] = p
	c.units += p.units
	for c.units > c.max && len(c.items) > 1 {
		var oldest string
		var ot time.Time
		for k, e := range c.items {
			if oldest == "" || e.used.Before(ot) {
				oldest, ot = k, e.used
			}
		}
		c.units -= c.items[oldest].units
		delete(c.items, oldest)
	}
}

// held is the sum of the sizes of the pieces kept.
func (c *pieceCache[V]) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units
}
