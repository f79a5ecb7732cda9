package main

import (
	"context"
	"errors"
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

// startMap serves the map page and the read API over store on addr (a
// free port for "127.0.0.1:0") until ctx ends or stop is called, and
// returns the page's URL.
func startMap(ctx context.Context, addr string, store *storage.Store, admin *geo.Admin, sets []*geo.ZoneSet, log *slog.Logger) (url string, stop func(), err error) {
	s, err := serve.New(serve.Options{Store: store, Admin: admin, ZoneSets: sets, TileMaxAge: demoMapMaxAge, Logger: log})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--map-addr: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("map server", "err", err)
		}
	}()
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		<-done
	}
	return "http://" + ln.Addr().String() + "/", stop, nil
}
