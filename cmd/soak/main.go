// Command soak runs the demo's continuous feed (make soak): `trucewatch
// demo`, the real binary, with its private ClickHouse (storage/chserver)
// and embedded broker in a fresh directory, at the demo's default rate,
// for --duration. Every --every it prints, from ClickHouse, the worker's
// metrics and the data directory: the parts of each table (active, all in
// system.parts, and part directories on disk), the files and bytes under
// the data directory, the merges under way, the insert latency and the
// consumer lag; and it checks issue 13's targets at every sample:
//
//   - at most 3,000 parts of the database on disk;
//   - the data directory under 1,000 bytes per stored report;
//   - at most 100 active parts in any partition;
//   - lag bounded: no growth from the first half of the run to the second.
//
// It exits non-zero when a target is missed. docs/soak.md records a run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/trucewatch/trucewatch/internal/buildbin"
)

type config struct {
	duration, every time.Duration
	rate            float64
	dir             string
	keep            bool
	demoArgs        []string
}

// Targets of issue 13.
const (
	maxDiskParts      = 3000
	maxBytesPerReport = 1000
	maxPartitionParts = 100
)

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long to feed")
	flag.DurationVar(&c.every, "every", 30*time.Second, "how often to sample")
	flag.Float64Var(&c.rate, "rate", 2000, "synthetic reports per second (the demo's default)")
	flag.StringVar(&c.dir, "dir", "", "work directory (default: a new temporary directory)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (ClickHouse data and logs)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./cmd/soak [flags] [-- demo flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	c.demoArgs = flag.Args()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	dir := c.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "trucewatch-soak-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("work directory (kept):", dir)
	}
	bin := filepath.Join(dir, "trucewatch")
	if err := buildbin.Trucewatch(ctx, bin); err != nil {
		return err
	}
	d, err := startDemo(ctx, bin, dir, c)
	if err != nil {
		return err
	}
	defer d.stop()
	fmt.Printf("soak: trucewatch demo at %.0f reports/s for %s, sampled every %s; ClickHouse %s, data in %s\n\n",
		c.rate, c.duration, c.every, d.chAddr, d.chDir)
	s, err := newSampler(ctx, d)
	if err != nil {
		return err
	}
	defer s.close()
	s.header()
	end := time.Now().Add(c.duration)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-d.exited:
			return fmt.Errorf("demo exited early: %v (log in %s)", err, d.logPath)
		case <-t.C:
			if err := s.sample(ctx); err != nil {
				return err
			}
			done = !time.Now().Add(c.every / 2).Before(end)
		}
	}
	if err := d.stop(); err != nil {
		return fmt.Errorf("demo: %w (log in %s)", err, d.logPath)
	}
	if !s.report() {
		return errors.New("a target was missed")
	}
	return nil
}
