package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/publish"
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
			p, _ := strconv.Atoi(header(m.Headers, HeaderSourcePartition))
			return partitions[dlqPartition(o.Topic, header(m.Headers, HeaderSourceTopic), p, len(partitions))]
		}),
		BatchSize:    10_000,
		BatchTimeout: time.Millisecond,
	})
}

// dlqPartition is the index of the dead-letter partition that takes the
// letters of partition p of topic, among n. The reports topic keeps the
// plain p mod n it always had; a partner topic is spread by its name.
func dlqPartition(reports, topic string, p, n int) int {
	if topic != reports {
		h := fnv.New32a()
		h.Write([]byte(topic))
		p += int(h.Sum32() % uint32(n))
	}
	return p % n
}

// Headers a cut dead letter carries (see fitLetter).
const (
	HeaderTruncated      = "trucewatch.dlq.truncated"       // what was cut: value, headers, key, reason
	HeaderOriginalSize   = "trucewatch.dlq.original.size"   // bytes of the original value
	HeaderOriginalSHA256 = "trucewatch.dlq.original.sha256" // hex SHA-256 of the original value
)

// fitLetter makes a dead letter fit in a record batch of the dead-letter
// topic (max bytes, from publish.MaxRecordBytes). A letter is its message
// plus headers, so a message near the broker's limit cannot go as it is:
// its value is cut, and if that is not enough its original headers, its
// key and the reason too, in that order. A cut letter says what was cut,
// the original value's size and its SHA-256, so that an operator can find
// and fetch the original (its source topic, partition and offset stay).
func fitLetter(m kafka.Message, limit int) kafka.Message {
	if publish.RecordSize(m) <= limit {
		return m
	}
	sum := sha256.Sum256(m.Value)
	var cut []string
	var hs, original []kafka.Header
	for _, h := range m.Headers {
		if strings.HasPrefix(h.Key, "trucewatch.dlq.") {
			hs = append(hs, h)
		} else {
			original = append(original, h)
		}
	}
	hs = append(hs,
		kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(m.Value)))},
		kafka.Header{Key: HeaderOriginalSHA256, Value: []byte(hex.EncodeToString(sum[:]))},
		kafka.Header{Key: HeaderTruncated, Value: []byte("value,headers,key,reason")}, // the longest value it can take
	)
	out := kafka.Message{Key: m.Key, Value: m.Value, Headers: append(hs, original...)}
	over := func() int { return publish.RecordSize(out) - limit }
	cut = append(cut, "value")
	if n := over(); n < len(m.Value) {
		out.Value = m.Value[:len(m.Value)-max(n, 0)]
	} else {
		out.Value, out.Headers = nil, hs
		cut = append(cut, "headers")
		if n := over(); n > 0 {
			out.Key = out.Key[:len(out.Key)-min(n, len(out.Key))]
			cut = append(cut, "key")
		}
		if n := over(); n > 0 {
			for i := range out.Headers {
				if out.Headers[i].Key == HeaderReason {
					v := out.Headers[i].Value
					out.Headers[i].Value = v[:len(v)-min(n, len(v))]
				}
			}
			cut = append(cut, "reason")
		}
	}
	for i := range out.Headers {
		if out.Headers[i].Key == HeaderTruncated {
			out.Headers[i].Value = []byte(strings.Join(cut, ","))
		}
	}
	return out
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
	dlqPart := dlqPartition(in.o.Topic, topic, src, len(md.Topics[0].Partitions))
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
			if header(m.Headers, HeaderSourceTopic) == topic && header(m.Headers, HeaderSourcePartition) == strconv.Itoa(src) {
				if off, err := strconv.ParseInt(header(m.Headers, HeaderSourceOffset), 10, 64); err == nil {
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
