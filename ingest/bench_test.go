package ingest_test

import (
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

// BenchmarkDeadLetters ingests 15,000 malformed messages (issue 10's
// `produce --synthetic 15000 --malformed 1`, which stalled ingest for ever)
// and prints the dead letters written per second, the wait for idleness
// excluded. make bench-dlq runs it.
func BenchmarkDeadLetters(b *testing.B) {
	const n = 15000
	for range b.N {
		b.StopTimer()
		e := newEnv(b)
		feed := synth.New(synth.Options{Seed: 1, IDPrefix: "bad", Malformed: 1})
		msgs := make([]publish.Message, n)
		for i := range msgs {
			m := feed.Next()
			msgs[i] = publish.Message{Key: m.Key, Value: m.Value}
		}
		pub := publish.New(publish.Options{Brokers: []string{e.addr}, Topic: "reports"})
		if err := pub.Write(e.ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		pub.Close()
		idle := 2 * time.Second
		b.StartTimer()
		start := time.Now()
		st := e.run(ingest.Options{ExitWhenIdle: idle}, 5*time.Minute)
		took := time.Since(start) - idle
		b.StopTimer()
		if st.DeadLettered != n {
			b.Fatalf("%d dead letters, want %d", st.DeadLettered, n)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "letters/s")
		b.ReportMetric(took.Seconds(), "s/15000")
	}
}
