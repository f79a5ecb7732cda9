package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/storage"
)

// partition consumes one assigned partition for one generation.
type partition struct {
	in        *Ingester
	gen       *kafka.Generation
	id        int
	committed int64
	src       storage.Source
	// landed holds the source offsets, from where this partition resumed,
	// that already have a dead letter: a previous owner may have written
	// them and crashed before the store recorded its batch.
	landed map[int64]bool
	// flushed counts the generation's partitions that have not finished;
	// see run.
	flushed *sync.WaitGroup
}

// run reads and writes batches until stopCtx (shutdown) or genCtx
// (rebalance) ends. After a shutdown it flushes what it holds within
// ShutdownTimeout; after a rebalance it drops it, because the next owner
// resumes from the store.
func (p *partition) run(stopCtx, genCtx context.Context) error {
	in := p.in
	fetchCtx, cancelFetch := context.WithCancel(genCtx)
	defer cancelFetch()
	writeCtx, cancelWrite := context.WithCancel(genCtx)
	defer cancelWrite()
	// kafka-go ends a generation, and stops its heartbeats, as soon as one
	// of its partition goroutines returns. In a graceful stop every
	// partition first flushes, then waits for the others to flush too, so
	// that the generation, and the partitions' ownership, last until the
	// last batch is written; a partition that returned early would cancel
	// the others' writes, and one that wrote after the heartbeats stopped
	// could overlap the partition's next owner.
	defer func() {
		p.flushed.Done()
		if stopCtx.Err() != nil && genCtx.Err() == nil {
			done := make(chan struct{})
			go func() { p.flushed.Wait(); close(done) }()
			t := time.NewTimer(in.o.ShutdownTimeout)
			defer t.Stop()
			select {
			case <-done:
			case <-t.C:
			case <-genCtx.Done():
			}
		}
	}()
	go func() {
		select {
		case <-stopCtx.Done():
			cancelFetch()
			if sleep(genCtx, in.o.ShutdownTimeout) {
				cancelWrite()
			}
		case <-genCtx.Done():
		}
	}()

	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:       in.o.Brokers,
		Topic:         in.o.Topic,
		Partition:     p.id,
		Dialer:        in.o.Dialer,
		MinBytes:      1,
		MaxBytes:      16 << 20,
		MaxWait:       200 * time.Millisecond,
		QueueCapacity: 1000,
		ErrorLogger:   kafka.LoggerFunc(func(msg string, args ...any) { in.o.Logger.Debug("kafka reader: " + fmt.Sprintf(msg, args...)) }),
	})
	defer reader.Close()
	defer in.clearLag(p.id)
	for {
		err := p.consume(fetchCtx, writeCtx, reader)
		if !errors.Is(err, storage.ErrSpanMismatch) {
			return err
		}
		// The store holds a span with other bounds: another worker wrote
		// this partition since we located it (we were slow to notice a
		// rebalance). Drop what we hold and start again from the store.
		in.o.Logger.Warn("partition written by another worker; resuming from the store", "partition", p.id, "err", err)
	}
}

// consume locates the partition, redoes an unfinished batch, then reads
// and writes batches until ctx ends. It returns nil when stopping, a
// storage.ErrSpanMismatch when the store moved under it, or a fatal error.
func (p *partition) consume(fetchCtx, writeCtx context.Context, reader *kafka.Reader) error {
	in := p.in
	p.landed = nil // where we resume, another worker may have written since
	// Until the partition reaches its fetch loop it counts as busy, so that
	// an idle stop never leaves it unread while the store is down.
	in.busy.Add(1)
	starting := true
	defer func() {
		if starting {
			in.busy.Add(-1)
		}
	}()
	pos, end, err := p.locate(fetchCtx)
	if err != nil {
		return nil // stopping before we began
	}
	// A batch the store began but did not finish is redone first, over
	// exactly the same offsets, so that the write is idempotent.
	if sp := pos.Pending; sp != nil {
		in.o.Logger.Info("redoing unfinished batch", "partition", p.id, "first", sp.First, "last", sp.Last)
		if err := reader.SetOffset(sp.First); err != nil {
			return fmt.Errorf("ingest: seek partition %d: %w", p.id, err)
		}
		msgs, err := p.collectSpan(fetchCtx, reader, sp.First, sp.Last)
		if err != nil {
			return nil
		}
		if err := p.flush(writeCtx, *sp, msgs); err != nil {
			return stopping(err)
		}
		pos.Next = sp.Last + 1
	}
	start := pos.Next
	if start < 0 {
		start = p.committed
	}
	if start < 0 {
		start = kafka.FirstOffset
	}
	if err := reader.SetOffset(start); err != nil {
		return fmt.Errorf("ingest: seek partition %d to %d: %w", p.id, start, err)
	}
	in.o.Logger.Debug("partition resumed", "partition", p.id, "offset", start, "store_next", pos.Next, "kafka_committed", p.committed)
	if start >= 0 {
		in.setLag(p.id, max(end-start, 0))
	} else {
		in.setLag(p.id, end) // from the first offset: an upper bound
	}
	in.lastActivity.Store(time.Now().UnixNano())
	starting = false
	in.busy.Add(-1)

	for {
		msgs := p.collect(fetchCtx, reader)
		if len(msgs) > 0 {
			span := storage.Span{Source: p.src, First: msgs[0].Offset, Last: msgs[len(msgs)-1].Offset}
			err := p.flush(writeCtx, span, msgs)
			in.busy.Add(-1)
			if err != nil {
				return stopping(err)
			}
		}
		if fetchCtx.Err() != nil {
			return nil
		}
	}
}

