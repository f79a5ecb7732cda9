// Command ingest benchmarks end-to-end ingestion (make bench-ingest): it
// loads synthetic reports into the in-process broker, then measures
//
//  1. `trucewatch ingest`, the real binary as a separate process, from its
//     start until the store holds every report (ledger spans done, so the
//     rows and the three aggregates are written), with its peak RSS; once
//     per --batch-sizes value, each run with a fresh database and group;
//  2. ClickHouse's own Kafka table engine on the same server and the same
//     topic (its own consumer group), a materialized view parsing the JSON
//     and matching the same zones with pointInPolygon into a MergeTree.
//
// It prints a result table (Markdown) with both rates and their ratio.
// docs/bench-ingest.md explains the method and records a run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trucewatch/trucewatch/internal/buildbin"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/storage/chserver"
)

type config struct {
	reports      int
	quick        bool
	batchSizes   []int
	engine       bool
	ceiling      bool
	engineCap    time.Duration
	consumers    int
	simplify     float64
	ingestCap    time.Duration
	keep         bool
	dir          string
	chBinary     string
	verbose      bool
	engineBlock  int
	engineFlush  time.Duration
	maxPolyPts   int
	skipTrucewat bool
	ingestLog    string
	days         int
	keepDBs      bool
	profile      string
}

func main() {
	var c config
	var sizes string
	flag.IntVar(&c.reports, "reports", 1_000_000, "reports to load into the broker")
	flag.BoolVar(&c.quick, "quick", false, "smoke run: 100,000 reports, one batch size, 3-minute engine cap")
	flag.StringVar(&sizes, "batch-sizes", "5000,20000,50000", "trucewatch ingest --batch-size values to try, comma-separated")
	flag.BoolVar(&c.engine, "engine", true, "also measure ClickHouse's Kafka table engine")
	flag.BoolVar(&c.ceiling, "ceiling", true, "also measure the ceiling: ClickHouse alone taking the same rows by native INSERTs into one plain table")
	flag.BoolVar(&c.skipTrucewat, "skip-trucewatch", false, "measure only the Kafka engine")
	flag.DurationVar(&c.engineCap, "engine-cap", 10*time.Minute, "stop the Kafka engine run after this long and report the rate so far")
	flag.DurationVar(&c.ingestCap, "ingest-cap", 15*time.Minute, "give up on one trucewatch run after this long")
	flag.IntVar(&c.consumers, "engine-consumers", 2, "kafka_num_consumers of the Kafka engine table (one per core)")
	flag.IntVar(&c.engineBlock, "engine-block", 65536, "kafka_max_block_size of the Kafka engine table")
	flag.DurationVar(&c.engineFlush, "engine-flush", 7500*time.Millisecond, "stream_flush_interval_ms for the Kafka engine (server default 7.5s)")
	flag.Float64Var(&c.simplify, "simplify", 0.001, "Douglas-Peucker threshold in degrees for the engine's zone polygons (0: full resolution)")
	flag.IntVar(&c.maxPolyPts, "max-polygon-points", 0, "if > 0, fail when the simplified engine polygons exceed this many points")
	flag.StringVar(&c.profile, "profile", "", "instead of the benchmark: run the ingest libraries in this process with the first --batch-sizes value, and write CPU and heap profiles to PREFIX.cpu, PREFIX.heap")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (ClickHouse data and logs)")
	flag.BoolVar(&c.keepDBs, "keep-databases", false, "with --keep: do not drop each run's database (bench_0, bench_1, ...) after it")
	flag.StringVar(&c.dir, "dir", "", "work directory (default: a new temporary directory)")
	flag.StringVar(&c.chBinary, "clickhouse-server", "", "clickhouse-server binary (default: found on PATH, /usr/sbin)")
	flag.BoolVar(&c.verbose, "v", false, "log progress details")
	flag.IntVar(&c.days, "days", 0, "spread observed_at over this many days from 2016-12-30 (0: synth's default, a year, so every INSERT touches 13 monthly partitions)")
	flag.StringVar(&c.ingestLog, "ingest-log-level", "info", "--log-level of trucewatch ingest (debug logs per-batch storage timings); logs go to the work directory")
	flag.Parse()
	var err error
	if c.batchSizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ingest: --batch-sizes:", err)
		os.Exit(2)
	}
	if c.quick {
		if !flagSet("reports") {
			c.reports = 100_000
		}
		if !flagSet("batch-sizes") {
			c.batchSizes = []int{20000}
		}
		if !flagSet("engine-cap") {
			c.engineCap = 3 * time.Minute
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ingest:", err)
		os.Exit(1)
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes")
	}
	return out, nil
}

