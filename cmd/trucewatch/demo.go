package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trucewatch/trucewatch/incident"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chserver"
)

// demoFlags are the worker's flags, with a demo's defaults, and the demo's
// own.
type demoFlags struct {
	ingest    ingestFlags
	dataDir   string
	rate      float64
	malformed float64
	// repeated deliveries and corrections, as fractions of the feed
	repeats, corrections float64
	every                time.Duration
	mapAddr              string
	duplicates           float64 // another partner's report of a recent event, as a fraction of the feed
	incidents            incidentFlags
}

func (f *demoFlags) register(fs *flag.FlagSet) {
	// The demo runs its own broker and ClickHouse unless pointed elsewhere,
	// and its ops endpoints on a free port unless told otherwise: it must
	// not fail because some other process holds a fixed one. Its log is
	// warnings only, so that the progress table stays readable.
	f.ingest.register(fs, ingestDefaults{brokers: "", clickhouse: "", ops: "127.0.0.1:0", logLevel: "warn"})
	fs.StringVar(&f.dataDir, "data-dir", "var", "where the embedded broker and ClickHouse keep their data")
	fs.Float64Var(&f.rate, "rate", 2000, "synthetic reports per second")
	fs.Float64Var(&f.malformed, "malformed", 0.01, "fraction of synthetic messages that are malformed on purpose")
	fs.Float64Var(&f.repeats, "repeats", 0.02, "fraction of synthetic messages that deliver a recent report again (counted once)")
	fs.Float64Var(&f.corrections, "corrections", 0.01, "fraction of synthetic messages that correct a recent report (a higher revision)")
	fs.Float64Var(&f.duplicates, "duplicates", 0.3, "fraction of synthetic messages that report a recent event again from another partner (one incident)")
	f.incidents.register(fs, demoPartnerGroups)
	fs.DurationVar(&f.every, "every", 2*time.Second, "how often to print progress")
	fs.StringVar(&f.mapAddr, "map-addr", "127.0.0.1:0", "where the map (trucewatch serve) listens; default a free port, printed; empty: no map")
}

func runDemo(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("demo", "[flags]",
		"Run trucewatch end to end on this machine: the embedded Kafka-protocol broker, a local\nClickHouse (spawned from clickhouse-server, data under --data-dir), schema migrations,\nthe shipped zones and admin boundaries, a synthetic field-partner feed and the ingest\nworker. Prints throughput, counts and lag until Ctrl-C. Re-running keeps the data.", std)
	var f demoFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := f.ingest.logger(std)
	if err != nil {
		return err
	}
	out := std.out
	// Bound before anything starts, so that a taken --ops-addr fails at
	// once; the worker serves on this listener.
	if f.ingest.opsAddr != "" {
		ln, err := listenOps(f.ingest.opsAddr)
		if err != nil {
			return err
		}
		defer ln.Close()
		f.ingest.opsLn = ln
		fmt.Fprintf(out, "metrics on http://%s/metrics (readiness /readyz)\n", ln.Addr())
	}
	stop, err := f.startLocal(ctx, out, log)
	defer stop()
	if err != nil {
		return err
	}
	return f.run(ctx, out, log)
}

// startLocal starts ClickHouse when --clickhouse is empty and the broker
// when --brokers is, and points those flags at them. stop stops what it
// started; call it even after an error.
func (f *demoFlags) startLocal(ctx context.Context, out io.Writer, log *slog.Logger) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if f.ingest.ch.addr == "" {
		dir, _ := filepath.Abs(filepath.Join(f.dataDir, "clickhouse"))
		fmt.Fprintf(out, "starting ClickHouse (data in %s) ...\n", dir)
		srv, err := chserver.Launch(ctx, dir, log)
		if err != nil {
			return stop, err
		}
		stops = append(stops, func() { srv.Stop() })
		f.ingest.ch.addr = srv.Addr()
		fmt.Fprintf(out, "ClickHouse %s listening on %s\n", srv.Version(), srv.Addr())
	}
	if k := &f.ingest.kafka; k.brokers == "" {
		dir := filepath.Join(f.dataDir, "kafka")
		b, err := broker.Start(broker.Options{DataDir: dir, Topics: []string{k.topic, k.dlqTopic}})
		if err != nil {
			return stop, err
		}
		stops = append(stops, func() { b.Close() })
		k.brokers = strings.Join(b.Addrs(), ",")
		fmt.Fprintf(out, "embedded Kafka broker on %s (data in %s)\n", k.brokers, dir)
	}
	return stop, nil
}

