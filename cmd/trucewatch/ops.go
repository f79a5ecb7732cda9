package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opsServer serves /metrics, /healthz and /readyz for a worker. ready
// returns nil when the worker can make progress.
type opsServer struct {
	Registry *prometheus.Registry
	addr     string
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startOps listens on addr (empty: no server) and serves until ctx ends.
// It returns the address it listens on.
func startOps(ctx context.Context, addr string, reg *prometheus.Registry, ready func(context.Context) error, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	ln, err := listenOps(addr)
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(rctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), nil
}

// opened holds listeners opened ahead of startOps by address (the demo
// binds its ops port before it starts anything, so that the port it
// prints is the one served and a taken one fails at once).
var opened sync.Map // string -> net.Listener

// openOps binds addr for a later startOps and returns the address bound
// (with the port chosen when addr asks for port 0).
func openOps(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--ops-addr %s: %w", addr, err)
	}
	bound := ln.Addr().String()
	opened.Store(bound, ln)
	return bound, nil
}

// listenOps is the listener of addr: the one openOps opened, or a new one.
// An error names the flag.
func listenOps(addr string) (net.Listener, error) {
	if ln, ok := opened.LoadAndDelete(addr); ok {
		return ln.(net.Listener), nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--ops-addr %s: %w", addr, err)
	}
	return ln, nil
}

// closeOps closes what openOps opened for addr if startOps never took it.
func closeOps(addr string) {
	if ln, ok := opened.LoadAndDelete(addr); ok {
		ln.(net.Listener).Close()
	}
}