func run(ctx context.Context, c config) error {
	lv := slog.LevelWarn
	if c.verbose {
		lv = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	say := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}

	dir := c.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-ingest-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !c.keep && c.dir == "" {
		defer os.RemoveAll(dir)
	} else {
		say("work directory %s", dir)
	}
	res := results{Reports: c.reports, Days: c.days, Start: time.Now(), CPUs: runtime.NumCPU()}
	res.LoadBefore = loadAvg()
	res.Commit = commit()

	// The binary under test, built as `make build` does.
	bin := filepath.Join(dir, "trucewatch")
	if !c.skipTrucewat && c.profile == "" {
		say("building trucewatch")
		if err := buildbin.Trucewatch(ctx, bin); err != nil {
			return err
		}
	}
	env, err := startEnv(ctx, c, dir, log, say)
	if err != nil {
		return err
	}
	defer env.close()
	res.CHVersion = env.ch.Version()

	say("producing %d reports to %s (%d partitions)", c.reports, env.brokers, partitions)
	t0 := time.Now()
	if err := produce(ctx, env.brokers, c.reports, c.days); err != nil {
		return err
	}
	res.ProduceTime = time.Since(t0)
	say("produced in %s (%.0f/s)", res.ProduceTime.Round(time.Millisecond), float64(c.reports)/res.ProduceTime.Seconds())

	if c.profile != "" {
		return profileIngest(ctx, env.brokers, env.ch.Addr(), "profile", c.batchSizes[0], c.profile+".cpu", c.profile+".heap", say)
	}
	if !c.skipTrucewat {
		if err := measureTrucewatch(ctx, c, env, bin, dir, &res); err != nil {
			return err
		}
	}
	if err := measureClickHouse(ctx, c, env, &res); err != nil {
		return err
	}
	res.LoadAfter = loadAvg()
	res.print(os.Stdout, c)
	return nil
}

// env is what every measurement runs against: the in-process broker and
// one clickhouse-server.
type env struct {
	b       *broker.Broker
	brokers string // the broker's address
	ch      *chserver.Server
	chDir   string
	conn    driver.Conn
	say     func(string, ...any)
}

// startEnv starts the broker and clickhouse-server (in dir/clickhouse)
// and connects to the server.
func startEnv(ctx context.Context, c config, dir string, log *slog.Logger, say func(string, ...any)) (*env, error) {
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", Topics: []string{topic}, Partitions: partitions})
	if err != nil {
		return nil, err
	}
	e := &env{b: b, brokers: b.Addrs()[0], chDir: filepath.Join(dir, "clickhouse"), say: say}
	if err := writeServerConfig(e.chDir, c.engineFlush); err != nil {
		e.close()
		return nil, err
	}
	say("starting clickhouse-server")
	if e.ch, err = chserver.Start(ctx, chserver.Options{Dir: e.chDir, Binary: c.chBinary, Logger: log}); err != nil {
		e.close()
		return nil, err
	}
	if e.conn, err = dial(ctx, e.ch.Addr()); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// close closes what startEnv opened, the last first.
func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
	if e.ch != nil {
		e.ch.Close()
	}
	e.b.Close()
}

// measureTrucewatch runs `trucewatch ingest` once per batch size.
func measureTrucewatch(ctx context.Context, c config, e *env, bin, dir string, res *results) error {
	for i, bs := range c.batchSizes {
		e.say("trucewatch ingest --batch-size %d", bs)
		r, err := runTrucewatch(ctx, runOptions{
			bin: bin, brokers: e.brokers, ch: e.ch.Addr(), chDir: e.ch.Dir(), conn: e.conn, reports: c.reports,
			batchSize: bs, database: fmt.Sprintf("bench_%d", i), group: fmt.Sprintf("bench-%d-%d", bs, i),
			cap: c.ingestCap, logPath: filepath.Join(dir, fmt.Sprintf("ingest-%d.log", bs)), logLevel: c.ingestLog, keepDB: c.keepDBs, say: e.say,
		})
		if err != nil {
			return fmt.Errorf("trucewatch run (batch size %d): %w", bs, err)
		}
		e.say("  %d reports in %s: %.0f reports/s, peak RSS %.0f MB, load %s",
			r.Stored, r.Elapsed.Round(time.Millisecond), r.Rate(), r.PeakRSSMB(), r.Load)
		res.Trucewatch = append(res.Trucewatch, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// measureClickHouse runs the Kafka engine and the ceiling, as c asks.
func measureClickHouse(ctx context.Context, c config, e *env, res *results) error {
	if c.engine {
		e.say("ClickHouse Kafka engine (%d consumers, cap %s)", c.consumers, c.engineCap)
		er, err := runEngine(ctx, engineOptions{
			conn: e.conn, chDir: e.chDir, brokers: e.brokers, reports: c.reports, consumers: c.consumers,
			blockSize: c.engineBlock, flush: c.engineFlush, simplify: c.simplify, maxPoints: c.maxPolyPts,
			cap: c.engineCap, say: e.say,
		})
		if err != nil {
			return fmt.Errorf("kafka engine run: %w", err)
		}
		res.Engine = &er
	}
	if c.ceiling {
		e.say("ceiling: ClickHouse alone, native INSERTs of %d rows of %d", c.reports, ceilingBatch)
		cr, err := runCeiling(ctx, e.conn, e.chDir, c.reports, c.days)
		if err != nil {
			return err
		}
		res.Ceiling = &cr
	}
	return nil
}
