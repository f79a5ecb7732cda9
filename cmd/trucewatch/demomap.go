package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
)

// demoMapMaxAge is how long the demo's map may show a tile or choropleth
// before asking again: short, so that the feed shows within seconds.
const demoMapMaxAge = 2 * time.Second

// mapServer is the demo's map page and read API over its store.
type mapServer struct {
	ln  net.Listener
	hs  *http.Server
	log *slog.Logger
}

// newMap binds addr (a free port for "127.0.0.1:0") for the map page and
// the read API over store; run serves them.
func newMap(addr string, store *storage.Store, admin *geo.Admin, sets []*geo.ZoneSet, log *slog.Logger) (*mapServer, error) {
	s, err := serve.New(serve.Options{Store: store, Incidents: store, Admin: admin, ZoneSets: sets, TileMaxAge: demoMapMaxAge, Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--map-addr: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	return &mapServer{ln: ln, hs: hs, log: log}, nil
}

// url is the address of the map page.
func (m *mapServer) url() string { return "http://" + m.ln.Addr().String() + "/" }

// run serves until ctx ends, letting requests under way finish within 5 s,
// and returns once the server stopped. A failed server is logged: the
// pipeline goes on without its map.
func (m *mapServer) run(ctx context.Context) error {
	m.hs.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	if err := serveHTTP(ctx, m.hs, m.ln, 5*time.Second); err != nil {
		m.log.Error("map server", "err", err)
	}
	return nil
}
