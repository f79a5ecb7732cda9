package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/dlq"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/storage"
)

// partition consumes one assigned partition for one generation.
type partition struct {
	in        *Ingester
	gen       *kafka.Generation
	topic     string // the Kafka topic
	partner   string // the partner of a partner topic, "" for the reports topic
	id        int
	committed int64
	src       storage.Source
	// home is the partition list of the reports topic, by which a report
	// id's home partition is found (nil on a partner topic).
	home []int
	// landed holds the source offsets, from where this partition resumed,
	// that already have a dead letter: a previous owner may have written
	// them and crashed before the store recorded its batch.
	landed map[int64]bool
	// dlqTried: a dead-letter write failed and may have landed in part, so
	// landed must be read again.
	dlqTried bool
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
		Topic:         p.topic,
		Partition:     p.id,
		Dialer:        in.o.Dialer,
		MinBytes:      1,
		MaxBytes:      16 << 20,
		MaxWait:       200 * time.Millisecond,
		QueueCapacity: 1000,
		ErrorLogger:   kafka.LoggerFunc(func(msg string, args ...any) { in.o.Logger.Debug("kafka reader: " + fmt.Sprintf(msg, args...)) }),
	})
	defer reader.Close()
	defer in.clearLag(p.topic, p.id)
	for {
		err := p.consume(fetchCtx, writeCtx, reader)
		if !errors.Is(err, storage.ErrSpanMismatch) {
			return err
		}
		// The store holds a span with other bounds: another worker wrote
		// this partition since we located it (we were slow to notice a
		// rebalance). Drop what we hold and start again from the store.
		in.o.Logger.Warn("partition written by another worker; resuming from the store", "topic", p.topic, "partition", p.id, "err", err)
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
	if p.partner == "" {
		if p.home, err = p.homePartitions(fetchCtx); err != nil {
			return nil
		}
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
		in.readTo(p.topic, p.id, start, end)
	} else {
		in.setLag(p.topic, p.id, end) // from the first offset: an upper bound
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
	base := p.topic
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
	return untilOK(ctx, in.o.Logger, "list offsets", func() (int64, error) {
		resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{p.topic: {kafka.LastOffsetOf(p.id)}},
		})
		if err != nil {
			return 0, err
		}
		for _, po := range resp.Topics[p.topic] {
			if po.Partition == p.id {
				return po.LastOffset, po.Error
			}
		}
		return 0, errors.New("no offsets in response")
	}, "partition", p.id)
}

// homePartitions lists the partitions of the reports topic, retrying while
// the broker fails. Partitions added later start a new generation
// (WatchPartitionChanges), which asks again.
func (p *partition) homePartitions(ctx context.Context) ([]int, error) {
	in := p.in
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: roundTripper(in.o.Transport), Timeout: 10 * time.Second}
	return untilOK(ctx, in.o.Logger, "reports topic metadata", func() ([]int, error) {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{in.o.Topic}})
		if err != nil {
			return nil, err
		}
		if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0 {
			return nil, fmt.Errorf("no partitions of %s in %+v", in.o.Topic, md.Topics)
		}
		ids := make([]int, len(md.Topics[0].Partitions))
		for i, mp := range md.Topics[0].Partitions {
			ids[i] = mp.ID
		}
		slices.Sort(ids)
		return ids, nil
	})
}

// resume asks the store where src continues, retrying while it is down.
func (p *partition) resume(ctx context.Context, src storage.Source) (storage.Position, error) {
	return untilOK(ctx, p.in.o.Logger, "resume position", func() (storage.Position, error) {
		return p.in.store.Resume(ctx, src)
	}, "partition", p.id)
}

// untilOK calls fn until it succeeds, logging each failure as op (with
// args) and backing off between attempts, or until ctx ends.
func untilOK[T any](ctx context.Context, log *slog.Logger, op string, fn func() (T, error), args ...any) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := fn()
		if err == nil {
			return v, nil
		}
		log.Warn(op, append(args, "err", err, "attempt", attempt)...)
		if !sleep(ctx, backoff(attempt)) {
			return v, ctx.Err()
		}
	}
}

// flushGap: a partial batch is flushed as soon as the partition has been
// silent this long (or BatchWait, if shorter): a feed that stopped, such
// as the end of a backlog, does not wait out the whole BatchWait.
const flushGap = time.Second

