package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

func startBroker(t *testing.T, extra ...kfake.Opt) string {
	t.Helper()
	b, err := broker.Start(broker.Options{Topics: []string{"reports"}, Partitions: 3, Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()[0]
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// readAll returns the values of every message on the topic, per partition
// in order.
func readAll(t *testing.T, addr string, want int) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	n := 0
	for p := range 3 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "reports", Partition: p, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				break
			}
			out[p] = append(out[p], string(m.Value))
			n++
		}
		cancel()
		r.Close()
	}
	if n != want {
		t.Fatalf("%d messages on the topic, want %d", n, want)
	}
	return out
}

// The limit comes from the broker, and a write of many times it goes out
// in produce requests under it; a message that cannot fit alone is refused
// before it is sent.
func TestWriteUnderTheBrokersLimit(t *testing.T) {
	const limit = 100_000
	addr := startBroker(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(limit)}))
	p := publish.New(publish.Options{Brokers: []string{addr}, Topic: "reports"})
	defer p.Close()
	ctx := ctxT(t)
	got, err := p.MaxMessageBytes(ctx)
	if err != nil || got != limit {
		t.Fatalf("MaxMessageBytes = %d, %v; want %d from the broker", got, err, limit)
	}
	var msgs []publish.Message
	for i := range 200 { // 200 x 5 KB: ten times the limit
		msgs = append(msgs, publish.Message{Key: []byte(fmt.Sprint(i)), Value: bytes.Repeat([]byte("x"), 5000)})
	}
	if err := p.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	readAll(t, addr, 200)
	err = p.Write(ctx, publish.Message{Key: []byte("big"), Value: bytes.Repeat([]byte("x"), limit)})
	var tl *publish.TooLargeError
	if !errors.As(err, &tl) || !publish.IsPermanent(err) {
		t.Fatalf("a message over the limit: %v, want a permanent *TooLargeError", err)
	}
}

// Stream keeps the order of each key's messages across its lanes, and
// NDJSON keys each line by its id.
func TestStream(t *testing.T) {
	addr := startBroker(t)
	p := publish.New(publish.Options{Brokers: []string{addr}, Topic: "reports"})
	defer p.Close()
	var lines []string
	for i := range 30_000 {
		lines = append(lines, fmt.Sprintf(`{"id":"r%d","revision":%d}`, i%1000, i/1000+1))
	}
	lines = append(lines, "", `not json`)
	src := publish.NDJSON(strings.NewReader(strings.Join(lines, "\n")), 1<<20)
	n, err := publish.Stream(ctxT(t), p, src, 0)
	if err != nil || n != 30_001 {
		t.Fatalf("Stream = %d, %v; want 30001", n, err)
	}
	last := map[string]int{}
	for _, vs := range readAll(t, addr, 30_001) {
		for _, v := range vs {
			var r struct {
				ID       string
				Revision int
			}
			if json.Unmarshal([]byte(v), &r) != nil {
				continue // the line that is not JSON
			}
			if r.Revision <= last[r.ID] {
				t.Fatalf("%s: revision %d after %d", r.ID, r.Revision, last[r.ID])
			}
			last[r.ID] = r.Revision
		}
	}
	_, _, err = publish.NDJSON(strings.NewReader(strings.Repeat("x", 100)), 10)()
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a line over the limit: %v", err)
	}
}
