// Package dlq reads the dead-letter topic: it summarises why reports were
// rejected, and replays them to the reports topic once the cause is fixed
// (a partner corrected its feed, or trucewatch learned a new category).
// Replay remembers how far it got in a consumer group of its own, so
// running it twice does not send a letter twice.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafka/publish"
)

// DefaultReplayGroup is where replay keeps its progress.
const DefaultReplayGroup = "trucewatch-dlq-replay"

// HeaderReplayedFrom marks a replayed report with the dead letter it came
// from ("topic/partition/offset").
const HeaderReplayedFrom = "trucewatch.replayed-from"

// Options say where the dead-letter topic is.
type Options struct {
	Brokers   []string
	Topic     string // the dead-letter topic
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
}

// Letter is one dead letter with its decoded headers.
type Letter struct {
	Partition       int
	Offset          int64
	Time            time.Time
	Key, Value      []byte
	Reason          string
	Rule            string
	Field           string
	SourceTopic     string
	SourcePartition int
	SourceOffset    int64
	// Truncated says what ingest cut to make the letter fit the broker's
	// limit ("" when nothing: see HeaderTruncated); a cut letter
	// cannot be replayed.
	Truncated string
	// Headers are the original message's headers, without trucewatch.dlq.*.
	Headers []kafka.Header
}

func letter(m kafka.Message) Letter {
	l := Letter{Partition: m.Partition, Offset: m.Offset, Time: m.Time, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderReason:
			l.Reason = v
		case HeaderRule:
			l.Rule = v
		case HeaderField:
			l.Field = v
		case HeaderSourceTopic:
			l.SourceTopic = v
		case HeaderSourcePartition:
			l.SourcePartition, _ = strconv.Atoi(v)
		case HeaderSourceOffset:
			l.SourceOffset, _ = strconv.ParseInt(v, 10, 64)
		case HeaderTruncated:
			l.Truncated = v
		default:
			if !strings.HasPrefix(h.Key, "trucewatch.dlq.") {
				l.Headers = append(l.Headers, h)
			}
		}
	}
	return l
}

func (o Options) client() *kafka.Client {
	c := &kafka.Client{Addr: kafka.TCP(o.Brokers...), Timeout: 10 * time.Second}
	if o.Transport != nil {
		c.Transport = o.Transport
	}
	return c
}

// bounds returns, per partition, the first offset and the end (the offset
// the next letter will get) at the time of the call.
func (o Options) bounds(ctx context.Context) (map[int][2]int64, error) {
	c := o.client()
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{o.Topic}})
	if err != nil {
		return nil, fmt.Errorf("dlq: metadata: %w", err)
	}
	if len(md.Topics) == 0 || md.Topics[0].Error != nil {
		if len(md.Topics) > 0 && errors.Is(md.Topics[0].Error, kafka.UnknownTopicOrPartition) {
			return map[int][2]int64{}, nil
		}
		return nil, fmt.Errorf("dlq: topic %s: %v", o.Topic, md.Topics)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{o.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("dlq: list offsets: %w", err)
	}
	out := map[int][2]int64{}
	for _, po := range resp.Topics[o.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("dlq: offsets of partition %d: %w", po.Partition, po.Error)
		}
		out[po.Partition] = [2]int64{po.FirstOffset, po.LastOffset}
	}
	return out, nil
}

// read calls fn for each letter of partition p in [from, end).
func (o Options) read(ctx context.Context, p int, from, end int64, fn func(Letter) error) error {
	if from >= end {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Brokers, Topic: o.Topic, Partition: p, Dialer: o.Dialer, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return err
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("dlq: read partition %d: %w", p, err)
		}
		if m.Offset >= end {
			return nil
		}
		if err := fn(letter(m)); err != nil {
			return err
		}
		if m.Offset == end-1 {
			return nil
		}
	}
}

// Scan calls fn for every letter on the topic when Scan starts.
func Scan(ctx context.Context, o Options, fn func(Letter) error) error {
	b, err := o.bounds(ctx)
	if err != nil {
		return err
	}
	for _, p := range sortedKeys(b) {
		if err := o.read(ctx, p, b[p][0], b[p][1], fn); err != nil {
			return err
		}
	}
	return nil
}

// Summary counts dead letters by why and where.
type Summary struct {
	Total       int
	ByRule      map[string]int // required, range, enum, json, ...
	ByField     map[string]int // "" = the document as a whole
	BySource    map[string]int // source topic/partition
	First, Last time.Time
	// Samples are the first letters seen for each rule.
	Samples []Letter
}

