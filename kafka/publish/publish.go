// Package publish puts messages on a topic the way every producer of
// trucewatch must: keyed by report id, partitioned with murmur2 (the Java
// client's default, so the same id lands on the same partition whichever
// client sent it), acknowledged by all in-sync replicas, and in produce
// requests the broker accepts.
//
// A broker refuses a record batch larger than the topic's
// max.message.bytes (the broker's message.max.bytes unless the topic
// overrides it). The Publisher asks the broker for that limit before its
// first write and never builds a batch above it; when the broker still
// refuses (the limit was lowered meanwhile), it asks again and sends the
// refused messages in smaller batches. A single message that cannot fit
// even alone is refused before it is sent, with a *TooLargeError.
package publish

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultMaxMessageBytes is Kafka's default message.max.bytes, used when
// the broker does not say (no DescribeConfigs permission, no topic yet).
const DefaultMaxMessageBytes = 1048588

// batchOverhead is what a record batch adds to its records: the v2 header
// (61 bytes) and a margin for the difference between kafka-go's estimate of
// a record and its encoding.
const batchOverhead = 61 + 512

// Options configure a Publisher. Brokers and Topic are required.
type Options struct {
	Brokers   []string
	Topic     string
	Transport *kafka.Transport // TLS/SASL; nil = plain TCP
	// BatchSize is how many messages the client groups into one produce
	// request (default 1000).
	BatchSize int
	// Balancer picks a message's partition (default: murmur2 of the key).
	Balancer kafka.Balancer
	// BatchTimeout is how long a partial batch waits (default 5ms).
	BatchTimeout time.Duration
	// MaxMessageBytes overrides the limit asked from the broker (tests).
	MaxMessageBytes int
}

// Publisher writes messages synchronously: Write returns once every
// message is acknowledged, or an error when any is not.
type Publisher struct {
	o Options

	mu    sync.Mutex
	w     *kafka.Writer
	limit int // bytes of one record batch the broker takes; 0 = not asked yet
	// old are writers replaced after a refusal; a concurrent Write may
	// still use one, so they close with the Publisher.
	old          []*kafka.Writer
	ownTransport bool
}

// New returns a Publisher. It connects at the first write.
func New(o Options) *Publisher {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Balancer == nil {
		o.Balancer = kafka.Murmur2Balancer{}
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 5 * time.Millisecond
	}
	p := &Publisher{o: o}
	if o.Transport == nil {
		// Our own, not kafka-go's shared default, so that Close can close
		// its idle connections.
		p.o.Transport, p.ownTransport = &kafka.Transport{}, true
	}
	return p
}

// Message is one report to publish.
type Message struct {
	Key     []byte
	Value   []byte
	Headers map[string]string
}

// TooLargeError is a message that does not fit in a record batch of the
// topic even alone. It is permanent: sending it again cannot help.
type TooLargeError struct {
	Index       int // in the messages given to WriteMessages
	Size, Limit int // RecordSize of the message, MaxRecordBytes of the topic
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("publish: message %d is %d bytes, more than the %d a record batch of the topic can hold", e.Index, e.Size, e.Limit)
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
	return p.WriteMessages(ctx, km...)
}

// WriteMessages publishes Kafka messages as they are (headers in order, the
// Time when set) and waits for their acknowledgements.
func (p *Publisher) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	w, limit, err := p.writer(ctx, 0)
	if err != nil {
		return err
	}
	if err := fitAlone(msgs, limit); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := w.WriteMessages(ctx, msgs...)
		refused := tooLarge(err, msgs)
		if refused == nil || attempt == 3 {
			if err != nil {
				return fmt.Errorf("publish: write %d messages: %w", len(msgs), err)
			}
			return nil
		}
		// The broker refused batches as too large: its limit is lower than
		// the one asked at the start. Ask again and resend only the refused
		// messages (the others were acknowledged) in smaller batches.
		if w, limit, err = p.writer(ctx, limit); err != nil {
			return err
		}
		if err := fitAlone(refused, limit); err != nil {
			return err
		}
		msgs = refused
	}
}

// fitAlone says which message, if any, cannot fit alone in a record batch
// of limit bytes.
func fitAlone(msgs []kafka.Message, limit int) error {
	for i := range msgs {
		if n := RecordSize(msgs[i]); n > MaxRecordBytes(limit) {
			return &TooLargeError{Index: i, Size: n, Limit: MaxRecordBytes(limit)}
		}
	}
	return nil
}

