// Package ops owns the operational endpoints of trucewatch's processes:
// the metrics registry and /metrics, and the liveness and readiness
// probes /healthz and /readyz. The ingest worker serves Handler on
// --ops-addr; serve mounts Metrics and checks readiness with Ready on its
// own mux, where the probes answer in JSON like the rest of its API.
package ops

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyTimeout bounds a readiness check.
const ReadyTimeout = 2 * time.Second

// NewRegistry is a registry holding the Go runtime and process collectors.
func NewRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ops: register metrics: %w", err)
		}
	}
	return reg, nil
}

// Metrics serves the metrics of g in the Prometheus text format.
func Metrics(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Ready runs check, the readiness of a process, within ReadyTimeout.
func Ready(ctx context.Context, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	return check(ctx)
}

// Handler serves GET /metrics from reg (counting its own errors there),
// GET /healthz ("ok" while the process runs) and GET /readyz ("ready"
// when ready returns nil, else 503 with the reason).
func Handler(reg *prometheus.Registry, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := Ready(r.Context(), ready); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
