package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage/chtest"
)

// TestDemoMap: the demo prints the map's URL before its table, the page
// is there, and the map's window follows the feed's data (dated 2017),
// not today's empty month.
func TestDemoMap(t *testing.T) {
	srv := chtest.Shared(t)
	args := []string{"--clickhouse", srv.Addr(), "--database", chtest.Database(t), "--data-dir", t.TempDir(),
		"--rate", "300", "--every", "300ms", "--memory-limit-mb", "0", "--batch-wait", "200ms"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, args, stdio{in: strings.NewReader(""), out: out, err: &syncBuffer{}}) }()
	mapRe := regexp.MustCompile(`(?m)^map on (http://127\.0\.0\.1:\d+/) `)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == ""; {
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if m := mapRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no map URL printed:\n%s", out.String())
		}
	}
	if i, j := strings.Index(out.String(), "map on"), strings.Index(out.String(), "schema ready"); j >= 0 && i > j {
		t.Errorf("the map's URL comes after the schema line:\n%s", out.String())
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(url); code != 200 || !strings.Contains(body, `src="/map/main.mjs"`) {
		t.Fatalf("%s: %d %.200s", url, code, body)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		_, body := get(url + "v1/extent")
		var ext struct {
			Last        *string
			DefaultFrom string `json:"default_from"`
		}
		if err := json.Unmarshal([]byte(body), &ext); err != nil {
			t.Fatalf("extent: %v: %s", err, body)
		}
		if ext.Last != nil {
			if !strings.HasPrefix(ext.DefaultFrom, "2017-") && !strings.HasPrefix(ext.DefaultFrom, "2016-") {
				t.Errorf("default window starts %s, want within the feed's 2017", ext.DefaultFrom)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no data on the map after 60 s:\n%s", out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("demo: %v", err)
	}
}
