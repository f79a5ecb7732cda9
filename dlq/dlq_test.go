package dlq_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/dlq"
	"github.com/trucewatch/trucewatch/kafka/broker"
)

func TestInspectAndReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := broker.Start(broker.Options{Topics: []string{"reports", "reports.dlq"}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "reports.dlq", Balancer: &kafka.RoundRobin{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := range 30 {
		rule, field := "range", "lat"
		if i%3 == 0 {
			rule, field = "enum", "category"
		}
		msgs = append(msgs, kafka.Message{Key: []byte("r" + strconv.Itoa(i)), Value: []byte(`{"id":"r` + strconv.Itoa(i) + `"}`), Headers: []kafka.Header{
			{Key: "origin", Value: []byte("field-app")},
			{Key: dlq.HeaderReason, Value: []byte(field + ": " + rule + ": bad")},
			{Key: dlq.HeaderRule, Value: []byte(rule)},
			{Key: dlq.HeaderField, Value: []byte(field)},
			{Key: dlq.HeaderSourceTopic, Value: []byte("reports")},
			{Key: dlq.HeaderSourcePartition, Value: []byte("1")},
			{Key: dlq.HeaderSourceOffset, Value: []byte(strconv.Itoa(100 + i))},
		}})
		if i == 0 { // cut to fit the dead-letter topic: not the original, never replayed
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: dlq.HeaderTruncated, Value: []byte("value")})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	o := dlq.Options{Brokers: []string{addr}, Topic: "reports.dlq"}
	s, err := dlq.Inspect(ctx, o, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 30 || s.ByRule["enum"] != 10 || s.ByRule["range"] != 20 || s.ByField["category"] != 10 || s.BySource["reports/1"] != 30 || len(s.Samples) != 4 {
		t.Fatalf("summary %+v", s)
	}

	ro := dlq.ReplayOptions{Options: o, Target: "reports", Rule: "enum"}
	dry := ro
	dry.DryRun = true
	if res, err := dlq.Replay(ctx, dry); err != nil || res.Replayed != 9 || res.Cut != 1 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	res, err := dlq.Replay(ctx, ro)
	if err != nil || res.Replayed != 9 || res.Skipped != 20 || res.Cut != 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	// A second run finds nothing new: progress was committed.
	if res, err := dlq.Replay(ctx, ro); err != nil || res.Replayed != 0 {
		t.Fatalf("second replay: %+v %v", res, err)
	}
	// What arrived on the reports topic: the original key, value and
	// headers, marked as replayed, without the dead-letter headers.
	got := 0
	for p := range 3 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "reports", Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			m, err := r.FetchMessage(rctx)
			rcancel()
			if err != nil {
				break
			}
			got++
			h := map[string]string{}
			for _, x := range m.Headers {
				h[x.Key] = string(x.Value)
			}
			if h["origin"] != "field-app" || h[dlq.HeaderReplayedFrom] == "" || h[dlq.HeaderReason] != "" || string(m.Value) != `{"id":"`+string(m.Key)+`"}` {
				t.Errorf("replayed message %s %s %v", m.Key, m.Value, h)
			}
		}
		r.Close()
	}
	if got != 9 {
		t.Fatalf("%d messages on reports, want 9", got)
	}
}
