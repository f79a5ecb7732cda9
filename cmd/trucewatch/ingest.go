package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/violation"
)

// ingestFlags are the flags of the ingest worker, shared with demo.
type ingestFlags struct {
	kafka     kafkaFlags
	ch        clickhouseFlags
	group     string
	zones     string
	batchSize int
	batchWait time.Duration
	logLevel  string
	opsAddr   string
	session   time.Duration
	reload    time.Duration
	maxWrites int
	memLimit  int64
	// partner topics: prefix ("-" off) and how often to look for new ones
	partnerPrefix  string
	partnerRefresh time.Duration
	// opsLn, when set, is the listener of --ops-addr, bound ahead (demo)
	opsLn net.Listener
}

// ingestDefaults are the defaults of the flags whose default differs
// between ingest and demo (which runs its own broker and ClickHouse).
type ingestDefaults struct {
	brokers, clickhouse, ops string
	logLevel                 string // "" = info
}

func (f *ingestFlags) register(fs *flag.FlagSet, def ingestDefaults) {
	f.kafka.register(fs, def.brokers, true)
	f.ch.register(fs, def.clickhouse)
	fs.StringVar(&f.group, "group", ingest.DefaultGroup, "Kafka consumer group of the ingest workers")
	fs.StringVar(&f.partnerPrefix, "partner-topic-prefix", ingest.DefaultPartnerTopicPrefix, "consume every topic PREFIX+P as partner P's reports (\"-\": none)")
	fs.DurationVar(&f.partnerRefresh, "partner-topics-refresh", ingest.DefaultPartnerTopicsRefresh, "how often to look for new partner topics")
	fs.StringVar(&f.zones, "zones", "", "zone-set GeoJSON file(s), comma-separated (default: the shipped zone sets); SIGHUP reloads them")
	fs.DurationVar(&f.reload, "zones-reload", 0, "also check the --zones files for changes this often and reload them (0: only on SIGHUP)")
	fs.IntVar(&f.batchSize, "batch-size", ingest.DefaultBatchSize, fmt.Sprintf("most reports per ClickHouse insert (1..%d)", ingest.MaxBatchSize))
	fs.Int64Var(&f.memLimit, "memory-limit-mb", 256, "soft memory limit of the process in MiB (the Go GC works harder near it; 0: none)")
	fs.IntVar(&f.maxWrites, "max-writes", ingest.DefaultMaxConcurrentWrites, "batches' worth of messages decoded and written at once, across partitions (bounds memory with --batch-size; the batches ready together go in one INSERT)")
	fs.DurationVar(&f.batchWait, "batch-wait", ingest.DefaultBatchWait, "how long a partial batch waits for more reports")
	fs.StringVar(&f.logLevel, "log-level", cmp.Or(def.logLevel, "info"), "debug, info, warn or error")
	fs.DurationVar(&f.session, "session-timeout", ingest.DefaultSessionTimeout, "how long the group waits for a silent worker before reassigning its partitions")
	fs.StringVar(&f.opsAddr, "ops-addr", def.ops, "host:port serving /metrics, /healthz and /readyz (empty: off; :9101 for every interface)")
}

// worker is the ingest worker with what runs beside it: its ops endpoints
// and the reloads of its zones.
type worker struct {
	in     *ingest.Ingester
	ops    *opsServer // nil: --ops-addr off
	zones  *geo.Holder
	files  []string      // --zones: reloaded on SIGHUP
	reload time.Duration // and this often when > 0
	log    *slog.Logger
}

// worker builds the ingest worker with its zones and ops endpoints; run
// starts them.
func (f *ingestFlags) worker(store *storage.Store, o ingest.Options, log *slog.Logger) (*worker, error) {
	if f.memLimit > 0 {
		debug.SetMemoryLimit(f.memLimit << 20)
	}
	h, err := f.zoneHolder(log)
	if err != nil {
		return nil, err
	}
	reg := newRegistry()
	o.Registerer = reg
	in, err := ingest.New(o, h, violation.DefaultRules(), store)
	if err != nil {
		return nil, err
	}
	w := &worker{in: in, zones: h, files: splitList(f.zones), reload: f.reload, log: log}
	ln := f.opsLn
	if ln == nil && f.opsAddr != "" {
		if ln, err = listenOps(f.opsAddr); err != nil {
			return nil, err
		}
	}
	if ln != nil {
		w.ops = newOps(ln, reg, func(ctx context.Context) error {
			if err := store.Ping(ctx); err != nil {
				return fmt.Errorf("clickhouse: %w", err)
			}
			if !in.Ready() {
				return errors.New("not in the consumer group yet, or the last write failed")
			}
			return nil
		}, log)
		log.Info("ops endpoints", "metrics", "http://"+w.ops.addr()+"/metrics", "ready", "http://"+w.ops.addr()+"/readyz")
	}
	return w, nil
}

