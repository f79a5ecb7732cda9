package serve_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// laneStore is the fixture's store, recording the calls marked bulk and
// how many of them ran at once.
type laneStore struct {
	*storage.Store
	mu                          sync.Mutex
	running, most, bulk, others int
}

func (l *laneStore) enter(ctx context.Context) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !read.IsBulk(ctx) {
		l.others++
		return func() {}
	}
	l.bulk++
	l.running++
	l.most = max(l.most, l.running)
	return func() {
		// Held a little, so that calls not kept apart would overlap.
		time.Sleep(5 * time.Millisecond)
		l.mu.Lock()
		l.running--
		l.mu.Unlock()
	}
}

func (l *laneStore) TileCells(ctx context.Context, q read.CellQuery) ([]read.Cell, error) {
	defer l.enter(ctx)()
	return l.Store.TileCells(ctx, q)
}

func (l *laneStore) AreaTotals(ctx context.Context, level int, f read.Filter) (map[string]read.Totals, error) {
	defer l.enter(ctx)()
	return l.Store.AreaTotals(ctx, level, f)
}

func (l *laneStore) Reports(ctx context.Context, q read.ReportQuery) ([]read.Report, error) {
	defer l.enter(ctx)()
	return l.Store.Reports(ctx, q)
}

// Week pyramids and area totals run in their lane, BulkQueries at once
// and marked bulk for the store; tiles of a metatile and the drill-down
// do not wait for it.
func TestBulkLane(t *testing.T) {
	f := newFixture(t)
	admin, sets, _ := matcher(t)
	ls := &laneStore{Store: f.store}
	srv, err := serve.New(serve.Options{Store: ls, Admin: admin, ZoneSets: sets, BulkQueries: 1,
		Now: func() time.Time { return to }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	var paths []string
	for i, w := range []string{win, "from=2017-01-04&to=2017-02-23", "from=2017-01-16&to=2017-02-27"} {
		paths = append(paths, tilePath(ghoutaLon, ghoutaLat, uint32(6+i), "mvt")+"?"+w,
			"/v1/admin/adm3.geojson?zoom=6&"+w,
			tilePath(ghoutaLon, ghoutaLat, 14, "mvt")+"?"+w,
			fmt.Sprintf("/v1/reports?bbox=%f,%f,%f,%f&%s", ghoutaLon-0.1, ghoutaLat-0.1, ghoutaLon+0.1, ghoutaLat+0.1, w))
	}
	var wg sync.WaitGroup
	for _, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, body := get(t, hs.URL+p); r.StatusCode != 200 {
				t.Errorf("%s: %d %s", p, r.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.bulk < 10 || ls.others < 6 {
		t.Fatalf("%d bulk calls and %d others: the week pieces or the interactive queries were not asked", ls.bulk, ls.others)
	}
	if ls.most != 1 {
		t.Errorf("%d bulk calls ran at once, want at most BulkQueries = 1", ls.most)
	}
}
