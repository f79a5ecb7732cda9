// Package ingest moves reports from Kafka into ClickHouse: a consumer group
// member takes partitions, reads each one in batches, decodes, validates and
// matches every report to its zones and admin areas, writes the batch to the
// store, and only then commits the Kafka offset. What cannot be decoded or
// validated goes to the dead-letter topic with a reason; nothing stalls the
// partition and nothing is dropped.
//
// Where a partition resumes is decided by the store, not by Kafka's
// committed offset: the store records the offset span of every batch it
// accepted, so a crash between the write and the commit neither loses nor
// double counts a batch. Kafka commits still happen, for lag monitoring.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/storage"
)

// Defaults and limits of Options.
const (
	DefaultBatchSize = 20000
	MaxBatchSize     = 100_000
	// DefaultBatchWait: a slow feed is written every several seconds,
	// not every second. Each write makes a part per month touched in
	// every table, and merges rewrite them; at 2,000 reports/s a 1 s wait
	// kept thousands of merged-away parts on disk, and 5 s still made the
	// first minute of the soak (the demo's feed spread over 13 months)
	// 1,380 bytes on disk per report (docs/soak.md). The map's tiles are
	// cached for a minute: 10 s more is not what a user waits for.
	DefaultBatchWait = 10 * time.Second
	DefaultTopic     = "reports"
	DefaultDLQTopic  = "reports.dlq"
	DefaultGroup     = "trucewatch-ingest"
	// DefaultPartnerTopicPrefix names the partner topics: partner P
	// produces to "reports.partner.P", the only topic its ACL lets it
	// write, and every report read from there is P's.
	DefaultPartnerTopicPrefix = "reports.partner."
	// DefaultPartnerTopicsRefresh is how often the broker is asked for new
	// partner topics.
	DefaultPartnerTopicsRefresh = 30 * time.Second
	// DefaultShutdownTimeout bounds the flush and commit after a stop.
	DefaultShutdownTimeout = 30 * time.Second
	DefaultSessionTimeout  = 10 * time.Second
	// DefaultMaxConcurrentWrites: ClickHouse gains little from more
	// parallel inserts than it has cores, and each costs a batch of memory.
	DefaultMaxConcurrentWrites = 2
)

// Matcher and Classifier are what the enrichment step needs (package
// enrich).
type (
	Matcher    = enrich.Matcher
	Classifier = enrich.Classifier
)

// Store is where batches go. WriteBatches must store each batch (of
// distinct sources) idempotently per span, as storage.Store.WriteBatches
// does, and Resume must say where a partition continues.
type Store interface {
	Resume(ctx context.Context, src storage.Source) (storage.Position, error)
	WriteBatches(ctx context.Context, bs []storage.Batch) ([]storage.WriteResult, []error)
}

// Options configure an Ingester. Brokers is required; other zero values
// take the defaults above.
type Options struct {
	Brokers  []string
	Topic    string
	DLQTopic string
	Group    string
	// PartnerTopicPrefix: every topic named PartnerTopicPrefix+P is
	// consumed as partner P's (default DefaultPartnerTopicPrefix; "-"
	// turns partner topics off). New ones are found every
	// PartnerTopicsRefresh.
	PartnerTopicPrefix   string
	PartnerTopicsRefresh time.Duration
	// Dialer carries TLS and SASL for the consumer; Transport for the
	// dead-letter producer. nil means plain TCP.
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
	// BatchSize is the most reports in one write (1..MaxBatchSize);
	// BatchWait is how long a partial batch waits for more.
	BatchSize int
	BatchWait time.Duration
	// ExitWhenIdle stops Run after this long without a new message, once
	// every fetched message is written. 0 runs until ctx ends.
	ExitWhenIdle    time.Duration
	ShutdownTimeout time.Duration
	// MaxConcurrentWrites bounds the rows decoded and being written at
	// once, across partitions, to MaxConcurrentWrites x BatchSize (default
	// 2): it bounds memory, and a partition whose batch waits its turn
	// fetches nothing more. The batches of several partitions are written
	// together, in one store write of at most that many rows.
	MaxConcurrentWrites int
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to others (default 10s): the time a
	// crashed worker's partitions stand still.
	SessionTimeout time.Duration
	Logger         *slog.Logger
	// Now is the clock for messages without a Kafka timestamp (default
	// time.Now); otherwise the message's timestamp bounds observed_at.
	Now func() time.Time
	// Registerer receives the Prometheus metrics; nil keeps them private.
	Registerer prometheus.Registerer
	// WriterID names this worker on the dead letters it writes (default
	// host/pid), for operators tracing where a letter came from.
	WriterID string
}