// stopping passes on the errors that mean something (a store that moved,
// a permanent failure) and turns a cancelled write into a clean stop: the
// next owner resumes from the store.
func stopping(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kafka.ErrGenerationEnded) {
		return nil
	}
	return err
}

// locate finds where the partition resumes, and under which source.
//
// Stored spans are tied to the cluster id, so a wiped broker starts afresh.
// A topic deleted and re-created under the same name on the same cluster
// shows as a stored position beyond the partition's end: its offsets
// start again from zero and must not be mistaken for the old topic's, so
// each such incarnation gets its own source (topic "reports~1", "~2"...;
// '~' cannot occur in a Kafka topic name). All members of the group
// derive the same incarnation from the same store and log.
func (p *partition) locate(ctx context.Context) (storage.Position, int64, error) {
	end, err := p.highWatermark(ctx)
	if err != nil {
		return storage.Position{}, 0, err
	}
	base := p.src.Topic
	for n := 0; ; n++ {
		src := p.src
		if n > 0 {
			src.Topic = base + "~" + itoa(int64(n))
		}
		pos, err := p.resume(ctx, src)
		if err != nil {
			return pos, end, err
		}
		stale := pos.Next > end || (pos.Pending != nil && pos.Pending.Last >= end)
		if !stale {
			if n > 0 && pos.Next < 0 {
				p.in.o.Logger.Warn("topic was re-created: stored offsets are beyond the partition's end; starting a new incarnation",
					"partition", p.id, "topic", base, "incarnation", n, "end", end)
				p.committed = -1 // the group's committed offset belongs to the old topic too
			}
			p.src = src
			return pos, end, nil
		}
	}
}

// highWatermark is the offset the next message of the partition will get.
func (p *partition) highWatermark(ctx context.Context) (int64, error) {
	in := p.in
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: roundTripper(in.o.Transport), Timeout: 10 * time.Second}
	for attempt := 0; ; attempt++ {
		resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{p.src.Topic: {kafka.LastOffsetOf(p.id)}},
		})
		if err == nil {
			for _, po := range resp.Topics[p.src.Topic] {
				if po.Partition == p.id && po.Error == nil {
					return po.LastOffset, nil
				} else if po.Partition == p.id {
					err = po.Error
				}
			}
			if err == nil {
				err = errors.New("no offsets in response")
			}
		}
		in.o.Logger.Warn("list offsets", "partition", p.id, "err", err, "attempt", attempt)
		if !sleep(ctx, backoff(attempt)) {
			return 0, ctx.Err()
		}
	}
}

// resume asks the store where src continues, retrying while it is down.
func (p *partition) resume(ctx context.Context, src storage.Source) (storage.Position, error) {
	for attempt := 0; ; attempt++ {
		pos, err := p.in.store.Resume(ctx, src)
		if err == nil {
			return pos, nil
		}
		p.in.o.Logger.Warn("resume position", "partition", p.id, "err", err, "attempt", attempt)
		if !sleep(ctx, backoff(attempt)) {
			return pos, ctx.Err()
		}
	}
}

// collect returns up to BatchSize messages: it waits for the first as long
// as it takes, then at most BatchWait for the rest. On return with
// messages, busy has been incremented.
func (p *partition) collect(ctx context.Context, r *kafka.Reader) []kafka.Message {
	in := p.in
	var msgs []kafka.Message
	var deadline time.Time
	for len(msgs) < in.o.BatchSize {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if len(msgs) > 0 {
			fctx, cancel = context.WithDeadline(ctx, deadline)
		}
		m, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				in.o.Logger.Warn("fetch", "partition", p.id, "err", err)
				if !sleep(ctx, time.Second) && len(msgs) == 0 {
					return nil
				}
				continue
			}
			break
		}
		if len(msgs) == 0 {
			deadline = time.Now().Add(in.o.BatchWait)
			in.busy.Add(1)
		}
		in.lastActivity.Store(time.Now().UnixNano())
		in.consumed.Add(1)
		in.metrics.consumed.Inc()
		in.metrics.inFlight.Inc()
		in.setLag(p.id, max(m.HighWaterMark-m.Offset-1, 0))
		msgs = append(msgs, m)
	}
	return msgs
}

// collectSpan reads the messages of a known span again. Offsets missing
// from the log (compacted away) end the span early.
func (p *partition) collectSpan(ctx context.Context, r *kafka.Reader, first, last int64) ([]kafka.Message, error) {
	var msgs []kafka.Message
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, err
		}
		if m.Offset > last {
			return msgs, nil
		}
		if m.Offset >= first {
			msgs = append(msgs, m)
		}
		if m.Offset == last {
			return msgs, nil
		}
	}
}