// run runs the worker, its ops server, its zone reloads and more under
// one errgroup until ctx ends or the worker stops (--exit-when-idle, an
// error), and returns once every one of them has ended.
func (w *worker) run(ctx context.Context, more ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer cancel() // the worker is done: so is the rest
		return w.in.Run(ctx)
	})
	if w.ops != nil {
		g.Go(func() error { return w.ops.run(ctx) })
	}
	if len(w.files) > 0 {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		g.Go(func() error {
			defer signal.Stop(hup)
			w.reloadOn(ctx, hup)
			return nil
		})
		if w.reload > 0 {
			// Watch logs failed loads and returns only when ctx ends.
			g.Go(func() error { _ = w.zones.Watch(ctx, w.reload, w.files...); return nil })
		}
	}
	for _, f := range more {
		g.Go(func() error { return f(ctx) })
	}
	return g.Wait()
}

// reloadOn reloads the --zones files on every signal until ctx ends. A
// file that fails to load leaves the zones in use unchanged.
func (w *worker) reloadOn(ctx context.Context, sig <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			changed, err := w.zones.Reload(w.files...)
			if err != nil {
				w.log.Error("zone reload failed; keeping the zones in use", "err", err)
			} else {
				w.log.Info("zones reloaded", "changed", changed, "version", w.zones.Load().Version())
			}
		}
	}
}

func (f *ingestFlags) logger(std stdio) (*slog.Logger, error) { return newLogger(f.logLevel, std.err) }

// zoneHolder loads --zones (or the shipped zone sets) into a holder that
// can swap them while the worker runs.
func (f *ingestFlags) zoneHolder(log *slog.Logger) (*geo.Holder, error) {
	return loadZones(splitList(f.zones), log)
}

func (f *ingestFlags) storeOptions(log *slog.Logger) storage.Options { return f.ch.options(log) }

func (f *ingestFlags) ingestOptions(log *slog.Logger) (ingest.Options, error) {
	dialer, transport, err := f.kafka.clients()
	return ingest.Options{
		Brokers: f.kafka.brokerList(), Topic: f.kafka.topic, DLQTopic: f.kafka.dlqTopic, Group: f.group,
		PartnerTopicPrefix: f.partnerPrefix, PartnerTopicsRefresh: f.partnerRefresh,
		Dialer: dialer, Transport: transport,
		BatchSize: f.batchSize, BatchWait: f.batchWait, SessionTimeout: f.session, MaxConcurrentWrites: f.maxWrites, Logger: log,
	}, err
}

func runIngest(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("ingest", "[flags]", "Consume reports from Kafka, validate and match them, and write them to ClickHouse.\nInvalid reports go to the dead-letter topic. SIGINT/SIGTERM flushes, commits and exits.", std)
	var f ingestFlags
	f.register(fs, ingestDefaults{brokers: defaultBrokers, clickhouse: "127.0.0.1:9000", ops: "127.0.0.1:9101"})
	idle := fs.Duration("exit-when-idle", 0, "stop after this long without new messages (0: run until signalled)")
	migrate := fs.Bool("migrate", true, "apply pending schema migrations at start")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := f.logger(std)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, f.storeOptions(log), *migrate)
	if err != nil {
		return err
	}
	defer store.Close()
	o, err := f.ingestOptions(log)
	if err != nil {
		return err
	}
	o.ExitWhenIdle = *idle
	w, err := f.worker(store, o, log)
	if err != nil {
		return err
	}
	err = w.run(ctx)
	s := w.in.Stats()
	fmt.Fprintf(std.err, "ingest: consumed %d, written %d, duplicates %d, dead-lettered %d, forwarded %d, batches %d\n",
		s.Consumed, s.Written, s.Duplicates, s.DeadLettered, s.Forwarded, s.Batches)
	return err
}

// matcher returns the zone matcher for --zones (or the shipped zone sets).
func (f *ingestFlags) matcher() (*geo.Matcher, error) {
	h, err := f.zoneHolder(nil)
	if err != nil {
		return nil, err
	}
	return h.Load(), nil
}
