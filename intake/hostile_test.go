package intake_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestHostileInputs: hostile bodies are refused as a whole (400) or item by
// item (per-item errors, 400 when none is valid), and nothing reaches Kafka.
func TestHostileInputs(t *testing.T) {
	e := newEnv(t, nil)
	const rest = `"observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling"`
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObj := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	items := map[string]string{
		// SQL fragments where they break the schema. (In free text, such as
		// description, they are data and are stored as such: storage
		// binds parameters, it never builds SQL from report text.)
		"sql in id":         `{"id":"1' OR '1'='1'; DROP TABLE reports; --",` + rest + `}`,
		"sql in category":   `{"id":"s2","observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling' OR 1=1 --"}`,
		"sql in number":     `{"id":"s3","observed_at":"2017-01-04T13:30:00Z","lat":"1 OR 1=1","lon":36.3,"category":"shelling"}`,
		"sql field name":    `{"id":"s4","1=1; --":1,` + rest + `}`,
		"huge lat":          `{"id":"h1","observed_at":"2017-01-04T13:30:00Z","lat":1e400,"lon":36.3,"category":"shelling"}`,
		"huge killed":       `{"id":"h2","killed":18446744073709551616,` + rest + `}`,
		"huge revision":     `{"id":"h3","revision":99999999999999999999,` + rest + `}`,
		"negative injured":  `{"id":"h4","injured":-1,` + rest + `}`,
		"fraction killed":   `{"id":"h5","killed":1.5,` + rest + `}`,
		"long number":       `{"id":"h6","observed_at":"2017-01-04T13:30:00Z","lat":` + strings.Repeat("9", 5000) + `,"lon":36.3,"category":"shelling"}`,
		"NaN literal":       `{"id":"n1","observed_at":"2017-01-04T13:30:00Z","lat":NaN,"lon":36.3,"category":"shelling"}`,
		"NaN string":        `{"id":"n2","observed_at":"2017-01-04T13:30:00Z","lat":"NaN","lon":36.3,"category":"shelling"}`,
		"Infinity":          `{"id":"n3","observed_at":"2017-01-04T13:30:00Z","lat":33,"lon":Infinity,"category":"shelling"}`,
		"RTL override id":   `{"id":"report\u202Egpj.exe",` + rest + `}`,
		"raw RTL id":        "{\"id\":\"report\u202egpj\"," + rest + "}",
		"zero-width id":     "{\"id\":\"r\u200b1\"," + rest + "}",
		"zero-width joiner": `{"id":"r\u200d1",` + rest + `}`,
		"BOM in id":         `{"id":"\uFEFFr1",` + rest + `}`,
		"isolate in id":     `{"id":"r\u20661\u2069",` + rest + `}`,
		"soft hyphen id":    `{"id":"r\u00ad1",` + rest + `}`,
		"NUL in id":         `{"id":"r\u00001",` + rest + `}`,
		"newline in id":     `{"id":"r\n1",` + rest + `}`,
		"invalid UTF-8":     "{\"id\":\"r\xff\xfe\"," + rest + "}",
		"overlong UTF-8":    "{\"id\":\"r\xc0\xaf\"," + rest + "}",
		"long id":           `{"id":"` + strings.Repeat("x", 129) + `",` + rest + `}`,
		"deeply nested":     `{"id":` + deep + `,` + rest + `}`,
		"deeply nested obj": deepObj,
		"proto pollution":   `{"__proto__":{"admin":true},"id":"p1",` + rest + `}`,
		"null":              `null`,
		"number":            `1e999`,
		"future":            `{"id":"f1","observed_at":"2999-01-01T00:00:00Z","lat":33.5,"lon":36.3,"category":"shelling"}`,
		"before 2011":       `{"id":"f2","observed_at":"1970-01-01T00:00:00Z","lat":33.5,"lon":36.3,"category":"shelling"}`,
		"oversized item":    `{"id":"big","description":"` + strings.Repeat("a", 70<<10) + `",` + rest + `}`,
	}
	for name, it := range items {
		for _, ct := range []string{"application/x-ndjson", "application/json", "array"} {
			body := []byte(it)
			switch ct {
			case "application/x-ndjson":
				if strings.Contains(it, "\n") {
					continue
				}
			case "array":
				ct, body = "application/json", []byte("["+it+"]")
			}
			res := e.post(t, e.keyA, ct, body)
			if res.status != http.StatusBadRequest || len(res.resp.Accepted) != 0 {
				t.Errorf("%s (%s): status %d, %d accepted: %.300s", name, ct, res.status, len(res.resp.Accepted), res.body)
			}
		}
	}
	// Whole bodies that are hostile in shape.
	for name, body := range map[string]string{
		"deep array":       deep,
		"unclosed array":   "[" + strings.Repeat(`{"id":"x"},`, 10),
		"NaN array":        "[NaN]",
		"garbage":          "\x00\x01\x02",
		"BOM before body":  "\ufeff[{}]",
		"array of strings": `["DROP TABLE reports"]`,
	} {
		res := e.post(t, e.keyA, "application/json", []byte(body))
		if res.status != http.StatusBadRequest || len(res.resp.Accepted) != 0 {
			t.Errorf("%s: status %d: %.300s", name, res.status, res.body)
		}
		if bytes.Contains(res.body, []byte("DROP TABLE")) {
			t.Errorf("%s: response echoes the body", name)
		}
	}
	if got := len(readTopic(t, e.addr)); got != 0 {
		t.Fatalf("%d hostile messages reached Kafka", got)
	}
}
