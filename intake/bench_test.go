package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/intake"
	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

// The gateway benchmark and the direct one send the same reports (synth
// seed 1) in batches of benchBatch from benchClients concurrent clients to
// a fresh in-process broker with the default partition count. b.N counts
// batches: run them with -benchtime Nx, e.g.
//
//	go test ./intake -run '^$' -bench 'Intake|DirectProduce' -benchtime 200x
const (
	benchClients = 16
	benchBatch   = 500
	benchBatches = 64 // distinct batches, reused round-robin
)

// benchRates keeps the last figure of each benchmark, for the ratio that
// TestMain prints.
var benchRates struct {
	sync.Mutex
	intake, direct, command float64
}

// TestMain prints the benchmarks' ratio and checks that no goroutine
// outlived the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	benchRates.Lock()
	if r := &benchRates; r.intake > 0 {
		fmt.Printf("intake gateway: %.0f reports/s\n", r.intake)
		if r.command > 0 {
			fmt.Printf("trucewatch produce --file: %.0f reports/s; gateway at %.0f%% of it (target >= 50%%)\n", r.command, 100*r.intake/r.command)
		}
		if r.direct > 0 {
			fmt.Printf("16 in-process publishers: %.0f reports/s; gateway at %.0f%% of them\n", r.direct, 100*r.intake/r.direct)
		}
	}
	benchRates.Unlock()
	os.Exit(chtest.Leaks(code))
}

var benchData = sync.OnceValue(func() [][]publish.Message {
	f := synth.New(synth.Options{Seed: 1})
	out := make([][]publish.Message, benchBatches)
	for i := range out {
		out[i] = make([]publish.Message, benchBatch)
		for j := range out[i] {
			m := f.Next()
			out[i][j] = publish.Message{Key: m.Key, Value: m.Value}
		}
	}
	return out
})

func benchBroker(b *testing.B) string {
	b.Helper()
	br, err := broker.Start(broker.Options{Topics: []string{topic}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	return br.Addrs()[0]
}

// runClients runs send for batches 0..b.N-1 from benchClients goroutines
// and returns the accepted reports per second.
func runClients(b *testing.B, send func(ctx context.Context, i int) error) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N || failed.Load() != nil {
					return
				}
				if err := send(b.Context(), i); err != nil {
					failed.Store(&err)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	r := float64(b.N*benchBatch) / el.Seconds()
	b.ReportMetric(r, "reports/s")
	return r
}

// BenchmarkIntake: NDJSON batches through the HTTP handler (real httptest
// server, real broker), authenticated, validated, produced with acks=all.
func BenchmarkIntake(b *testing.B) {
	addr := benchBroker(b)
	keys, err := partners.Create(filepath.Join(b.TempDir(), "partners.json"))
	if err != nil {
		b.Fatal(err)
	}
	key, err := keys.Add("bench")
	if err != nil {
		b.Fatal(err)
	}
	pub := publish.New(publish.Options{Brokers: []string{addr}, Topic: topic})
	defer pub.Close()
	h, err := intake.New(intake.Options{Keys: keys, Publisher: pub, Rate: -1})
	if err != nil {
		b.Fatal(err)
	}
	srv := newBenchServer(h)
	defer srv.close()
	bodies := make([][]byte, benchBatches)
	for i, batch := range benchData() {
		var buf bytes.Buffer
		for _, m := range batch {
			buf.Write(m.Value)
			buf.WriteByte('\n')
		}
		bodies[i] = buf.Bytes()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	defer client.CloseIdleConnections()
	b.SetBytes(int64(len(bodies[0])))
	r := runClients(b, func(ctx context.Context, i int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.url, bytes.NewReader(bodies[i%benchBatches]))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", intake.ContentTypeNDJSON)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d: %.200s", res.StatusCode, body.Bytes())
		}
		return nil
	})
	if st := h.Stats(); st.Accepted != int64(b.N*benchBatch) {
		b.Fatalf("accepted %d, want %d", st.Accepted, b.N*benchBatch)
	}
	benchRates.Lock()
	benchRates.intake = r
	benchRates.Unlock()
}

// BenchmarkDirectProduce: the same batches produced straight to the broker
// with publish, as `trucewatch produce` does.
func BenchmarkDirectProduce(b *testing.B) {
	addr := benchBroker(b)
	pub := publish.New(publish.Options{Brokers: []string{addr}, Topic: topic})
	defer pub.Close()
	data := benchData()
	r := runClients(b, func(ctx context.Context, i int) error {
		return pub.Write(ctx, data[i%benchBatches]...)
	})
	benchRates.Lock()
	benchRates.direct = r
	benchRates.Unlock()
}

// BenchmarkProduceCommand: the same batches, one NDJSON file, sent by the
// trucewatch binary's own `produce --file` (built here), the way a partner
// or an operator loads a file straight into Kafka. The time is the
// process's, start-up included.
func BenchmarkProduceCommand(b *testing.B) {
	addr := benchBroker(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "trucewatch")
	build := exec.Command("go", "build", "-o", bin, "github.com/trucewatch/trucewatch/cmd/trucewatch")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	data := benchData()
	for i := range b.N {
		for _, m := range data[i%benchBatches] {
			buf.Write(m.Value)
			buf.WriteByte('\n')
		}
	}
	file := filepath.Join(dir, "reports.ndjson")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "produce", "--file", file, "--brokers", addr, "--topic", topic)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	b.ResetTimer()
	start := time.Now()
	err := cmd.Run()
	el := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("trucewatch produce: %v\n%s", err, out.Bytes())
	}
	want := fmt.Sprintf("produced %d reports", b.N*benchBatch)
	if !bytes.Contains(out.Bytes(), []byte(want)) {
		b.Fatalf("trucewatch produce did not say %q:\n%s", want, out.Bytes())
	}
	r := float64(b.N*benchBatch) / el.Seconds()
	b.ReportMetric(r, "reports/s")
	benchRates.Lock()
	benchRates.command = r
	benchRates.Unlock()
}

type benchServer struct {
	url   string
	close func()
}

func newBenchServer(h http.Handler) benchServer {
	srv := httptest.NewServer(h)
	return benchServer{url: srv.URL + "/v1/reports", close: srv.Close}
}
