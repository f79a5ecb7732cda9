package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/violation"
)

// profileIngest runs the ingest libraries in this process, wired as
// `trucewatch ingest` wires them, under the CPU profiler, and keeps a heap
// profile taken when the live heap was largest. It is for finding where
// the ingest side's time and memory go, not for the figures (the benchmark
// runs the real binary for those).
func profileIngest(ctx context.Context, brokers, chAddr, database string, batch int, cpuPath, heapPath string, say func(string, ...any)) error {
	admin, err := geo.LoadAdmin()
	if err != nil {
		return err
	}
	sets, err := geo.ShippedZoneSets(admin)
	if err != nil {
		return err
	}
	m, err := geo.NewMatcher(admin, sets...)
	if err != nil {
		return err
	}
	store, err := storage.Open(ctx, storage.Options{Addr: chAddr, Database: database})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	in, err := ingest.New(ingest.Options{
		Brokers: []string{brokers}, Topic: topic, Group: "profile-" + database,
		BatchSize: batch, ExitWhenIdle: 3 * time.Second,
	}, m, violation.DefaultRules(), store)
	if err != nil {
		return err
	}
	f, err := os.Create(cpuPath)
	if err != nil {
		return err
	}
	defer f.Close()

	// Heap profile at the largest live heap seen (sampled every 500 ms).
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak {
				peak = ms.HeapInuse
				if h, err := os.Create(heapPath); err == nil {
					_ = pprof.WriteHeapProfile(h)
					h.Close()
				}
			}
		}
	}()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	start := time.Now()
	err = in.Run(ctx)
	pprof.StopCPUProfile()
	close(done)
	wg.Wait()
	s := in.Stats()
	say("  in-process ingest: %d written in %s; heap in use at most %d MB; profiles %s, %s",
		s.Written, time.Since(start).Round(time.Millisecond), peak>>20, cpuPath, heapPath)
	if err != nil {
		return fmt.Errorf("in-process ingest: %w", err)
	}
	return nil
}