func (o *Options) setDefaults() error {
	if len(o.Brokers) == 0 {
		return errors.New("ingest: no brokers")
	}
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.DLQTopic == "" {
		o.DLQTopic = DefaultDLQTopic
	}
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	if o.PartnerTopicPrefix == "" {
		o.PartnerTopicPrefix = DefaultPartnerTopicPrefix
	}
	if o.PartnerTopicPrefix != "-" && (strings.HasPrefix(o.Topic, o.PartnerTopicPrefix) || strings.HasPrefix(o.DLQTopic, o.PartnerTopicPrefix)) {
		return fmt.Errorf("ingest: partner topic prefix %q would take in the topic %q or %q", o.PartnerTopicPrefix, o.Topic, o.DLQTopic)
	}
	if o.PartnerTopicsRefresh <= 0 {
		o.PartnerTopicsRefresh = DefaultPartnerTopicsRefresh
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchSize < 1 || o.BatchSize > MaxBatchSize {
		return fmt.Errorf("ingest: batch size %d outside 1..%d", o.BatchSize, MaxBatchSize)
	}
	if o.BatchWait <= 0 {
		o.BatchWait = DefaultBatchWait
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.MaxConcurrentWrites <= 0 {
		o.MaxConcurrentWrites = DefaultMaxConcurrentWrites
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transport == nil {
		// Our own, not kafka-go's shared default, so that Run can close its
		// idle connections when it ends.
		o.Transport = &kafka.Transport{}
	}
	if o.WriterID == "" {
		h, _ := os.Hostname()
		o.WriterID = h + "/" + strconv.Itoa(os.Getpid())
	}
	return nil
}

// Stats are running totals since start.
type Stats struct {
	Consumed     int64 // messages read from Kafka
	Written      int64 // rows the store accepted (new reports and revisions)
	Duplicates   int64 // repeated deliveries and stale revisions, counted once
	DeadLettered int64 // messages sent to the dead-letter topic
	Forwarded    int64 // reports sent on to their home partition of the reports topic
	Batches      int64
	Retries      int64 // failed writes that were retried
	Lag          int64 // messages behind the end of the assigned partitions
}

// Ingester is one member of the ingest consumer group.
type Ingester struct {
	o        Options
	match    Matcher
	classify Classifier
	store    Store
	dlq      *publish.Publisher
	forwards *publish.Publisher // to the reports topic, murmur2 of the id
	metrics  *metrics
	// budget is the messages that may be decoded into rows at once
	// (MaxConcurrentWrites x BatchSize); waiting counts the partitions
	// waiting for it.
	budget  *semaphore.Weighted
	waiting atomic.Int64
	commit  *committer

	consumed, written, dups, dead, forwarded, batches, retries atomic.Int64
	lastActivity                                               atomic.Int64 // unix nanos
	busy                                                       atomic.Int64 // partitions holding unwritten messages
	joined, failing                                            atomic.Bool
	lagMu                                                      sync.Mutex
	lag                                                        map[topicPartition]int64
	next                                                       map[topicPartition]int64 // the offset each partition reads next
}

type topicPartition struct {
	topic     string
	partition int
}

// New returns an Ingester. It does not connect until Run.
func New(o Options, m Matcher, c Classifier, s Store) (*Ingester, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	in := &Ingester{o: o, match: m, classify: c, store: s, lag: map[topicPartition]int64{}, next: map[topicPartition]int64{}, metrics: met,
		budget: semaphore.NewWeighted(int64(o.MaxConcurrentWrites * o.BatchSize))}
	in.commit = &committer{in: in, maxRows: o.MaxConcurrentWrites * o.BatchSize}
	in.dlq = newDLQWriter(o)
	in.forwards = publish.New(publish.Options{Brokers: o.Brokers, Topic: o.Topic, Transport: o.Transport, BatchTimeout: time.Millisecond})
	return in, nil
}

// Stats returns running totals.
func (in *Ingester) Stats() Stats {
	s := Stats{
		Consumed: in.consumed.Load(), Written: in.written.Load(), Duplicates: in.dups.Load(),
		DeadLettered: in.dead.Load(), Forwarded: in.forwarded.Load(), Batches: in.batches.Load(), Retries: in.retries.Load(),
	}
	in.lagMu.Lock()
	for _, l := range in.lag {
		s.Lag += l
	}
	in.lagMu.Unlock()
	return s
}

// Run consumes until ctx ends (or the idle limit passes), then flushes what
// it holds, commits, leaves the group and returns. A nil error means a
// clean stop.
func (in *Ingester) Run(ctx context.Context) error {
	defer in.o.Transport.CloseIdleConnections()
	defer in.dlq.Close()
	defer in.forwards.Close()
	cluster, err := in.clusterID(ctx)
	if err != nil {
		return err
	}
	in.o.Logger.Info("ingest starting", "brokers", in.o.Brokers, "topic", in.o.Topic, "group", in.o.Group, "cluster", cluster)

	// stop ends fetching; partitions then flush under their own deadline.
	stopCtx, stop := context.WithCancel(ctx)
	in.lastActivity.Store(time.Now().UnixNano())
	var watchers sync.WaitGroup
	defer watchers.Wait()
	defer stop() // before the Wait: the watchers end with stopCtx
	if in.o.ExitWhenIdle > 0 {
		watchers.Go(func() { in.idleWatch(stopCtx, stop) })
	}
	watchers.Go(func() { in.pollLag(stopCtx) })
	var fatal atomic.Pointer[error]
	for stopCtx.Err() == nil {
		topics, err := in.topics(stopCtx)
		if err != nil {
			break
		}
		in.runGroup(stopCtx, stop, cluster, topics, &fatal)
	}
	if e := fatal.Load(); e != nil {
		return *e
	}
	in.o.Logger.Info("ingest stopped", "stats", fmt.Sprintf("%+v", in.Stats()))
	return nil
}

// runGroup is one membership of the consumer group, over topics: it runs
// until stopCtx ends, or until the partner topics change, when the
// partitions are dropped as in a rebalance and Run joins again with the
// new list.
func (in *Ingester) runGroup(stopCtx context.Context, stop context.CancelFunc, cluster string, topics []string, fatal *atomic.Pointer[error]) {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    in.o.Group,
		Brokers:               in.o.Brokers,
		Dialer:                in.o.Dialer,
		Topics:                topics,
		StartOffset:           kafka.FirstOffset,
		HeartbeatInterval:     min(time.Second, in.o.SessionTimeout/3),
		SessionTimeout:        in.o.SessionTimeout,
		RebalanceTimeout:      in.o.SessionTimeout,
		JoinGroupBackoff:      time.Second,
		WatchPartitionChanges: true,
		ErrorLogger:           kafka.LoggerFunc(func(msg string, args ...any) { in.o.Logger.Debug("kafka group: " + fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		err = fmt.Errorf("ingest: join group: %w", err)
		fatal.CompareAndSwap(nil, &err)
		stop()
		return
	}
	groupCtx, changed := context.WithCancel(stopCtx)
	defer changed()
	var watching sync.WaitGroup
	watching.Go(func() { in.watchTopics(groupCtx, changed, topics) })
	var wg sync.WaitGroup
	for {
		gen, err := cg.Next(groupCtx)
		if err != nil {
			if groupCtx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			in.o.Logger.Warn("consumer group", "err", err)
			if !sleep(groupCtx, time.Second) {
				break
			}
			continue
		}
		in.joined.Store(true)
		in.lastActivity.Store(time.Now().UnixNano())
		in.startGeneration(stopCtx, stop, cluster, gen, &wg, fatal)
	}
	changed()
	watching.Wait()
	if stopCtx.Err() == nil {
		// The topics changed: end the generation, which drops what the
		// partitions hold (the next owner resumes from the store).
		in.o.Logger.Info("partner topics changed; joining the group again")
		// Out of the group until the next generation: a worker between two
		// memberships is waiting, not idle.
		in.joined.Store(false)
		_ = cg.Close()
		wg.Wait()
		return
	}
	// Partition loops saw stopCtx end and flushed; wait for them before
	// leaving the group so that their commits still count.
	wg.Wait()
	if err := cg.Close(); err != nil {
		in.o.Logger.Debug("leave group", "err", err)
	}
}

// startGeneration starts a loop for every partition the generation
// assigned to this member.
func (in *Ingester) startGeneration(stopCtx context.Context, stop context.CancelFunc, cluster string, gen *kafka.Generation, wg *sync.WaitGroup, fatal *atomic.Pointer[error]) {
	n := 0
	for topic, as := range gen.Assignments {
		n += len(as)
		in.o.Logger.Info("partitions assigned", "generation", gen.ID, "topic", topic, "partitions", partitionIDs(as))
	}
	flushed := new(sync.WaitGroup)
	flushed.Add(n)
	for topic, as := range gen.Assignments {
		partner := ""
		if topic != in.o.Topic {
			partner = strings.TrimPrefix(topic, in.o.PartnerTopicPrefix)
		}
		for _, a := range as {
			p := partition{in: in, gen: gen, topic: topic, partner: partner, id: a.ID, committed: a.Offset, flushed: flushed,
				src: storage.Source{Cluster: cluster, Topic: topic, Partition: a.ID}}
			wg.Add(1)
			gen.Start(func(genCtx context.Context) {
				defer wg.Done()
				if err := p.run(stopCtx, genCtx); err != nil {
					in.o.Logger.Error("partition stopped", "topic", p.topic, "partition", p.id, "err", err)
					fatal.CompareAndSwap(nil, &err)
					stop()
				}
			})
		}
	}
}

// topics are the topics this worker consumes: the reports topic and every
// partner topic the broker has, asked again until it answers.
func (in *Ingester) topics(ctx context.Context) ([]string, error) {
	if in.o.PartnerTopicPrefix == "-" {
		return []string{in.o.Topic}, nil
	}
	ts, err := untilOK(ctx, in.o.Logger, "list partner topics", func() ([]string, error) { return in.partnerTopics(ctx) })
	if err != nil {
		return nil, err
	}
	return append([]string{in.o.Topic}, ts...), nil
}

func (in *Ingester) partnerTopics(ctx context.Context) ([]string, error) {
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: roundTripper(in.o.Transport), Timeout: 10 * time.Second}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range md.Topics {
		if t.Error == nil && strings.HasPrefix(t.Name, in.o.PartnerTopicPrefix) && len(t.Name) > len(in.o.PartnerTopicPrefix) {
			out = append(out, t.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// watchTopics calls changed once the partner topics differ from topics.
func (in *Ingester) watchTopics(ctx context.Context, changed context.CancelFunc, topics []string) {
	if in.o.PartnerTopicPrefix == "-" {
		return
	}
	every(ctx, in.o.PartnerTopicsRefresh, func() bool {
		ts, err := in.partnerTopics(ctx)
		if err != nil {
			in.o.Logger.Debug("list partner topics", "err", err)
			return true
		}
		if !slices.Equal(ts, topics[1:]) {
			in.o.Logger.Info("partner topics", "topics", ts)
			changed()
			return false
		}
		return true
	})
}

// every calls fn every d until ctx ends or fn returns false.
func every(ctx context.Context, d time.Duration, fn func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}

func (in *Ingester) clusterID(ctx context.Context) (string, error) {
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: roundTripper(in.o.Transport), Timeout: 10 * time.Second}
	for attempt := 0; ; attempt++ {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{in.o.Topic}})
		if err == nil {
			if md.ClusterID == "" {
				return "", errors.New("ingest: broker reports no cluster id")
			}
			return md.ClusterID, nil
		}
		in.o.Logger.Warn("broker metadata", "err", err, "attempt", attempt)
		if !sleep(ctx, backoff(attempt)) {
			return "", fmt.Errorf("ingest: broker metadata: %w", err)
		}
	}
}

// idleWatch stops the worker once it has been idle for ExitWhenIdle: a
// member of the group, every assigned partition resumed and caught up
// (no lag, nothing unwritten), and no new message for that long. A worker
// that has not been assigned partitions yet is not idle: it is waiting.
func (in *Ingester) idleWatch(ctx context.Context, stop context.CancelFunc) {
	every(ctx, 100*time.Millisecond, func() bool {
		if !in.joined.Load() || in.busy.Load() != 0 || in.Stats().Lag != 0 {
			return true
		}
		idle := time.Since(time.Unix(0, in.lastActivity.Load()))
		if idle < in.o.ExitWhenIdle {
			return true
		}
		in.o.Logger.Info("idle, stopping", "idle", idle.Round(time.Millisecond))
		stop()
		return false
	})
}
func (in *Ingester) clearLag(topic string, p int) {
	in.lagMu.Lock()
	delete(in.lag, topicPartition{topic, p})
	delete(in.next, topicPartition{topic, p})
	in.lagMu.Unlock()
	in.metrics.lag.DeleteLabelValues(topic, partLabel(p))
}

func (in *Ingester) setLag(topic string, p int, lag int64) {
	in.lagMu.Lock()
	in.lag[topicPartition{topic, p}] = lag
	in.lagMu.Unlock()
	in.metrics.lag.WithLabelValues(topic, partLabel(p)).Set(float64(lag))
}

// readTo records that partition p of topic reads offset next next, and
// that its end was end when last seen (-1: not known).
func (in *Ingester) readTo(topic string, p int, next, end int64) {
	in.lagMu.Lock()
	in.next[topicPartition{topic, p}] = next
	in.lagMu.Unlock()
	if end >= 0 {
		in.setLag(topic, p, max(end-next, 0))
	}
}

// lagPollInterval is how often pollLag asks the brokers for the ends of
// the assigned partitions.
const lagPollInterval = 2 * time.Second

// pollLag keeps the lag true while a partition writes a batch or waits for
// ClickHouse: the end a fetch returns is old by then, and a partition that
// fetches nothing would show the lag of its last fetch for ever.
func (in *Ingester) pollLag(ctx context.Context) {
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: in.o.Transport, Timeout: 10 * time.Second}
	every(ctx, lagPollInterval, func() bool { in.pollLagOnce(ctx, c); return true })
}

func (in *Ingester) pollLagOnce(ctx context.Context, c *kafka.Client) {
	in.lagMu.Lock()
	req := map[string][]kafka.OffsetRequest{}
	for tp := range in.next {
		req[tp.topic] = append(req[tp.topic], kafka.LastOffsetOf(tp.partition))
	}
	in.lagMu.Unlock()
	if len(req) == 0 {
		return
	}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		in.o.Logger.Debug("poll lag", "err", err)
		return
	}
	for topic, pos := range resp.Topics {
		for _, po := range pos {
			in.lagMu.Lock()
			next, ok := in.next[topicPartition{topic, po.Partition}]
			in.lagMu.Unlock()
			if ok && po.Error == nil {
				in.setLag(topic, po.Partition, max(po.LastOffset-next, 0))
			}
		}
	}
}

// Ready reports whether the worker can make progress: it has joined the
// group and its last write did not fail.
func (in *Ingester) Ready() bool { return in.joined.Load() && !in.failing.Load() }

func partitionIDs(as []kafka.PartitionAssignment) []int {
	ids := make([]int, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is capped exponential: 100ms, 200ms, ... 5s.
func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 6)
	return min(d, 5*time.Second)
}

// roundTripper keeps a nil *kafka.Transport from becoming a non-nil
// interface, which kafka-go would call.
func roundTripper(t *kafka.Transport) kafka.RoundTripper {
	if t == nil {
		return nil
	}
	return t
}
