package ingest_test

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

func (e *env) produce(feed *synth.Feed, n int) []string {
	e.t.Helper()
	pub := publish.New(publish.Options{Brokers: []string{e.addr}, Topic: "reports"})
	defer pub.Close()
	var ids []string
	var msgs []publish.Message
	for range n {
		m := feed.Next()
		ids = append(ids, m.Report.ID)
		msgs = append(msgs, publish.Message{Key: m.Key, Value: m.Value})
	}
	if err := pub.Write(e.ctx, msgs...); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func (e *env) wantStored(ids []string) {
	e.t.Helper()
	got := e.current()
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			e.t.Errorf("report %s not stored", id)
		}
	}
}

// TestRecreatedTopic deletes the reports topic after it was ingested and
// creates it again: its offsets start from zero, below what the store
// holds, and the new messages must be stored, not skipped as done.
func TestRecreatedTopic(t *testing.T) {
	e := newEnv(t)
	first := e.produce(synth.New(synth.Options{Seed: 11, IDPrefix: "old"}), 3000)
	e.ingest("recreate")
	c := &kafka.Client{Addr: kafka.TCP(e.addr)}
	if _, err := c.DeleteTopics(e.ctx, &kafka.DeleteTopicsRequest{Topics: []string{"reports"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := c.CreateTopics(e.ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "reports", NumPartitions: 6, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	second := e.produce(synth.New(synth.Options{Seed: 12, IDPrefix: "new"}), 600)
	e.ingest("recreate")
	e.wantStored(append(first, second...))
	if n := len(e.current()); n != len(first)+len(second) {
		t.Errorf("%d reports stored, want %d", n, len(first)+len(second))
	}
}

// TestWipedBroker ingests from one broker, then from a new, empty broker
// (another cluster id) with the same topic name, into the same store: the
// new cluster's offsets must not be mistaken for the old one's.
func TestWipedBroker(t *testing.T) {
	e := newEnv(t)
	first := e.produce(synth.New(synth.Options{Seed: 21, IDPrefix: "before"}), 2000)
	e.ingest("wiped")
	b2, err := broker.Start(broker.Options{Topics: []string{"reports", "reports.dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	e.broker.Close()
	e.broker, e.addr = b2, b2.Addrs()[0]
	second := e.produce(synth.New(synth.Options{Seed: 22, IDPrefix: "after"}), 500)
	e.ingest("wiped")
	e.wantStored(append(first, second...))
}
