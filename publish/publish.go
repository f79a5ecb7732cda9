// Package publish puts reports on the reports topic the way every producer
// of trucewatch must: keyed by report id, partitioned with murmur2 (the
// Java client's default, so the same id lands on the same partition
// whichever client sent it), acknowledged by all in-sync replicas.
package publish

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Options configure a Publisher. Brokers and Topic are required.
type Options struct {
	Brokers   []string
	Topic     string
	Transport *kafka.Transport // TLS/SASL; nil = plain TCP
	// BatchSize is how many messages the client groups into one produce
	// request (default 1000).
	BatchSize int
}

// Publisher writes messages synchronously: Write returns once every
// message is acknowledged, or an error when any is not.
type Publisher struct {
	w *kafka.Writer
}

// New returns a Publisher.
func New(o Options) *Publisher {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	return &Publisher{w: &kafka.Writer{
		Addr:                   kafka.TCP(o.Brokers...),
		Topic:                  o.Topic,
		Balancer:               kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              o.BatchSize,
		BatchBytes:             16 << 20,
		BatchTimeout:           5 * time.Millisecond,
		AllowAutoTopicCreation: true,
		Transport:              roundTripper(o.Transport),
		MaxAttempts:            5,
	}}
}

// Message is one report to publish.
type Message struct {
	Key     []byte
	Value   []byte
	Headers map[string]string
}

// Write publishes msgs and waits for their acknowledgements.
func (p *Publisher) Write(ctx context.Context, msgs ...Message) error {
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value}
		for k, v := range m.Headers {
			km[i].Headers = append(km[i].Headers, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	if err := p.w.WriteMessages(ctx, km...); err != nil {
		return fmt.Errorf("publish: write %d messages: %w", len(msgs), err)
	}
	return nil
}

// Close flushes and closes the connection pool.
func (p *Publisher) Close() error { return p.w.Close() }

// roundTripper keeps a nil *kafka.Transport from becoming a non-nil
// interface, which kafka-go would call.
func roundTripper(t *kafka.Transport) kafka.RoundTripper {
	if t == nil {
		return nil
	}
	return t
}