// tooLarge returns the messages the broker refused as too large, or nil
// when err has no such refusal.
func tooLarge(err error, msgs []kafka.Message) []kafka.Message {
	var we kafka.WriteErrors
	if !errors.As(err, &we) || len(we) != len(msgs) {
		return nil
	}
	var out []kafka.Message
	for i, e := range we {
		if errors.Is(e, kafka.MessageSizeTooLarge) {
			out = append(out, msgs[i])
		} else if e != nil {
			return nil // another failure: let the caller retry the whole write
		}
	}
	return out
}

// MaxMessageBytes returns the topic's limit on a record batch, asking the
// broker the first time.
func (p *Publisher) MaxMessageBytes(ctx context.Context) (int, error) {
	_, limit, err := p.writer(ctx, 0)
	return limit, err
}

// writer returns the writer, built for the broker's current limit.
// refusedAt, when not 0, is a limit the broker refused batches under: the
// limit is asked again, and halved if the broker still says the same.
func (p *Publisher) writer(ctx context.Context, refusedAt int) (*kafka.Writer, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil && (refusedAt == 0 || p.limit < refusedAt) {
		return p.w, p.limit, nil
	}
	limit, err := p.askLimit(ctx)
	if err != nil {
		return nil, 0, err
	}
	if refusedAt != 0 && limit >= refusedAt {
		limit = refusedAt / 2
	}
	if p.w != nil {
		p.old = append(p.old, p.w)
	}
	p.limit = limit
	p.w = &kafka.Writer{
		Addr:                   kafka.TCP(p.o.Brokers...),
		Topic:                  p.o.Topic,
		Balancer:               p.o.Balancer,
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              p.o.BatchSize,
		BatchBytes:             int64(MaxRecordBytes(limit)),
		BatchTimeout:           p.o.BatchTimeout,
		AllowAutoTopicCreation: true,
		Transport:              roundTripper(p.o.Transport),
		MaxAttempts:            5,
	}
	return p.w, limit, nil
}

// askLimit reads max.message.bytes of the topic from the broker. A broker
// that does not answer it (no such topic yet, no permission, no support)
// gets Kafka's default; a network failure is an error.
func (p *Publisher) askLimit(ctx context.Context) (int, error) {
	if p.o.MaxMessageBytes > 0 {
		return p.o.MaxMessageBytes, nil
	}
	c := &kafka.Client{Addr: kafka.TCP(p.o.Brokers...), Transport: roundTripper(p.o.Transport), Timeout: 10 * time.Second}
	// All the topic's configs: besides max.message.bytes, some brokers
	// (kfake) list the broker's message.max.bytes there, which then binds.
	resp, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: p.o.Topic,
	}}})
	if err != nil {
		var ke kafka.Error
		if errors.As(err, &ke) {
			return DefaultMaxMessageBytes, nil
		}
		return 0, fmt.Errorf("publish: ask the broker for max.message.bytes of %s: %w", p.o.Topic, err)
	}
	limit := 0
	for _, r := range resp.Resources {
		if r.Error != nil {
			continue
		}
		for _, e := range r.ConfigEntries {
			n, err := strconv.Atoi(e.ConfigValue)
			if err == nil && (e.ConfigName == "max.message.bytes" || e.ConfigName == "message.max.bytes") && n > batchOverhead && (limit == 0 || n < limit) {
				limit = n
			}
		}
	}
	if limit == 0 {
		return DefaultMaxMessageBytes, nil
	}
	return limit, nil
}

// MaxRecordBytes is the largest RecordSize a message may have to be sent
// in a record batch of at most limit bytes.
func MaxRecordBytes(limit int) int { return limit - batchOverhead }

// RecordSize bounds the bytes a message takes in a record batch: key,
// value and headers with the most their length prefixes can take. It is
// at least kafka-go's own estimate, which decides how it fills batches.
func RecordSize(m kafka.Message) int {
	n := 36 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// IsPermanent reports whether a write failed for a reason that sending
// again cannot fix: a message too large for the topic, no permission, an
// invalid topic. Network failures, timeouts and leader moves are not.
func IsPermanent(err error) bool {
	var tl *TooLargeError
	if errors.As(err, &tl) {
		return true
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && IsPermanent(e) {
				return true
			}
		}
		return false
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidTopic,
			kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed,
			kafka.SASLAuthenticationFailed, kafka.InvalidRecord, kafka.UnsupportedVersion:
			return true
		}
	}
	return false
}

// Close flushes and closes the connection pool.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, w := range append(p.old, p.w) {
		if w != nil {
			errs = append(errs, w.Close())
		}
	}
	if p.ownTransport {
		p.o.Transport.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// roundTripper keeps a nil *kafka.Transport from becoming a non-nil
// interface, which kafka-go would call.
func roundTripper(t *kafka.Transport) kafka.RoundTripper {
	if t == nil {
		return nil
	}
	return t
}
