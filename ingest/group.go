package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

// committer writes the batches that partitions flush at about the same
// time in one store write (storage.WriteBatches): one ledger INSERT, one
// revision lookup and one INSERT for all of them, so that a flush of six
// partitions makes one part per month and table, not six. The first batch
// to arrive leads: it waits until every partition holding messages has
// joined or is waiting for a write slot, until the group holds as many
// rows as may be decoded at once, or BatchWait at most, then writes the
// group; the others wait for its outcome. A failed write fails every
// member, and each retries on its own (into another group).
//
// Exactness does not depend on who is grouped with whom: every span's rows
// and aggregates are what a write of that span alone would produce (see
// storage.WriteBatches), and a partition has one batch in flight at a time.
type committer struct {
	in      *Ingester
	maxRows int
	mu      sync.Mutex
	open    *group // accepting members; nil when none is
}

type group struct {
	batches []storage.Batch
	rows    int
	joined  chan struct{} // a member joined (capacity 1, never blocks)
	done    chan struct{} // closed when res and errs are set
	res     []storage.WriteResult
	errs    []error
	took    time.Duration // the store write, without the gathering
}

// write stores b, alone or with the batches of other partitions, and says
// how long the store write took.
func (c *committer) write(ctx context.Context, b storage.Batch) (storage.WriteResult, time.Duration, error) {
	c.mu.Lock()
	g := c.open
	for g != nil && g.holds(b.Source) {
		// Another span of the same source (its previous owner's, across a
		// rebalance) must be written first: wait for that group.
		c.mu.Unlock()
		<-g.done
		c.mu.Lock()
		g = c.open
	}
	lead := g == nil
	if lead {
		g = &group{joined: make(chan struct{}, 1), done: make(chan struct{})}
		c.open = g
	}
	i := len(g.batches)
	g.batches = append(g.batches, b)
	g.rows += len(b.Rows)
	c.mu.Unlock()
	if !lead {
		select {
		case g.joined <- struct{}{}:
		default:
		}
		// Not ctx: the group may be writing this batch's rows, and the
		// partition must not give up its span before the outcome is known.
		<-g.done
		return g.res[i], g.took, g.errs[i]
	}
	c.gather(ctx, g)
	c.mu.Lock()
	c.open = nil
	c.mu.Unlock()
	start := time.Now()
	g.res, g.errs = c.in.store.WriteBatches(ctx, g.batches)
	g.took = time.Since(start)
	close(g.done)
	return g.res[0], g.took, g.errs[0]
}

// gather waits until no more batches are coming soon: every partition
// holding messages has joined g or waits for a write slot (which only a
// finished write frees), g holds maxRows rows, BatchWait has passed, or
// ctx ends.
func (c *committer) gather(ctx context.Context, g *group) {
	in := c.in
	deadline := time.NewTimer(in.o.BatchWait)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		c.mu.Lock()
		n, rows := len(g.batches), g.rows
		c.mu.Unlock()
		if rows >= c.maxRows || int64(n)+in.waiting.Load() >= in.busy.Load() {
			return
		}
		select {
		case <-g.joined:
		case <-poll.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// holds reports whether g has a batch of src. Call with the committer's
// lock held.
func (g *group) holds(src storage.Source) bool {
	for _, b := range g.batches {
		if b.Source == src {
			return true
		}
	}
	return false
}
