package serve

import (
	"container/list"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultCacheBytes is the default size of the response cache.
const DefaultCacheBytes = 64 << 20

// cache keeps recent responses (tiles, choropleths, series) for their
// max-age, and coalesces identical requests in flight into one query: map
// clients showing the same view at the same time (the default view, a
// shared link, a time slider moved in steps) cost one ClickHouse query.
type cache struct {
	max   int
	mu    sync.Mutex
	size  int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
	group singleflight.Group
}

type cacheItem struct {
	key     string
	resp    response
	expires time.Time
}

func newCache(maxBytes int) *cache {
	if maxBytes <= 0 {
		return nil
	}
	return &cache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
}

func (c *cache) get(key string, now time.Time) (response, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return response{}, false
	}
	it := el.Value.(*cacheItem)
	if now.After(it.expires) {
		c.remove(el)
		return response{}, false
	}
	c.ll.MoveToFront(el)
	return it.resp, true
}

func (c *cache) put(key string, resp response, ttl time.Duration, now time.Time) {
	n := len(resp.body) + len(key) + 128
	if ttl <= 0 || n > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	c.items[key] = c.ll.PushFront(&cacheItem{key: key, resp: resp, expires: now.Add(ttl)})
	c.size += n
	for c.size > c.max {
		c.remove(c.ll.Back())
	}
}

func (c *cache) remove(el *list.Element) {
	it := el.Value.(*cacheItem)
	c.ll.Remove(el)
	delete(c.items, it.key)
	c.size -= len(it.resp.body) + len(it.key) + 128
}

// cached answers from the cache, or builds the response once for every
// identical request in flight and caches it for ttl. build runs under the
// context of the request that started it; when that client goes away the
// query is cancelled and the requests that were waiting build their own.
func (s *Server) cached(w http.ResponseWriter, r *http.Request, key string, ttl time.Duration,
	build func(*http.Request) (response, error)) error {
	if s.cache == nil {
		resp, err := build(r)
		if err != nil {
			return err
		}
		return s.send(w, r, resp)
	}
	now := time.Now()
	if resp, ok := s.cache.get(key, now); ok {
		s.mCache.WithLabelValues("hit").Inc()
		return s.send(w, r, resp)
	}
	v, err, shared := s.cache.group.Do(key, func() (any, error) {
		resp, err := build(r)
		if err == nil {
			resp.prepare()
			s.cache.put(key, resp, ttl, time.Now())
		}
		return resp, err
	})
	if shared && err != nil && errors.Is(err, context.Canceled) && r.Context().Err() == nil {
		// The request that ran the query was cancelled by its client,
		// not this one.
		s.mCache.WithLabelValues("retry").Inc()
		v, err = build(r)
	}
	if err != nil {
		return err
	}
	if shared {
		s.mCache.WithLabelValues("shared").Inc()
	} else {
		s.mCache.WithLabelValues("miss").Inc()
	}
	return s.send(w, r, v.(response))
}
