package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/broker"
	"github.com/trucewatch/trucewatch/publish"
	"github.com/trucewatch/trucewatch/storage/chserver"
	"github.com/trucewatch/trucewatch/synth"
)

func runDemo(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("demo", "[flags]",
		"Run trucewatch end to end on this machine: the embedded Kafka-protocol broker, a local\nClickHouse (spawned from clickhouse-server, data under --data-dir), schema migrations,\nthe shipped zones and admin boundaries, a synthetic field-partner feed and the ingest\nworker. Prints throughput, counts and lag until Ctrl-C. Re-running keeps the data.", std)
	var f ingestFlags
	f.register(fs)
	// The demo runs its own broker and ClickHouse unless pointed elsewhere.
	fs.Lookup("brokers").DefValue, f.kafka.brokers = "", ""
	fs.Lookup("clickhouse").DefValue, f.ch.addr = "", ""
	dataDir := fs.String("data-dir", "var", "where the embedded broker and ClickHouse keep their data")
	rate := fs.Float64("rate", 2000, "synthetic reports per second")
	malformed := fs.Float64("malformed", 0.01, "fraction of synthetic messages that are malformed on purpose")
	every := fs.Duration("every", 2*time.Second, "how often to print progress")
	mapAddr := fs.String("map-addr", "127.0.0.1:0", "where the map (trucewatch serve) listens; default a free port, printed; empty: no map")
	// A free port unless told otherwise: the demo must not fail because
	// some other process holds a fixed one.
	fs.Lookup("ops-addr").DefValue, f.opsAddr = "127.0.0.1:0", "127.0.0.1:0"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := f.logger(std)
	if err != nil {
		return err
	}
	out := std.out
	// Bound before anything starts, so that a taken --ops-addr fails at
	// once; the worker serves on this listener.
	if f.opsAddr != "" {
		if f.opsAddr, err = openOps(f.opsAddr); err != nil {
			return err
		}
		defer closeOps(f.opsAddr)
		fmt.Fprintf(out, "metrics on http://%s/metrics (readiness /readyz)\n", f.opsAddr)
	}

	if f.ch.addr == "" {
		dir, _ := filepath.Abs(filepath.Join(*dataDir, "clickhouse"))
		fmt.Fprintf(out, "starting ClickHouse (data in %s) ...\n", dir)
		srv, err := chserver.Launch(ctx, dir, log)
		if err != nil {
			return err
		}
		defer srv.Stop()
		f.ch.addr = srv.Addr()
		fmt.Fprintf(out, "ClickHouse %s listening on %s\n", srv.Version(), srv.Addr())
	}
	if f.kafka.brokers == "" {
		dir := filepath.Join(*dataDir, "kafka")
		b, err := broker.Start(broker.Options{DataDir: dir, Topics: []string{f.kafka.topic, f.kafka.dlqTopic}})
		if err != nil {
			return err
		}
		defer b.Close()
		f.kafka.brokers = strings.Join(b.Addrs(), ",")
		fmt.Fprintf(out, "embedded Kafka broker on %s (data in %s)\n", f.kafka.brokers, dir)
	}

	store, err := openStore(ctx, f.storeOptions(log), true)
	if err != nil {
		return err
	}
	defer store.Close()
	o, err := f.ingestOptions(log)
	if err != nil {
		return err
	}
	in, err := f.worker(ctx, store, o, log)
	if err != nil {
		return err
	}
	if *mapAddr != "" {
		zs, err := loadZones(splitList(f.zones), log)
		if err != nil {
			return err
		}
		url, stop, err := startMap(ctx, *mapAddr, store, zs.Load().Admin(), zs.Load().ZoneSets(), log)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(out, "map on %s (open it in a browser)\n", url)
	}
	before, _ := store.CountReports(ctx)
	fmt.Fprintf(out, "schema ready; %d reports already stored; feeding %.0f synthetic reports/s (%.1f%% malformed). Ctrl-C stops.\n\n",
		before, *rate, *malformed*100)

	pub := publish.New(publish.Options{Brokers: f.kafka.brokerList(), Topic: f.kafka.topic, Transport: o.Transport})
	defer pub.Close()
	// A new seed per run, so a re-run adds reports rather than repeating ids.
	seed := uint64(time.Now().Unix())
	feed := synth.New(synth.Options{Seed: seed, Malformed: *malformed, IDPrefix: "demo"})
	var produced atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		_, err := publish.Stream(gctx, pub, func() (publish.Message, bool, error) {
			msg := feed.Next()
			produced.Add(1)
			return publish.Message{Key: msg.Key, Value: msg.Value}, true, nil
		}, *rate)
		return err
	})
	g.Go(func() error { return in.Run(gctx) })
	g.Go(func() error {
		t := time.NewTicker(*every)
		defer t.Stop()
		last, lastAt := in.Stats(), time.Now()
		fmt.Fprintf(out, "%-8s %10s %10s %10s %9s %8s %8s %10s %12s\n", "time", "produced", "consumed", "written", "dup", "dlq", "lag", "rows/s", "in ClickHouse")
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-t.C:
				s := in.Stats()
				total, err := store.CountReports(gctx)
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					log.Warn("count reports", "err", err)
				}
				rate := float64(s.Written-last.Written) / now.Sub(lastAt).Seconds()
				fmt.Fprintf(out, "%-8s %10d %10d %10d %9d %8d %8d %10.0f %12d\n", now.Format("15:04:05"),
					produced.Load(), s.Consumed, s.Written, s.Duplicates, s.DeadLettered, s.Lag, rate, total)
				last, lastAt = s, now
			}
		}
	})
	err = g.Wait()
	fmt.Fprintln(out, "\nstopped cleanly; the data stays in", *dataDir)
	return err
}
