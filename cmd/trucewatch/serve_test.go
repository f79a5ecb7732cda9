package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

// TestServeIntakeToMap is the partner's path end to end through the
// binary's own commands: a key from `partners add`, an NDJSON POST to
// `serve --keys`, `ingest` of what the intake produced, and the report on
// the map API of the same serve.
func TestServeIntakeToMap(t *testing.T) {
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	b, err := broker.Start(broker.Options{Topics: []string{"reports", "reports.dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	keysPath := filepath.Join(t.TempDir(), "partners.json")
	if _, err := partners.Create(keysPath); err != nil {
		t.Fatal(err)
	}
	keys, err := partners.Open(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.Add("sn4hr")
	if err != nil {
		t.Fatal(err)
	}
	// The schema must exist before serve reads it.
	var out, errOut bytes.Buffer
	std := stdio{in: strings.NewReader(""), out: &out, err: &errOut}
	if code := run([]string{"migrate", "--clickhouse", srv.Addr(), "--database", db}, std); code != 0 {
		t.Fatalf("migrate: %s", errOut.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	startChild(t, "serve", "TRUCEWATCH_LISTEN="+httpAddr, "TRUCEWATCH_KEYS="+keysPath,
		"TRUCEWATCH_BROKERS="+addr, "TRUCEWATCH_CLICKHOUSE="+srv.Addr(), "TRUCEWATCH_DATABASE="+db)
	base := "http://" + httpAddr
	waitHTTP(t, base+"/healthz")

	body := `{"id":"hr-1","partner_id":"someone-else","observed_at":"2017-08-02T09:00:00Z","lat":33.5722,"lon":36.4036,"category":"shelling","perpetrator":{"side":"government"},"killed":3}
{"id":"hr-2","observed_at":"2017-08-02T09:00:00Z","lat":95,"lon":36.4,"category":"shelling"}
`
	req, _ := http.NewRequest("POST", base+"/v1/reports", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Accepted []struct{ ID string } `json:"accepted"`
		Rejected []struct {
			Index  int
			Errors []struct{ Field string } `json:"errors"`
		} `json:"rejected"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(answer.Accepted) != 1 || answer.Accepted[0].ID != "hr-1" ||
		len(answer.Rejected) != 1 || answer.Rejected[0].Errors[0].Field != "lat" {
		t.Fatalf("POST answered %d %+v", resp.StatusCode, answer)
	}

	errOut.Reset()
	if code := run([]string{"ingest", "--brokers", addr, "--clickhouse", srv.Addr(), "--database", db,
		"--exit-when-idle", "2s", "--ops-addr", "", "--batch-wait", "200ms", "--group", "serve-test"}, std); code != 0 {
		t.Fatalf("ingest: %s", errOut.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := storage.Open(ctx, storage.Options{Addr: srv.Addr(), Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	row, err := store.Current(ctx, "sn4hr", "hr-1")
	if err != nil {
		t.Fatalf("the report is not stored under the key's partner: %v", err)
	}
	if row.Adm3 != "SY030200" || !row.Violation {
		t.Errorf("stored %+v", row)
	}
	if _, err := store.Current(ctx, "someone-else", "hr-1"); err == nil {
		t.Error("the body's partner_id was used")
	}

	// The map API shows it: the Eastern Ghouta zone has one violation on
	// that day.
	resp, err = http.Get(base + "/v1/zones.geojson?set=astana-2017&from=2017-08-02T00:00:00Z&to=2017-08-03T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fc struct {
		Features []struct {
			ID         any            `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&fc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("zones.geojson: %d %v", resp.StatusCode, err)
	}
	found := false
	for _, f := range fc.Features {
		if fmt.Sprint(f.Properties["id"]) == "astana-3" || fmt.Sprint(f.ID) == "astana-3" {
			found = true
			if fmt.Sprint(f.Properties["reports"]) != "1" {
				t.Errorf("astana-3 properties %v", f.Properties)
			}
		}
	}
	if !found {
		t.Errorf("astana-3 not in zones.geojson")
	}
}

// startChild runs this test binary as a trucewatch subcommand in its own
// process (TestHelperServe, TestHelperIngest), configured by env, and
// interrupts it when the test ends, showing its log if the test failed.
func startChild(t *testing.T, helper string, env ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToUpper(helper[:1]) + helper[1:]
	cmd := exec.Command(exe, "-test.run=^TestHelper"+name+"$")
	cmd.Env = append(append(os.Environ(), "TRUCEWATCH_HELPER="+helper), env...)
	log := new(bytes.Buffer)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", helper, log.String())
		}
	})
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer", url)
}

// TestHelperServe is the child process of TestServeIntakeToMap.
func TestHelperServe(t *testing.T) {
	if os.Getenv("TRUCEWATCH_HELPER") != "serve" {
		t.Skip("child process of TestServeIntakeToMap")
	}
	os.Exit(run([]string{"serve"}, stdio{in: bufio.NewReader(os.Stdin), out: os.Stdout, err: os.Stderr}))
}

// TestIngestOps checks the worker's ops endpoints: /metrics has the ingest
// series, /readyz says not ready while ClickHouse is down and ready again
// once it is back, /healthz stays up.
func TestIngestOps(t *testing.T) {
	srv := chtest.New(t)
	b, err := broker.Start(broker.Options{Topics: []string{"reports", "reports.dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := ln.Addr().String()
	ln.Close()
	startChild(t, "ingest", "TRUCEWATCH_OPS_ADDR="+ops,
		"TRUCEWATCH_BROKERS="+b.Addrs()[0], "TRUCEWATCH_CLICKHOUSE="+srv.Addr(), "TRUCEWATCH_DATABASE="+chtest.Database(t))
	base := "http://" + ops
	waitStatus := func(path string, want int) {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		last := 0
		for time.Now().Before(deadline) {
			if resp, err := http.Get(base + path); err == nil {
				last = resp.StatusCode
				resp.Body.Close()
				if last == want {
					return
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s: %d, want %d", path, last, want)
	}
	waitStatus("/readyz", 200)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"trucewatch_ingest_consumed_total", "trucewatch_ingest_insert_seconds", "go_goroutines"} {
		if !strings.Contains(metrics.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	waitStatus("/readyz", 503)
	waitStatus("/healthz", 200)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitStatus("/readyz", 200)
}

// TestHelperIngest is the child process of TestIngestOps.
func TestHelperIngest(t *testing.T) {
	if os.Getenv("TRUCEWATCH_HELPER") != "ingest" {
		t.Skip("child process of TestIngestOps")
	}
	os.Exit(run([]string{"ingest", "--batch-wait", "200ms"}, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}
