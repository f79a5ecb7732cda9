package intake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/trucewatch/trucewatch/intake"
)

// unknownKeysItem is one report with n distinct unknown members: about
// 60 KB for n = 6000, just under the item limit.
func unknownKeysItem(id, n int) string {
	var b strings.Builder
	b.WriteString(`{"id":"h` + strconv.Itoa(id) + `","observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling"`)
	for i := range n {
		b.WriteString(`,"u` + strconv.Itoa(n-i) + `":0`)
	}
	b.WriteByte('}')
	return b.String()
}

// hostileBody is a JSON array of items reports of n unknown members each.
func hostileBody(items, n int) []byte {
	parts := make([]string, items)
	for i := range parts {
		parts[i] = unknownKeysItem(i, n)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

// TestIntakeHostileBounded: the worst unknown-field request (127 reports
// of 6,000 unknown members each) gets a 400 of a few errors per report,
// not one per member (69 MB before).
func TestIntakeHostileBounded(t *testing.T) {
	e := newEnv(t, func(o *intake.Options) { o.Rate = -1 })
	body := hostileBody(127, 6000)
	w := e.serveJSON(e.keyA, body)
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status %d: %.300s", w.Code, w.Body.Bytes())
	}
	if n := w.Body.Len(); n > 127*2000 {
		t.Errorf("answer of %d bytes", n)
	}
	var resp intake.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Rejected) != 127 {
		t.Fatalf("%d rejected", len(resp.Rejected))
	}
	for _, r := range resp.Rejected {
		last := r.Errors[len(r.Errors)-1]
		if len(r.Errors) != 21 || last.Rule != "more" || last.Msg != "... and 5980 more errors" {
			t.Fatalf("item %d: %d errors, last %+v", r.Index, len(r.Errors), last)
		}
	}
}

// BenchmarkIntakeHostile posts the worst unknown-field request of issue
// 10 (127 reports of 6,000 unknown members, 7.6 MB) to the handler and
// prints the size of its 400 (answer-B).
//
//	go test ./intake -run '^$' -bench IntakeHostile -benchtime 1x
func BenchmarkIntakeHostile(b *testing.B) {
	e := newEnv(b, func(o *intake.Options) { o.Rate = -1 })
	body := hostileBody(127, 6000)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var answer int
	for b.Loop() {
		w := e.serveJSON(e.keyA, body)
		if w.Code != http.StatusBadRequest {
			b.Fatalf("status %d: %.300s", w.Code, w.Body.Bytes())
		}
		answer = w.Body.Len()
	}
	b.ReportMetric(float64(answer), "answer-B")
}

// serveJSON posts a JSON body with partner key's bearer token straight to
// the handler (no server, no network) and returns its answer.
func (e *env) serveJSON(key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/reports", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}
