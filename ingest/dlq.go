package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// newDLQWriter returns the dead-letter producer. Dead letters of source
// partition p go to dead-letter partition p (mod its partition count), in
// order, so that the tail of one dead-letter partition holds the latest
// dead letters of its source partitions: that is what lets a retried or
// redone batch see which of its dead letters already landed.
func newDLQWriter(o Options) *kafka.Writer {
	return &kafka.Writer{
		Addr:  kafka.TCP(o.Brokers...),
		Topic: o.DLQTopic,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
			p, _ := strconv.Atoi(header(m.Headers, HeaderSourcePartition))
			return partitions[p%len(partitions)]
		}),
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           time.Millisecond,
		BatchSize:              10_000,
		BatchBytes:             64 << 20,
		AllowAutoTopicCreation: true,
		Transport:              roundTripper(o.Transport),
	}
}

// deadLettered returns the source offsets in [first, last] of partition
// src that already have a dead letter. It reads only the tail of the
// dead-letter partition: a batch's dead letters are the newest of its
// source partition, and at most last-first+1 of them exist.
func (in *Ingester) deadLettered(ctx context.Context, srcPartition int, first, last int64) (map[int64]bool, error) {
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: roundTripper(in.o.Transport), Timeout: 10 * time.Second}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{in.o.DLQTopic}})
	if err != nil {
		return nil, fmt.Errorf("dead-letter metadata: %w", err)
	}
	if len(md.Topics) == 0 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0 {
		return map[int64]bool{}, nil // no topic yet: nothing landed
	}
	dlqPart := srcPartition % len(md.Topics[0].Partitions)
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		in.o.DLQTopic: {kafka.FirstOffsetOf(dlqPart), kafka.LastOffsetOf(dlqPart)},
	}})
	if err != nil {
		return nil, fmt.Errorf("dead-letter offsets: %w", err)
	}
	var lo, hi int64
	for _, po := range resp.Topics[in.o.DLQTopic] {
		if po.Partition == dlqPart {
			if po.Error != nil {
				return nil, fmt.Errorf("dead-letter offsets: %w", po.Error)
			}
			lo, hi = po.FirstOffset, po.LastOffset
		}
	}
	// Other source partitions may share this dead-letter partition; the
	// margin covers their interleaved letters.
	window := 4*(last-first+1) + 1000
	from := max(lo, hi-window)
	found := map[int64]bool{}
	if from >= hi {
		return found, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: in.o.Brokers, Topic: in.o.DLQTopic, Partition: dlqPart, Dialer: in.o.Dialer, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return nil, err
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		if header(m.Headers, HeaderSourceTopic) == in.o.Topic && header(m.Headers, HeaderSourcePartition) == strconv.Itoa(srcPartition) {
			if off, err := strconv.ParseInt(header(m.Headers, HeaderSourceOffset), 10, 64); err == nil && off >= first && off <= last {
				found[off] = true
			}
		}
		if m.Offset >= hi-1 {
			return found, nil
		}
	}
}
