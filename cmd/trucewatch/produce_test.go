package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafka/broker"
)

// TestProduceFileOrder sends a file in which every report has four
// revisions, each 5,001 lines after the one before (so in different
// chunks and possibly different lanes), and reads the topic back: every
// line arrives once, keyed by its id, and the revisions of each report are
// in file order on their one partition.
func TestProduceFileOrder(t *testing.T) {
	const ids, revisions = 5001, 4
	b, err := broker.Start(broker.Options{Topics: []string{"ordered"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	var file strings.Builder
	for rev := 1; rev <= revisions; rev++ {
		for id := range ids {
			fmt.Fprintf(&file, `{"id":"r-%d","revision":%d,"observed_at":"2017-03-01T10:00:00Z","lat":35.9,"lon":36.6,"category":"airstrike"}`+"\n", id, rev)
		}
	}
	file.WriteString("not json at all\n\n{\"no_id\":true}\n")
	var out, errOut bytes.Buffer
	std := stdio{in: strings.NewReader(file.String()), out: &out, err: &errOut}
	if code := run([]string{"produce", "--file", "-", "--brokers", addr, "--topic", "ordered"}, std); code != 0 {
		t.Fatalf("produce exited %d: %s", code, errOut.String())
	}
	if want := fmt.Sprintf("produced %d reports", ids*revisions+2); !strings.Contains(errOut.String(), want) {
		t.Fatalf("produce said %q, want %q", errOut.String(), want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions("ordered")
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}   // key -> last revision seen
	partOf := map[string]int{} // key -> partition
	total, keyless := 0, 0
	for _, p := range parts {
		lc, err := kafka.DialLeader(ctx, "tcp", addr, "ordered", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		end, err := lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "ordered", Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d: %v", p.ID, err)
			}
			total++
			var v struct {
				ID       string `json:"id"`
				Revision int    `json:"revision"`
			}
			if json.Unmarshal(m.Value, &v) != nil || v.ID == "" {
				if len(m.Key) != 0 {
					t.Errorf("line without an id got key %q", m.Key)
				}
				keyless++
			} else {
				if string(m.Key) != v.ID {
					t.Errorf("report %s has key %q", v.ID, m.Key)
				}
				if q, ok := partOf[v.ID]; ok && q != p.ID {
					t.Errorf("report %s on partitions %d and %d", v.ID, q, p.ID)
				}
				partOf[v.ID] = p.ID
				if v.Revision != last[v.ID]+1 {
					t.Errorf("report %s: revision %d after %d", v.ID, v.Revision, last[v.ID])
				}
				last[v.ID] = v.Revision
			}
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
	}
	if total != ids*revisions+2 || keyless != 2 || len(last) != ids {
		t.Errorf("read %d messages (%d without id) for %d reports, want %d (2) for %d", total, keyless, len(last), ids*revisions+2, ids)
	}
}
