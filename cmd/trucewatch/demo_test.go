package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage/chtest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// holdPort listens on addr for the rest of the test; when some other
// process already holds it, that does as well.
func holdPort(t *testing.T, addr string) {
	t.Helper()
	if ln, err := net.Listen("tcp", addr); err == nil {
		t.Cleanup(func() { ln.Close() })
	} else if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
	} else {
		t.Skipf("%s can be neither bound nor reached", addr)
	}
}

// TestDemoPortTaken: with 127.0.0.1:9101 (the old fixed ops port) held by
// another process, the demo runs on a port of its own, prints it and
// serves its metrics there; a taken --ops-addr that the user gave fails
// before anything starts, naming the flag.
func TestDemoPortTaken(t *testing.T) {
	holdPort(t, "127.0.0.1:9101")
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	args := []string{"--clickhouse", srv.Addr(), "--database", db, "--data-dir", t.TempDir(),
		"--rate", "200", "--every", "300ms", "--memory-limit-mb", "0", "--batch-wait", "200ms"}

	var errOut bytes.Buffer
	start := time.Now()
	err := runDemo(t.Context(), append(args, "--ops-addr", "127.0.0.1:9101"), stdio{in: strings.NewReader(""), out: io.Discard, err: &errOut})
	if err == nil || !strings.Contains(err.Error(), "--ops-addr 127.0.0.1:9101") {
		t.Fatalf("demo with a taken --ops-addr: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the taken --ops-addr failed only after %s", el)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, args, stdio{in: strings.NewReader(""), out: out, err: &syncBuffer{}}) }()
	metricsRe := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:(\d+)/metrics)`)
	var url string
	deadline := time.Now().Add(60 * time.Second)
	for url == "" || !strings.Contains(out.String(), "produced") {
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if m := metricsRe.FindStringSubmatch(out.String()); m != nil {
			if m[2] == "9101" {
				t.Fatalf("demo chose the taken port: %s", out.String())
			}
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not get going:\n%s", out.String())
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("trucewatch_ingest_consumed_total")) {
		t.Errorf("%s: %d, %d bytes without the ingest metrics", url, resp.StatusCode, len(body))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("demo: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
	if !strings.Contains(out.String(), "stopped cleanly") {
		t.Errorf("demo output:\n%s", out.String())
	}
}
