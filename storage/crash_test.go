package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

// The server is SIGKILLed at random moments while batches are written; a
// writer that resumes from Resume (redoing the pending span) ends with
// exact totals in every table.
func TestCrashLoop(t *testing.T) {
	srv := chtest.New(t)
	s := openStore(t, srv)
	rng := rand.New(rand.NewPCG(1, 2))

	// The "Kafka log": batches of 40 rows with new reports, revisions (up
	// or down), duplicates, spread over two months and many zones.
	const nBatches, per = 24, 40
	type rec struct {
		rev    uint32
		killed uint32
	}
	latest := map[string]rec{}
	var log []storage.Row
	for i := 0; i < nBatches*per; i++ {
		id := fmt.Sprintf("r%d", rng.IntN(500))
		rev := uint32(1 + rng.IntN(4))
		r := row(id, rev, uint32(rng.IntN(5)))
		r.ObservedAt = t0.Add(time.Duration(rng.IntN(45*24)) * time.Hour)
		r.Zones = []string{fmt.Sprintf("z%d", rng.IntN(7))}
		r.Lat += rng.Float64()
		if l, ok := latest[id]; !ok || rev > l.rev {
			latest[id] = rec{rev, r.Killed}
		}
		log = append(log, r)
	}
	var wantReports, wantKilled int64
	for _, l := range latest {
		wantReports++
		wantKilled += int64(l.killed)
	}
	batchAt := func(first, last int64) storage.Batch {
		return storage.Batch{Span: span(first, last), Rows: log[first : last+1]}
	}

	kills := 0
	next := int64(0)
	var pending *storage.Span
	deadline := time.Now().Add(40 * time.Second)
	for next < int64(len(log)) || pending != nil {
		if time.Now().After(deadline) {
			t.Fatal("crash loop did not finish in time")
		}
		// A killer fires once in a while during the write.
		stop := make(chan struct{})
		killed := make(chan bool, 1)
		if kills < 5 && rng.IntN(3) == 0 {
			delay := time.Duration(rng.IntN(30)) * time.Millisecond
			go func() {
				select {
				case <-time.After(delay):
					srv.Kill()
					killed <- true
				case <-stop:
					killed <- false
				}
			}()
		} else {
			killed <- false
		}
		var b storage.Batch
		if pending != nil {
			b = batchAt(pending.First, pending.Last)
		} else {
			b = batchAt(next, min(next+per, int64(len(log)))-1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		tw := time.Now()
		_, err := s.WriteBatch(ctx, b)
		if err != nil {
			t.Logf("write %s failed after %v: %v", b.Span, time.Since(tw), err)
		}
		cancel()
		close(stop)
		if <-killed {
			kills++
		}
		if err == nil {
			next, pending = b.Last+1, nil
			continue
		}
		// The writer "restarts": server back, position from the store.
		if !srv.Running() {
			if err := srv.Start(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		}
		var pos storage.Position
		for i := 0; ; i++ {
			if pos, err = s.Resume(ctxT(t), src); err == nil {
				break
			}
			if i == 5 {
				t.Fatal(err)
			}
		}
		pending = pos.Pending
		next = max(pos.Next, 0)
	}
	t.Logf("%d batches, %d kills", nBatches, kills)
	if kills == 0 {
		t.Fatal("no kill happened")
	}
	wantTotals(t, s, wantReports, wantKilled)
	if pos, err := s.Resume(ctxT(t), src); err != nil || pos.Next != int64(len(log)) || pos.Pending != nil {
		t.Fatalf("final position %+v %v", pos, err)
	}
}
