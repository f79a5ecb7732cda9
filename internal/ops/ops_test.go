package ops_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/trucewatch/trucewatch/internal/ops"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandler(t *testing.T) {
	reg, err := ops.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var down error
	h := ops.Handler(reg, func(context.Context) error { return down })
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, string(b)
	}
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok\n"},
		{"/readyz", 200, "ready\n"},
	} {
		if code, body := get(c.path); code != c.code || body != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.path, code, body, c.code, c.body)
		}
	}
	down = errors.New("store down")
	if code, body := get("/readyz"); code != 503 || body != "not ready: store down\n" {
		t.Errorf("/readyz, not ready: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "promhttp_metric_handler_errors_total") {
		t.Errorf("/metrics: %d %.200s", code, body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz, not ready: %d %q", code, body)
	}
}
