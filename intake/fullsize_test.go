package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/report"
)

// A request at the documented limits (1,000 reports with 3,900-character
// Arabic descriptions, 7.9 MB) is accepted: the producer keeps each produce
// request under the broker's message limit instead of failing with 503
// for ever.
func TestFullSizeRequest(t *testing.T) {
	e := newEnv(t, nil)
	feed := synth.New(synth.Options{Seed: 1, IDPrefix: "full"})
	var body bytes.Buffer
	for range 1000 {
		r := feed.Report()
		r.Description = strings.Repeat("د", 3900) // Arabic: two bytes a character
		b, _ := json.Marshal(r)
		body.Write(b)
		body.WriteByte('\n')
	}
	if body.Len() < 7_800_000 || body.Len() > 8<<20 {
		t.Fatalf("body of %d bytes, want a full-size request under 8 MiB", body.Len())
	}
	res := e.post(t, e.keyA, "application/x-ndjson", body.Bytes())
	if res.status != http.StatusAccepted || len(res.resp.Accepted) != 1000 {
		t.Fatalf("status %d, %d accepted; body %.300s", res.status, len(res.resp.Accepted), res.body)
	}
	n := 0
	for p := range 3 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.addr}, Topic: topic, Partition: p, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				break
			}
			if _, err := report.Decode(m.Value, time.Now()); err != nil {
				t.Fatalf("stored report does not decode: %v", err)
			}
			n++
		}
		cancel()
		r.Close()
	}
	if n != 1000 {
		t.Errorf("%d reports on the topic, want 1000", n)
	}
}
