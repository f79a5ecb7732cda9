package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/intake"
	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/internal/testclock"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
)

const topic = "reports"

// env is a real in-process broker, a keys file with two partners, and the
// handler behind an httptest server.
type env struct {
	addr       string
	broker     *broker.Broker
	keys       *partners.Keys
	keyA, keyB string
	h          *intake.Handler
	srv        *httptest.Server
	clock      *testclock.Clock
}

func newEnv(t testing.TB, edit func(*intake.Options)) *env {
	t.Helper()
	b, err := broker.Start(broker.Options{Topics: []string{topic, "reports.dlq"}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	e := &env{addr: b.Addrs()[0], broker: b, clock: testclock.New(time.Now())}
	if e.keys, err = partners.Create(filepath.Join(t.TempDir(), "partners.json")); err != nil {
		t.Fatal(err)
	}
	if e.keyA, err = e.keys.Add("partner-a"); err != nil {
		t.Fatal(err)
	}
	if e.keyB, err = e.keys.Add("partner-b"); err != nil {
		t.Fatal(err)
	}
	pub := publish.New(publish.Options{Brokers: []string{e.addr}, Topic: topic})
	t.Cleanup(func() { pub.Close() })
	o := intake.Options{Keys: e.keys, Publisher: pub, Now: e.clock.Now, PublishTimeout: 3 * time.Second}
	if edit != nil {
		edit(&o)
	}
	if e.h, err = intake.New(o); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

type result struct {
	status int
	header http.Header
	body   []byte
	resp   intake.Response
}

func (e *env) post(t testing.TB, key, contentType string, body []byte) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/v1/reports", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) result {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: res.StatusCode, header: res.Header, body: b}
	if res.StatusCode == http.StatusAccepted || strings.Contains(string(b), `"accepted"`) {
		if err := json.Unmarshal(b, &r.resp); err != nil {
			t.Fatalf("response %s: %v", b, err)
		}
	}
	checkClean(t, b)
	return r
}

// checkClean fails when a response body shows internals.
func checkClean(t testing.TB, body []byte) {
	t.Helper()
	for _, leak := range []string{"goroutine ", "panic", ".go:", "dial tcp", "127.0.0.1", "kafka", "publish:", "runtime."} {
		if bytes.Contains(body, []byte(leak)) {
			t.Errorf("response body shows internals (%q): %s", leak, body)
		}
	}
}

// reports returns n valid synthetic reports, each a JSON object.
func reports(n int, seed uint64) [][]byte {
	f := synth.New(synth.Options{Seed: seed, IDPrefix: fmt.Sprintf("t%d", seed)})
	out := make([][]byte, n)
	for i := range out {
		out[i] = f.Next().Value
	}
	return out
}

func ndjson(items ...[]byte) []byte { return append(bytes.Join(items, []byte("\n")), '\n') }
func array(items ...[]byte) []byte {
	return append(append([]byte("["), bytes.Join(items, []byte(","))...), ']')
}

// readTopic reads every message of the reports topic with kafka-go Readers.
func readTopic(t testing.TB, addr string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range parts {
		lc, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d: %v", p.ID, err)
			}
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestBodies(t *testing.T) {
	e := newEnv(t, nil)
	rs := reports(6, 1)
	crlf := append(append(append([]byte("\r\n"), rs[3]...), "\r\n\r\n   \n"...), rs[4]...) // blank lines, CRLF, no final newline
	for _, c := range []struct {
		name, ct string
		body     []byte
		n        int
	}{
		{"object", "application/json", rs[0], 1},
		{"object with charset", "application/json; charset=utf-8", rs[1], 1},
		{"array", "application/json", array(rs[1], rs[2]), 2},
		{"ndjson", "application/x-ndjson", crlf, 2},
		{"jsonl synonym", "application/jsonl", ndjson(rs[5]), 1},
	} {
		res := e.post(t, e.keyA, c.ct, c.body)
		if res.status != http.StatusAccepted || len(res.resp.Accepted) != c.n || len(res.resp.Rejected) != 0 {
			t.Errorf("%s: %d %s", c.name, res.status, res.body)
		}
	}
	// Lines of an NDJSON body are reported with their line numbers.
	res := e.post(t, e.keyA, "application/x-ndjson", crlf)
	if got := res.resp.Accepted; len(got) != 2 || got[0].Index != 0 || got[1].Index != 1 {
		t.Errorf("ndjson indexes: %+v", got)
	}

	for _, c := range []struct {
		name, ct string
		body     string
		status   int
	}{
		{"text/plain", "text/plain", string(rs[0]), http.StatusUnsupportedMediaType},
		{"no content type", "", string(rs[0]), http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", "a=b", http.StatusUnsupportedMediaType},
		{"empty", "application/json", "  ", http.StatusBadRequest},
		{"empty array", "application/json", "[]", http.StatusBadRequest},
		{"empty ndjson", "application/x-ndjson", "\n\n", http.StatusBadRequest},
		{"broken array", "application/json", "[" + string(rs[0]) + ",", http.StatusBadRequest},
		{"array then more", "application/json", "[" + string(rs[0]) + "] {}", http.StatusBadRequest},
		{"string", "application/json", `"report"`, http.StatusBadRequest},
		{"two objects as json", "application/json", string(rs[0]) + "\n" + string(rs[1]), http.StatusBadRequest},
	} {
		res := e.post(t, e.keyA, c.ct, []byte(c.body))
		if res.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, res.status, c.status, res.body)
		}
		// Every error has the read API's shape; a 400 that rejected items
		// also lists them.
		var p intake.Problem
		if json.Unmarshal(res.body, &p) != nil || p.Error.Status != c.status || p.Error.Message == "" {
			t.Errorf("%s: body %s is not an error of the common shape", c.name, res.body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	if res := do(t, req); res.status != http.StatusMethodNotAllowed || res.header.Get("Allow") != "POST" ||
		!strings.Contains(string(res.body), `"error":{"status":405,`) {
		t.Errorf("GET: %d %v %s", res.status, res.header, res.body)
	}
	if got := len(readTopic(t, e.addr)); got != 9 {
		t.Errorf("%d messages on the topic, want 9", got)
	}
}

func TestMixedItems(t *testing.T) {
	e := newEnv(t, nil)
	rs := reports(2, 2)
	bad := [][]byte{
		[]byte(`{"id":"x1","observed_at":"2017-01-04T13:30:00Z","lat":95,"lon":36.3,"category":"shelling"}`),
		[]byte(`{"id":"x2","observed_at":"yesterday","lat":33,"lon":36.3,"category":"bombing","colour":"red"}`),
		[]byte(`{"id":"x3"`),
		[]byte(`42`),
	}
	items := [][]byte{rs[0], bad[0], bad[1], rs[1], bad[2], bad[3]}
	for _, ct := range []string{"application/x-ndjson", "application/json"} {
		body := ndjson(items...)
		if ct == "application/json" {
			items := [][]byte{rs[0], bad[0], bad[1], rs[1], bad[3]} // an array must stay valid JSON
			body = array(items...)
		}
		res := e.post(t, e.keyA, ct, body)
		if res.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", ct, res.status, res.body)
		}
		if a := res.resp.Accepted; len(a) != 2 || a[0].Index != 0 || a[1].Index != 3 || a[0].Revision != 1 {
			t.Errorf("%s: accepted %+v", ct, a)
		}
		rej := map[int]intake.Rejected{}
		for _, r := range res.resp.Rejected {
			rej[r.Index] = r
		}
		if rules(rej[1].Errors) != "lat:range" || rej[1].ID != "x1" {
			t.Errorf("%s: item 1: %+v", ct, rej[1])
		}
		if rules(rej[2].Errors) != "category:enum colour:unknown observed_at:format" && rules(rej[2].Errors) != "colour:unknown category:enum observed_at:format" {
			t.Errorf("%s: item 2: %s", ct, rules(rej[2].Errors))
		}
		if ct == "application/x-ndjson" {
			if rules(rej[4].Errors) != ":json" || rej[4].Line != 5 || rules(rej[5].Errors) != ":json" {
				t.Errorf("ndjson: items 4, 5: %+v %+v", rej[4], rej[5])
			}
		} else if rules(rej[4].Errors) != ":json" {
			t.Errorf("array: item 4: %+v", rej[4])
		}
	}
	// Nothing valid: 400 with the same per-item answer, and the error
	// every other error has.
	res := e.post(t, e.keyA, "application/x-ndjson", ndjson(bad...))
	if res.status != http.StatusBadRequest || len(res.resp.Rejected) != 4 || len(res.resp.Accepted) != 0 ||
		res.resp.Error == nil || res.resp.Error.Status != 400 || res.resp.Error.Param != "body" || res.resp.Error.Message == "" {
		t.Errorf("all invalid: %d %s", res.status, res.body)
	}
	if rules(res.resp.Rejected[0].Errors) != "lat:range" {
		t.Errorf("all invalid: item 0: %+v", res.resp.Rejected[0])
	}
	if got := len(readTopic(t, e.addr)); got != 4 {
		t.Errorf("%d messages on the topic, want 4 (the valid ones)", got)
	}
}

func rules(es []report.FieldError) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Field+":"+e.Rule)
	}
	return strings.Join(s, " ")
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	body := reports(1, 3)[0]
	for name, key := range map[string]string{
		"no key":       "",
		"unknown key":  "tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"truncated":    e.keyA[:len(e.keyA)-2],
		"other scheme": "",
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		switch {
		case name == "other scheme":
			req.SetBasicAuth("partner-a", e.keyA)
		case key != "":
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res := do(t, req)
		if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	if res := e.post(t, e.keyA, "application/json", body); res.status != http.StatusAccepted {
		t.Fatalf("valid key: %d %s", res.status, res.body)
	}

	// Revocation by another process (the CLI) while the handler runs.
	cli, err := partners.Open(e.keys.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke("partner-a"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * partners.ReloadInterval)
	for {
		res := e.post(t, e.keyA, "application/json", body)
		if res.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still accepted: %d", res.status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := e.post(t, e.keyB, "application/json", body); res.status != http.StatusAccepted {
		t.Fatalf("other partner after a revocation: %d %s", res.status, res.body)
	}
}

// TestPartnerFromKey: the partner id on Kafka is the key's, whatever the
// body claims.
func TestPartnerFromKey(t *testing.T) {
	e := newEnv(t, nil)
	var forged [][]byte
	for _, r := range reports(5, 4) {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatal(err)
		}
		m["partner_id"] = "partner-b"
		b, _ := json.Marshal(m)
		forged = append(forged, b)
	}
	noPartner := []byte(`{"id":"np-1","observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling"}`)
	// A link to another partner's report goes; one to itself, the partner
	// being the key's, is rejected.
	linked := []byte(`{"id":"np-2","observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling","incident_of":{"partner_id":"partner-b","id":"np-2"}}`)
	self := []byte(`{"id":"np-3","observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling","incident_of":{"partner_id":"partner-a","id":"np-3"}}`)
	forged = append(forged, noPartner, linked, self)
	res := e.post(t, e.keyA, "application/x-ndjson", ndjson(forged...))
	if res.status != http.StatusAccepted || len(res.resp.Accepted) != 7 || res.resp.PartnerID != "partner-a" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if rj := res.resp.Rejected; len(rj) != 1 || rj[0].ID != "np-3" || rules(rj[0].Errors) != "incident_of:self" {
		t.Fatalf("self link: %+v", rj)
	}
	msgs := readTopic(t, e.addr)
	if len(msgs) != 7 {
		t.Fatalf("%d messages, want 7", len(msgs))
	}
	now := time.Now()
	for _, m := range msgs {
		r, err := report.Decode(m.Value, now)
		if err != nil {
			t.Fatalf("message %s does not decode: %v", m.Value, err)
		}
		if r.PartnerID != "partner-a" || header(m, report.HeaderPartner) != "partner-a" {
			t.Errorf("message %s: partner_id %q, header %q; want partner-a", m.Key, r.PartnerID, header(m, report.HeaderPartner))
		}
		if string(m.Key) != r.ID {
			t.Errorf("key %q, id %q", m.Key, r.ID)
		}
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, func(o *intake.Options) {
		o.MaxBodyBytes = 8 << 10
		o.MaxItems = 10
		o.Rate = 1
		o.Burst = 10
	})
	rs := reports(30, 5)
	small := rs[:10]

	// Oversized body, with and without Content-Length.
	big := ndjson(rs...)
	if len(big) <= 8<<10 {
		t.Fatalf("test body only %d bytes", len(big))
	}
	if res := e.post(t, e.keyA, "application/x-ndjson", big); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %s", res.status, res.body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, io.MultiReader(bytes.NewReader(big))) // chunked
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if res := do(t, req); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized chunked body: %d %s", res.status, res.body)
	}
	// Too many items.
	many := make([][]byte, 11)
	for i := range many {
		many[i] = []byte(`{}`)
	}
	if res := e.post(t, e.keyA, "application/json", array(many...)); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("11 items: %d %s", res.status, res.body)
	}
	// None of that spent the partner's tokens: the full burst passes.
	if res := e.post(t, e.keyA, "application/x-ndjson", ndjson(small...)); res.status != http.StatusAccepted {
		t.Fatalf("burst: %d %s", res.status, res.body)
	}
	// The bucket is empty: 4 more need 4 s at 1 report/s.
	res := e.post(t, e.keyA, "application/x-ndjson", ndjson(rs[10:14]...))
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "4" {
		t.Fatalf("over the rate: %d Retry-After %q %s", res.status, res.header.Get("Retry-After"), res.body)
	}
	// Other partners have their own bucket.
	if res := e.post(t, e.keyB, "application/x-ndjson", ndjson(rs[14:20]...)); res.status != http.StatusAccepted {
		t.Fatalf("partner b: %d %s", res.status, res.body)
	}
	e.clock.Add(4 * time.Second)
	if res := e.post(t, e.keyA, "application/x-ndjson", ndjson(rs[10:14]...)); res.status != http.StatusAccepted {
		t.Fatalf("after Retry-After: %d %s", res.status, res.body)
	}
	st := e.h.Stats()
	if st.TooLarge != 3 || st.Throttled != 1 || st.Accepted != 20 {
		t.Errorf("stats %+v", st)
	}
	if got := len(readTopic(t, e.addr)); got != 20 {
		t.Errorf("%d messages, want 20", got)
	}

	if _, err := intake.New(intake.Options{Keys: e.keys, Publisher: publish.New(publish.Options{}), MaxItems: 100, Burst: 10}); err == nil {
		t.Error("burst below max items accepted")
	}
}

// TestBrokerUnreachable: when the broker is down the request fails as a
// whole with 503; once it is back, the same request succeeds and nothing
// is lost.
func TestBrokerUnreachable(t *testing.T) {
	e := newEnv(t, func(o *intake.Options) { o.PublishTimeout = 2 * time.Second })
	rs := reports(20, 6)
	if res := e.post(t, e.keyA, "application/x-ndjson", ndjson(rs[:2]...)); res.status != http.StatusAccepted {
		t.Fatalf("warm-up: %d %s", res.status, res.body)
	}
	e.broker.Close()
	body := ndjson(append(rs[2:], []byte(`{"id":"bad"}`))...)
	start := time.Now()
	res := e.post(t, e.keyA, "application/x-ndjson", body)
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Fatalf("broker down: %d %v %s", res.status, res.header, res.body)
	}
	if bytes.Contains(res.body, []byte(`"accepted"`)) || bytes.Contains(res.body, []byte(rs[2][:20])) {
		t.Errorf("a failed request reports something accepted: %s", res.body)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("503 after %s", el)
	}
	if st := e.h.Stats(); st.PublishFailed != 1 || st.Accepted != 2 {
		t.Errorf("stats %+v", st)
	}

	// The broker comes back on the same address; the retry goes through.
	b, err := broker.Start(broker.Options{Listen: e.addr, Topics: []string{topic}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res = e.post(t, e.keyA, "application/x-ndjson", body)
		if res.status == http.StatusAccepted || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res.status != http.StatusAccepted || len(res.resp.Accepted) != 18 || len(res.resp.Rejected) != 1 {
		t.Fatalf("retry: %d %s", res.status, res.body)
	}
	// Messages of the failed attempts may land as well (the client
	// delivers what it had queued once the broker is back): every one is
	// a report of the request, and ingest counts each id+revision once.
	ids := map[string]bool{}
	for _, m := range readTopic(t, e.addr) {
		ids[string(m.Key)] = true
	}
	if len(ids) != 18 {
		t.Errorf("%d distinct reports after the retry, want 18", len(ids))
	}
	for _, a := range res.resp.Accepted {
		if !ids[a.ID] {
			t.Errorf("accepted %s is not on the topic", a.ID)
		}
	}
}
