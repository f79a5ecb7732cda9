package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafka/broker"
)

func clusterID(t *testing.T, addr string) string {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 5 * time.Second}
	md, err := c.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{"reports"}})
	if err != nil {
		t.Fatal(err)
	}
	return md.ClusterID
}

// TestDataDirPersists checks what the demo relies on: a broker restarted on
// the same data directory keeps its topics, messages and cluster id, and a
// fresh one gets a different cluster id.
func TestDataDirPersists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	b, err := broker.Start(broker.Options{DataDir: dir, Topics: []string{"reports"}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	id := clusterID(t, addr)
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "reports", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("a"), Value: []byte("1")}, kafka.Message{Key: []byte("b"), Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b.Close()

	b2, err := broker.Start(broker.Options{DataDir: dir, Topics: []string{"reports"}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	addr2 := b2.Addrs()[0]
	if got := clusterID(t, addr2); got != id {
		t.Errorf("cluster id after restart %q, want %q", got, id)
	}
	total := int64(0)
	c := &kafka.Client{Addr: kafka.TCP(addr2)}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{"reports": {kafka.LastOffsetOf(0), kafka.LastOffsetOf(1)}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics["reports"] {
		total += p.LastOffset
	}
	if total != 2 {
		t.Errorf("%d messages after restart, want 2", total)
	}

	fresh, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if clusterID(t, fresh.Addrs()[0]) == id {
		t.Error("a fresh broker reuses the cluster id")
	}
}
