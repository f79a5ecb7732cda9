package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/dlq"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

// newDLQWriter returns the dead-letter producer. Dead letters of a source
// partition all go to one dead-letter partition (dlqPartition), in order,
// so that the tail of one dead-letter partition holds the latest dead
// letters of its source partitions: that is what lets a retried or redone
// batch see which of its dead letters already landed.
func newDLQWriter(o Options) *publish.Publisher {
	return publish.New(publish.Options{
		Brokers:   o.Brokers,
		Topic:     o.DLQTopic,
		Transport: o.Transport,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
			p, _ := strconv.Atoi(header(m.Headers, dlq.HeaderSourcePartition))
			return partitions[dlq.PartitionFor(o.Topic, header(m.Headers, dlq.HeaderSourceTopic), p, len(partitions))]
		}),
		BatchSize:    10_000,
		BatchTimeout: time.Millisecond,
	})
}

// deadLettered returns the source offsets at or after from, of source
// partition src, that already have a dead letter. Dead letters of one
// source partition are written in offset order to one dead-letter
// partition, so it reads that partition backwards from its end, a chunk at
// a time, until it meets a letter of src older than from. Dead letters are
// rare, so this is a short read.
func (in *Ingester) deadLettered(ctx context.Context, topic string, src int, from int64) (map[int64]bool, error) {
	c := &kafka.Client{Addr: kafka.TCP(in.o.Brokers...), Transport: roundTripper(in.o.Transport), Timeout: 10 * time.Second}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{in.o.DLQTopic}})
	if err != nil {
		return nil, fmt.Errorf("dead-letter metadata: %w", err)
	}
	found := map[int64]bool{}
	if len(md.Topics) == 0 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0 {
		return found, nil // no topic yet: nothing landed
	}
	dlqPart := dlq.PartitionFor(in.o.Topic, topic, src, len(md.Topics[0].Partitions))
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
	if hi <= lo {
		return found, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: in.o.Brokers, Topic: in.o.DLQTopic, Partition: dlqPart, MaxBytes: 16 << 20,
		Dialer: in.o.Dialer, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	const chunk = 1000
	for end := hi; end > lo; {
		start := max(lo, end-chunk)
		if err := r.SetOffset(start); err != nil {
			return nil, err
		}
		older := false
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read dead letters: %w", err)
			}
			if m.Offset >= end {
				break
			}
			if header(m.Headers, dlq.HeaderSourceTopic) == topic && header(m.Headers, dlq.HeaderSourcePartition) == strconv.Itoa(src) {
				if off, err := strconv.ParseInt(header(m.Headers, dlq.HeaderSourceOffset), 10, 64); err == nil {
					if off >= from {
						found[off] = true
					} else {
						older = true
					}
				}
			}
			if m.Offset >= end-1 {
				break
			}
		}
		if older {
			break
		}
		end = start
	}
	return found, nil
}