// flush writes one batch: dead letters first, then the rows, then the
// Kafka commit. Each step retries with capped backoff until it succeeds or
// ctx ends; until then the partition fetches nothing more, which bounds
// memory while ClickHouse or the broker is down.
func (p *partition) flush(ctx context.Context, span storage.Span, msgs []kafka.Message) error {
	in := p.in
	defer in.metrics.inFlight.Sub(float64(len(msgs)))
	// A write slot is taken before the batch is decoded, so that at most
	// MaxConcurrentWrites batches of rows exist at once, whatever the
	// number of partitions.
	select {
	case in.writes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-in.writes }()
	rows, dead := in.process(in.o.Topic, msgs)
	nMsgs := len(msgs)
	msgs = nil // only the dead letters still need the messages
	if len(dead) > 0 {
		// Send only the dead letters that have not landed yet, so that each
		// poison message is on the dead-letter topic once, whatever
		// happened to the previous owner or to a previous attempt.
		if p.landed == nil {
			landed, err := p.deadLettered(ctx, span.First)
			if err != nil {
				return err
			}
			p.landed = landed
		}
		first := true
		err := retry(ctx, in, "dead-letter write", func() error {
			if !first { // a failed produce may have landed in part
				landed, err := in.deadLettered(ctx, p.id, span.First)
				if err != nil {
					return err
				}
				p.landed = landed
			}
			first = false
			todo := make([]kafka.Message, 0, len(dead))
			for _, d := range dead {
				if !p.landed[sourceOffset(d)] {
					todo = append(todo, d)
				}
			}
			if len(todo) == 0 {
				return nil
			}
			// kafka-go sends a batch it has queued even when the caller's
			// context ends first; a write cut short by a rebalance could then
			// land after the partition's next owner looked for it. So the
			// call waits for the outcome, bounded by its own timeout.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dlqWriteTimeout)
			defer cancel()
			return in.dlq.WriteMessages(wctx, todo...)
		})
		if err != nil {
			return err
		}
		in.dead.Add(int64(len(dead)))
		for _, d := range dead {
			in.metrics.deadLettered.WithLabelValues(header(d.Headers, HeaderRule)).Inc()
		}
	}
	var res storage.WriteResult
	start := time.Now()
	err := retry(ctx, in, "write batch", func() error {
		var err error
		res, err = in.store.WriteBatch(ctx, storage.Batch{Span: span, Rows: rows})
		return err
	})
	if err != nil {
		return err
	}
	in.metrics.insertLatency.Observe(time.Since(start).Seconds())
	in.o.Logger.Debug("batch written", "partition", p.id, "first", span.First, "last", span.Last,
		"rows", len(rows), "dead", len(dead), "took", time.Since(start).Round(time.Millisecond), "result", fmt.Sprintf("%+v", res))
	in.metrics.batchSize.Observe(float64(nMsgs))
	in.metrics.inserted.Add(float64(res.Inserted))
	in.metrics.retracted.Add(float64(res.Retracted))
	in.metrics.duplicates.Add(float64(res.Duplicates))
	in.metrics.stale.Add(float64(res.Stale))
	if res.Redo {
		in.metrics.redos.Inc()
	}
	in.batches.Add(1)
	in.written.Add(int64(res.Inserted))
	in.dups.Add(int64(res.Duplicates + res.Stale))
	// The store holds the truth; the Kafka commit is for lag monitoring
	// and for consumers that do not ask the store.
	if err := p.gen.CommitOffsets(map[string]map[int]int64{in.o.Topic: {p.id: span.Last + 1}}); err != nil {
		in.o.Logger.Debug("commit offset", "partition", p.id, "offset", span.Last+1, "err", err)
	}
	return nil
}

func retry(ctx context.Context, in *Ingester, op string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			in.failing.Store(false)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if storage.IsPermanent(err) {
			return fmt.Errorf("ingest: %s: %w", op, err)
		}
		in.failing.Store(true)
		in.retries.Add(1)
		in.metrics.retries.WithLabelValues(op).Inc()
		in.o.Logger.Warn(op+" failed, retrying", "err", err, "attempt", attempt)
		if !sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// dlqWriteTimeout bounds one dead-letter write, which does not follow the
// caller's context (see flush).
const dlqWriteTimeout = 30 * time.Second

func sourceOffset(m kafka.Message) int64 {
	off, _ := strconv.ParseInt(header(m.Headers, HeaderSourceOffset), 10, 64)
	return off
}

// deadLettered reads which dead letters already landed, retrying while the
// broker fails.
func (p *partition) deadLettered(ctx context.Context, from int64) (map[int64]bool, error) {
	var landed map[int64]bool
	err := retry(ctx, p.in, "read dead letters", func() error {
		var err error
		landed, err = p.in.deadLettered(ctx, p.id, from)
		return err
	})
	return landed, err
}
