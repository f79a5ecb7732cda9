package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trucewatch/trucewatch/internal/ops"
)

// newRegistry is the metrics registry of a worker.
func newRegistry() *prometheus.Registry {
	reg, err := ops.NewRegistry()
	if err != nil {
		panic(err) // a new registry takes both collectors
	}
	return reg
}

// listenOps binds --ops-addr (port 0 picks a free one). An error names
// the flag.
func listenOps(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--ops-addr %s: %w", addr, err)
	}
	return ln, nil
}

// opsServer serves ops.Handler (/metrics, /healthz, /readyz) of a worker
// on its listener; ready returns nil when the worker can make progress.
type opsServer struct {
	ln  net.Listener
	hs  *http.Server
	log *slog.Logger
}

func newOps(ln net.Listener, reg *prometheus.Registry, ready func(context.Context) error, log *slog.Logger) *opsServer {
	return &opsServer{ln: ln, hs: &http.Server{Handler: ops.Handler(reg, ready), ReadHeaderTimeout: 5 * time.Second}, log: log}
}

func (o *opsServer) addr() string { return o.ln.Addr().String() }

// run serves until ctx ends and returns once the server stopped. A failed
// server is logged, not returned: the worker goes on without it.
func (o *opsServer) run(ctx context.Context) error {
	if err := serveHTTP(ctx, o.hs, o.ln, 2*time.Second); err != nil {
		o.log.Error("ops server", "err", err)
	}
	return nil
}

// serveHTTP serves hs on ln until ctx ends, then shuts it down, letting
// the requests under way finish within grace (closing what is left after
// it). It returns when the server has stopped: Serve's error, or
// Shutdown's, nil after a clean stop.
func serveHTTP(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
	}
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
