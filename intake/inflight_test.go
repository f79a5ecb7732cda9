package intake_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/intake"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

// slowPost opens a POST that announces a body of length bytes and sends
// only first of them; the rest is up to the test.
func slowPost(t *testing.T, e *env, key string, length int, first []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/reports HTTP/1.1\r\nHost: intake\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n", key, length)
	if _, err := c.Write(first); err != nil {
		t.Fatal(err)
	}
	return c
}

// answer reads the response on c, waiting at most wait; 0 when none came.
func answer(c net.Conn, wait time.Duration) (int, http.Header) {
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestInflightBytes: requests that announce large bodies and send them
// slowly hold their announced length from the first byte; beyond a
// partner's bound they get 429, beyond the global bound 503, both with
// Retry-After and before their bodies are read; what they held is given
// back when they are answered or their connection drops.
func TestInflightBytes(t *testing.T) {
	const mib = 1 << 20
	e := newEnv(t, func(o *intake.Options) {
		o.MaxBodyBytes = mib
		o.MaxInflightBytes = 3 * mib
		o.MaxInflightBytesPerPartner = 2 * mib
	})
	rs := reports(4, 8)
	first := append(append([]byte{}, rs[0]...), '\n')
	refused := func(key string, want int) {
		t.Helper()
		c := slowPost(t, e, key, mib, first)
		status, hdr := answer(c, 10*time.Second)
		if status != want || hdr.Get("Retry-After") == "" {
			t.Fatalf("want %d with Retry-After, got %d %v", want, status, hdr)
		}
	}
	held := func(key string) net.Conn {
		t.Helper()
		c := slowPost(t, e, key, mib, first)
		if status, _ := answer(c, 300*time.Millisecond); status != 0 {
			t.Fatalf("a request within the bounds was answered %d before its body was sent", status)
		}
		return c
	}
	// settles waits (10 s at most) until, while partner a holds a
	// megabyte, a slow post of key's gets want (0: no answer before its
	// body is sent); else the test fails with what.
	settles := func(key string, want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c1 := held(e.keyA)
			c2 := slowPost(t, e, key, mib, first)
			status, _ := answer(c2, 300*time.Millisecond)
			c1.Close()
			c2.Close()
			if status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d", what, status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a1, a2 := held(e.keyA), held(e.keyA)
	for range 5 {
		refused(e.keyA, http.StatusTooManyRequests) // over partner a's 2 MiB
	}
	b1 := held(e.keyB)
	for range 5 {
		refused(e.keyB, http.StatusServiceUnavailable) // b has room, the server has not
	}
	if res := e.post(t, e.keyB, "application/x-ndjson", ndjson(rs[1])); res.status != http.StatusServiceUnavailable ||
		!bytes.Contains(res.body, []byte(`"error":{"status":503,`)) {
		t.Fatalf("small request while the server is full: %d %s", res.status, res.body)
	}
	if st := e.h.Stats(); st.Busy != 11 || st.Throttled != 0 {
		t.Errorf("stats %+v", st)
	}

	// a1 completes: its megabyte comes back, and a's next request passes.
	if _, err := a1.Write(bytes.Repeat([]byte{'\n'}, mib-len(first))); err != nil {
		t.Fatal(err)
	}
	if status, _ := answer(a1, 10*time.Second); status != http.StatusAccepted {
		t.Fatalf("completed slow request: %d", status)
	}
	if res := e.post(t, e.keyA, "application/x-ndjson", ndjson(rs[2])); res.status != http.StatusAccepted {
		t.Fatalf("after a completed request: %d %s", res.status, res.body)
	}
	// a2 and b1 give up: what they held comes back too.
	a2.Close()
	b1.Close()
	settles(e.keyB, 0, "dropped connections still hold their bytes")
	if res := e.post(t, e.keyB, "application/x-ndjson", ndjson(rs[3])); res.status != http.StatusAccepted {
		t.Fatalf("after dropped connections: %d %s", res.status, res.body)
	}

	// A body without a Content-Length holds what has arrived: 600 KiB of
	// it leave partner a room for one more megabyte, not two.
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/reports HTTP/1.1\r\nHost: intake\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", e.keyA, 600<<10, bytes.Repeat([]byte{'\n'}, 600<<10))
	settles(e.keyA, http.StatusTooManyRequests, "a chunked body in flight holds nothing")

	if _, err := intake.New(intake.Options{Keys: e.keys, Publisher: publish.New(publish.Options{}), MaxBodyBytes: 2 * mib, MaxInflightBytesPerPartner: mib}); err == nil {
		t.Error("a partner bound below max body accepted")
	}
}
