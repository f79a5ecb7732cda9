package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/report"
)

// FuzzIntake fuzzes the splitting of bodies (one object, an array, NDJSON)
// and the validation of what comes out of it. The seed corpus is in
// testdata/fuzz/FuzzIntake; run with
//
//	go test ./intake -run '^$' -fuzz FuzzIntake -fuzztime 60s
func FuzzIntake(f *testing.F) {
	valid := `{"id":"r-1","observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling"}`
	f.Add([]byte(valid), false)
	f.Add([]byte("["+valid+","+valid+"]"), false)
	f.Add([]byte(valid+"\n"+valid+"\r\n\n"), true)
	now := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	const maxItems = 50
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		k := kindJSON
		if ndjson {
			k = kindNDJSON
		}
		items, err := split(k, body, maxItems)
		if err != nil {
			var eb errBody
			if !errors.Is(err, errTooMany) && !errors.As(err, &eb) {
				t.Fatalf("split: unexpected error type %T: %v", err, err)
			}
			if items != nil {
				t.Fatal("items returned with an error")
			}
			return
		}
		if len(items) == 0 || len(items) > maxItems {
			t.Fatalf("%d items", len(items))
		}
		for i, it := range items {
			if len(it.data) == 0 || !bytes.Equal(bytes.TrimSpace(it.data), it.data) {
				t.Fatalf("item %d: %q not trimmed or empty", i, it.data)
			}
			if ndjson && (bytes.IndexByte(it.data, '\n') >= 0 || it.line < 1) {
				t.Fatalf("ndjson item %d spans lines: %q (line %d)", i, it.data, it.line)
			}
			if !ndjson && len(items) > 1 && !json.Valid(it.data) {
				t.Fatalf("array item %d is not JSON: %q", i, it.data)
			}
			r, err := decodeItem(it.data, now)
			if err != nil {
				var es report.Errors
				if !errors.As(err, &es) || len(es) == 0 {
					t.Fatalf("item %d: error %v is not a report.Errors", i, err)
				}
				continue
			}
			if !safeID(r.ID) {
				t.Fatalf("unsafe id accepted: %q", r.ID)
			}
			// What the intake puts on Kafka is what ingest decodes.
			var arena []byte
			b, err := withPartner(&arena, it.data, &r, "fuzz")
			if err != nil {
				t.Fatal(err)
			}
			back, err := report.Decode(b, now)
			if err != nil {
				t.Fatalf("re-encoded report does not decode: %v\n%s", err, b)
			}
			if back.ID != r.ID || back.PartnerID != "fuzz" || back.Revision != r.Revision {
				t.Fatalf("round trip changed the report: %+v -> %+v", r, back)
			}
		}
	})
}