// collect returns up to BatchSize messages: it waits for the first as long
// as it takes, then at most BatchWait for the rest, and no more than
// flushGap for the next one. On return with messages, busy has been
// incremented.
func (p *partition) collect(ctx context.Context, r *kafka.Reader) []kafka.Message {
	in := p.in
	var msgs []kafka.Message
	var deadline time.Time
	gap := min(flushGap, in.o.BatchWait)
	for len(msgs) < in.o.BatchSize {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if len(msgs) > 0 {
			next := time.Now().Add(gap)
			if deadline.Before(next) {
				next = deadline
			}
			fctx, cancel = context.WithDeadline(ctx, next)
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
		in.readTo(p.topic, p.id, m.Offset+1, m.HighWaterMark)
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

// flush writes one batch: dead letters and forwards first, then the rows,
// then the Kafka commit. Each step retries with capped backoff until it
// succeeds, ctx ends or the error is permanent; until then the partition
// fetches nothing more, which bounds memory while ClickHouse or the broker
// is down.
func (p *partition) flush(ctx context.Context, span storage.Span, msgs []kafka.Message) error {
	in := p.in
	defer in.metrics.inFlight.Sub(float64(len(msgs)))
	sent := false // the dead letters and forwards have landed
	// The batch's share of the write budget is taken before the batch is
	// decoded, so that at most MaxConcurrentWrites x BatchSize rows exist
	// at once, whatever the number of partitions.
	// A redone span may be longer than BatchSize (the size changed since).
	weight := int64(min(max(len(msgs), 1), in.commit.maxRows))
	for {
		in.waiting.Add(1)
		err := in.budget.Acquire(ctx, weight)
		in.waiting.Add(-1)
		if err != nil {
			return err
		}
		b := in.process(p.route(), msgs)
		if !sent && len(b.dead)+len(b.forward) > 0 {
			if err := p.sendAside(ctx, span, &b); err != nil {
				// Wait for the broker without a share of the budget, so
				// that the other partitions go on, and without the rows,
				// which are decoded again once the share is back.
				in.budget.Release(weight)
				if !publish.IsPermanent(err) && ctx.Err() == nil {
					err = retry(ctx, in, "dead-letter write", func() error { return p.sendAside(ctx, span, &b) })
				}
				if err != nil {
					return err
				}
				sent = true
				continue
			}
		}
		err = p.write(ctx, span, len(msgs), b)
		in.budget.Release(weight)
		return err
	}
}

// route is where this partition's messages come from and where they
// belong.
func (p *partition) route() route {
	return route{topic: p.topic, partner: p.partner, partitions: p.home, partition: p.id}
}

// sendAside sends a batch's dead letters and forwards, once: the dead
// letters that have not landed yet, so that each poison message is on the
// dead-letter topic once, whatever happened to the previous owner or to a
// previous attempt; every forward, since a repeated one counts once.
func (p *partition) sendAside(ctx context.Context, span storage.Span, b *processed) error {
	in := p.in
	if len(b.forward) > 0 {
		if err := in.forwards.WriteMessages(ctx, b.forward...); err != nil {
			return fmt.Errorf("forward %d reports: %w", len(b.forward), err)
		}
		in.forwarded.Add(int64(len(b.forward)))
		in.metrics.forwarded.Add(float64(len(b.forward)))
		b.forward = nil // sent: a retry of the dead letters does not send them again
	}
	if len(b.dead) == 0 {
		return nil
	}
	if p.landed == nil || p.dlqTried {
		landed, err := in.deadLettered(ctx, p.topic, p.id, span.First)
		if err != nil {
			return err
		}
		p.landed = landed
	}
	limit, err := in.dlq.MaxMessageBytes(ctx)
	if err != nil {
		return err
	}
	todo := make([]kafka.Message, 0, len(b.dead))
	for _, d := range b.dead {
		if !p.landed[dlq.SourceOffset(d)] {
			todo = append(todo, dlq.Fit(d, publish.MaxRecordBytes(limit)))
		}
	}
	if len(todo) > 0 {
		// kafka-go sends a batch it has queued even when the caller's
		// context ends first; a write cut short by a rebalance could then
		// land after the partition's next owner looked for it. So the
		// call waits for the outcome, bounded by its own timeout.
		p.dlqTried = true // a failed produce may have landed in part
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dlqWriteTimeout)
		defer cancel()
		if err := in.dlq.WriteMessages(wctx, todo...); err != nil {
			return err
		}
		p.dlqTried = false
		for _, d := range todo {
			p.landed[dlq.SourceOffset(d)] = true
		}
	}
	in.dead.Add(int64(len(b.dead)))
	for _, d := range b.dead {
		in.metrics.deadLettered.WithLabelValues(header(d.Headers, dlq.HeaderRule)).Inc()
	}
	return nil
}

// write stores the batch's rows (none for a batch of a partner topic: the
// span is recorded all the same) and commits the Kafka offset.
func (p *partition) write(ctx context.Context, span storage.Span, nMsgs int, b processed) error {
	in := p.in
	var (
		res  storage.WriteResult
		took time.Duration // in the store, not waiting for the other partitions
	)
	start := time.Now()
	err := retry(ctx, in, "write batch", func() error {
		r, d, err := in.commit.write(ctx, storage.Batch{Span: span, Rows: b.rows})
		res, took = r, took+d
		return err
	})
	if err != nil {
		return err
	}
	in.metrics.insertLatency.Observe(took.Seconds())
	in.o.Logger.Debug("batch written", "topic", p.topic, "partition", p.id, "first", span.First, "last", span.Last,
		"rows", len(b.rows), "dead", len(b.dead), "forwarded", len(b.forward), "took", time.Since(start).Round(time.Millisecond), "result", fmt.Sprintf("%+v", res))
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
	if err := p.gen.CommitOffsets(map[string]map[int]int64{p.topic: {p.id: span.Last + 1}}); err != nil {
		in.o.Logger.Debug("commit offset", "topic", p.topic, "partition", p.id, "offset", span.Last+1, "err", err)
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
		if storage.IsPermanent(err) || publish.IsPermanent(err) {
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
