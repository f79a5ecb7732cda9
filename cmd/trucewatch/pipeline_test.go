package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

// TestMain checks that nothing outlives the tests: every command joins
// the goroutines it starts. The tests' own clients use kafka-go's shared
// default transport, whose idle connections live until closed.
func TestMain(m *testing.M) {
	chtest.MainAfter(m, kafka.DefaultTransport.(*kafka.Transport).CloseIdleConnections)
}

// TestProduceIngest runs the subcommands as a user would: produce
// synthetic reports (some malformed) and an NDJSON file, ingest them with
// --exit-when-idle, with some settings from TRUCEWATCH_* variables, and
// inspect the dead letters.
func TestProduceIngest(t *testing.T) {
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	b, err := broker.Start(broker.Options{Topics: []string{"field", "field.dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	t.Setenv("TRUCEWATCH_BROKERS", addr)
	t.Setenv("TRUCEWATCH_TOPIC", "field")
	t.Setenv("TRUCEWATCH_DLQ_TOPIC", "field.dlq")

	var out, errOut bytes.Buffer
	std := stdio{in: strings.NewReader(""), out: &out, err: &errOut}
	if code := run([]string{"produce", "--synthetic", "2000", "--malformed", "0.05", "--seed", "3"}, std); code != 0 {
		t.Fatalf("produce exited %d: %s", code, errOut.String())
	}
	ndjson := `{"id":"file-1","observed_at":"2017-03-01T10:00:00Z","lat":35.93,"lon":36.63,"category":"airstrike"}
{"id":"file-2","observed_at":"2017-03-01T10:00:00Z","lat":135.93,"lon":36.63,"category":"airstrike"}
`
	std.in = strings.NewReader(ndjson)
	if code := run([]string{"produce", "--file", "-"}, std); code != 0 {
		t.Fatalf("produce --file exited %d: %s", code, errOut.String())
	}
	errOut.Reset()
	code := run([]string{"ingest", "--clickhouse", srv.Addr(), "--database", db, "--exit-when-idle", "2s",
		"--ops-addr", "127.0.0.1:0", "--batch-wait", "200ms", "--group", "cmd-test"}, std)
	if code != 0 {
		t.Fatalf("ingest exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "consumed 2002") {
		t.Errorf("ingest summary: %s", lastLine(errOut.String()))
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := storage.Open(ctx, storage.Options{Addr: srv.Addr(), Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var n, deadN uint64
	if err := store.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.reports_current", db)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"dlq", "inspect", "--json"}, std); code != 0 {
		t.Fatalf("dlq inspect exited %d: %s", code, errOut.String())
	}
	if _, err := fmt.Sscanf(out.String()[strings.Index(out.String(), `"Total":`):], `"Total": %d`, &deadN); err != nil {
		t.Fatalf("dlq inspect output %q: %v", out.String(), err)
	}
	if n+deadN != 2002 || deadN < 50 || n < 1800 {
		t.Errorf("%d stored + %d dead letters, want 2002 in all", n, deadN)
	}
}

// TestBrokerCommand checks that `trucewatch broker` prints its address as
// the first line of stdout and serves Kafka there until SIGTERM.
func TestBrokerCommand(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperBroker$")
	cmd.Env = append(os.Environ(), "TRUCEWATCH_HELPER=broker")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make([]byte, 64)
	n, err := stdout.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(strings.SplitN(string(line[:n]), "\n", 2)[0])
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first line %q is not an address", line[:n])
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat missing: run make test")
	}
	if out, err := exec.Command(kcat, "-L", "-b", addr, "-m", "5").CombinedOutput(); err != nil || !strings.Contains(string(out), "reports") {
		t.Fatalf("kcat -L against %s: %v\n%s", addr, err, out)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("broker did not stop cleanly: %v", err)
	}
}

// TestHelperBroker is the child process of TestBrokerCommand.
func TestHelperBroker(t *testing.T) {
	if os.Getenv("TRUCEWATCH_HELPER") != "broker" {
		t.Skip("child process of TestBrokerCommand")
	}
	os.Exit(run([]string{"broker", "--listen", "127.0.0.1:0", "--data-dir", ""}, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
