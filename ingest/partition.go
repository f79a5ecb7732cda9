package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

	pos, err := p.resume(fetchCtx)
	if err != nil {
		return nil // stopping before we began
	}
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
			return nil
		}
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

	for {
		msgs := p.collect(fetchCtx, reader)
		if len(msgs) > 0 {
			span := storage.Span{Source: p.src, First: msgs[0].Offset, Last: msgs[len(msgs)-1].Offset}
			err := p.flush(writeCtx, span, msgs)
			in.busy.Add(-1)
			if err != nil {
				return nil // stopping; the next owner resumes from the store
			}
		}
		if fetchCtx.Err() != nil {
			return nil
		}
	}
}

// resume asks the store where to continue, retrying while it is down.
func (p *partition) resume(ctx context.Context) (storage.Position, error) {
	for attempt := 0; ; attempt++ {
		pos, err := p.in.store.Resume(ctx, p.src)
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
	rows, dead := in.process(p.src.Topic, msgs)
	if len(dead) > 0 {
		if err := retry(ctx, in, "dead-letter write", func() error { return in.dlq.WriteMessages(ctx, dead...) }); err != nil {
			return err
		}
		in.dead.Add(int64(len(dead)))
	}
	var res storage.WriteResult
	err := retry(ctx, in, "write batch", func() error {
		var err error
		res, err = in.store.WriteBatch(ctx, storage.Batch{Span: span, Rows: rows})
		return err
	})
	if err != nil {
		return err
	}
	in.batches.Add(1)
	in.written.Add(int64(res.Inserted))
	in.dups.Add(int64(res.Duplicates))
	// The store holds the truth; the Kafka commit is for lag monitoring
	// and for consumers that do not ask the store.
	if err := p.gen.CommitOffsets(map[string]map[int]int64{span.Topic: {p.id: span.Last + 1}}); err != nil {
		in.o.Logger.Debug("commit offset", "partition", p.id, "offset", span.Last+1, "err", err)
	}
	return nil
}

func retry(ctx context.Context, in *Ingester, op string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.retries.Add(1)
		in.o.Logger.Warn(op+" failed, retrying", "err", err, "attempt", attempt)
		if !sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