// Inspect summarises the topic, keeping up to samplesPerRule examples.
func Inspect(ctx context.Context, o Options, samplesPerRule int) (Summary, error) {
	s := Summary{ByRule: map[string]int{}, ByField: map[string]int{}, BySource: map[string]int{}}
	err := Scan(ctx, o, func(l Letter) error {
		s.Total++
		if s.ByRule[l.Rule] < samplesPerRule {
			s.Samples = append(s.Samples, l)
		}
		s.ByRule[l.Rule]++
		s.ByField[l.Field]++
		s.BySource[fmt.Sprintf("%s/%d", l.SourceTopic, l.SourcePartition)]++
		if s.First.IsZero() || l.Time.Before(s.First) {
			s.First = l.Time
		}
		if l.Time.After(s.Last) {
			s.Last = l.Time
		}
		return nil
	})
	return s, err
}

// ReplayOptions select what to replay and where to.
type ReplayOptions struct {
	Options
	Target string // the reports topic
	Group  string // progress is committed here (default DefaultReplayGroup)
	Rule   string // only letters that broke this rule ("" = all)
	Field  string // only letters about this field ("" = all)
	DryRun bool   // count what would be replayed, send and commit nothing
}

// ReplayResult counts what Replay did.
type ReplayResult struct {
	Replayed int // sent to the target topic
	Skipped  int // did not match the filters (their offsets are committed)
	Cut      int // cut to fit the dead-letter topic: not replayable, skipped
}

// Replay sends the letters after the group's committed offsets, up to the
// end of the topic when Replay started, back to the target topic, with
// their original key, value and headers. Progress is committed after each
// partition's letters are acknowledged, so an interrupted replay resumes
// where it stopped; a letter may be sent again only if Replay dies
// between the acknowledgement and the commit, and ingest counts a
// report revision once however often it arrives.
func Replay(ctx context.Context, o ReplayOptions) (ReplayResult, error) {
	var res ReplayResult
	if o.Group == "" {
		o.Group = DefaultReplayGroup
	}
	if o.Target == "" {
		return res, errors.New("dlq: replay: no target topic")
	}
	b, err := o.bounds(ctx)
	if err != nil {
		return res, err
	}
	c := o.client()
	parts := sortedKeys(b)
	committed, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: o.Group, Topics: map[string][]int{o.Topic: parts}})
	if err != nil {
		return res, fmt.Errorf("dlq: replay: committed offsets: %w", err)
	}
	from := map[int]int64{}
	for _, p := range committed.Topics[o.Topic] {
		if p.Error == nil && p.CommittedOffset >= 0 {
			from[p.Partition] = p.CommittedOffset
		}
	}
	pub := publish.New(publish.Options{Brokers: o.Brokers, Topic: o.Target, Transport: o.Transport})
	defer pub.Close()
	const chunk = 1000
	for _, p := range parts {
		start := max(b[p][0], from[p])
		end := b[p][1]
		var batch []publish.Message
		next := start
		flush := func() error {
			if !o.DryRun && len(batch) > 0 {
				if err := pub.Write(ctx, batch...); err != nil {
					return err
				}
			}
			res.Replayed += len(batch)
			batch = batch[:0]
			if o.DryRun || next == start {
				return nil
			}
			_, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: o.Group, GenerationID: -1,
				Topics: map[string][]kafka.OffsetCommit{o.Topic: {{Partition: p, Offset: next}}}})
			if err != nil {
				return fmt.Errorf("dlq: replay: commit: %w", err)
			}
			return nil
		}
		err := o.read(ctx, p, start, end, func(l Letter) error {
			next = l.Offset + 1
			if (o.Rule != "" && l.Rule != o.Rule) || (o.Field != "" && l.Field != o.Field) {
				res.Skipped++
				return nil
			}
			if l.Truncated != "" {
				res.Cut++
				return nil
			}
			h := map[string]string{HeaderReplayedFrom: fmt.Sprintf("%s/%d/%d", o.Topic, l.Partition, l.Offset)}
			for _, kh := range l.Headers {
				h[kh.Key] = string(kh.Value)
			}
			batch = append(batch, publish.Message{Key: l.Key, Value: l.Value, Headers: h})
			if len(batch) >= chunk {
				return flush()
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		if err := flush(); err != nil {
			return res, err
		}
	}
	return res, nil
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}