// run migrates the schema and runs the worker, the map, the synthetic feed
// and the progress lines under one errgroup until ctx ends.
func (f *demoFlags) run(ctx context.Context, out io.Writer, log *slog.Logger) error {
	store, err := openStore(ctx, f.ingest.storeOptions(log), true)
	if err != nil {
		return err
	}
	defer store.Close()
	o, err := f.ingest.ingestOptions(log)
	if err != nil {
		return err
	}
	w, err := f.ingest.worker(store, o, log)
	if err != nil {
		return err
	}
	d := &demo{out: out, log: log, store: store, in: w.in, every: f.every}
	more := []func(context.Context) error{d.progress}
	if f.mapAddr != "" {
		zs, err := loadZones(splitList(f.ingest.zones), log)
		if err != nil {
			return err
		}
		m, err := newMap(f.mapAddr, store, zs.Load().Admin(), zs.Load().ZoneSets(), log)
		if err != nil {
			return err
		}
		more = append(more, m.run)
		fmt.Fprintf(out, "map on %s (open it in a browser)\n", m.url())
	}
	ro, err := f.incidents.options(store, log)
	if err != nil {
		return err
	}
	resolver, err := incident.New(ro)
	if err != nil {
		return err
	}
	more = append(more, resolver.Run)
	before, _ := store.CountReports(ctx)
	fmt.Fprintf(out, "schema ready; %d reports already stored; feeding %.0f synthetic reports/s (%.1f%% malformed, %.1f%% repeated, %.1f%% corrections). Ctrl-C stops.\n\n",
		before, f.rate, f.malformed*100, f.repeats*100, f.corrections*100)
	d.before = before

	pub := publish.New(publish.Options{Brokers: f.ingest.kafka.brokerList(), Topic: f.ingest.kafka.topic, Transport: o.Transport})
	defer pub.Close()
	// A new seed per run, so a re-run adds reports rather than repeating ids.
	feed := synth.New(synth.Options{Seed: uint64(time.Now().Unix()), Malformed: f.malformed, IDPrefix: "demo",
		Repeats: f.repeats, Corrections: f.corrections, Duplicates: f.duplicates})
	more = append(more, func(ctx context.Context) error {
		_, err := publish.Stream(ctx, pub, func() (publish.Message, bool, error) {
			msg := feed.Next()
			d.produced.Add(1)
			return publish.Message{Key: msg.Key, Value: msg.Value}, true, nil
		}, f.rate)
		return err
	})
	err = w.run(ctx, more...)
	fmt.Fprintln(out, "\nstopped cleanly; the data stays in", f.dataDir)
	return err
}

// demo is what the progress lines report on.
type demo struct {
	out      io.Writer
	log      *slog.Logger
	store    *storage.Store
	in       *ingest.Ingester
	every    time.Duration
	produced atomic.Int64
	before   int64 // reports stored before this run
}

// progress prints a line of counts and rates every d.every until ctx ends.
func (d *demo) progress(ctx context.Context) error {
	t := time.NewTicker(d.every)
	defer t.Stop()
	last, lastAt := d.in.Stats(), time.Now()
	fmt.Fprintf(d.out, "%-8s %10s %10s %10s %9s %8s %8s %10s %12s\n", "time", "produced", "consumed", "written", "dup", "dlq", "lag", "rows/s", "in ClickHouse")
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			// Counted before the worker's totals are read, so that the
			// store never shows more than was written.
			total, err := d.store.CountReports(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d.log.Warn("count reports", "err", err)
			}
			s := d.in.Stats()
			rate := float64(s.Written-last.Written) / now.Sub(lastAt).Seconds()
			fmt.Fprintf(d.out, "%-8s %10d %10d %10d %9d %8d %8d %10.0f %12d\n", now.Format("15:04:05"),
				d.produced.Load(), s.Consumed, s.Written, s.Duplicates, s.DeadLettered, s.Lag, rate, total-min(total, d.before))
			last, lastAt = s, now
		}
	}
}
