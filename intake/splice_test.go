package intake

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWithPartner(t *testing.T) {
	const rest = `"observed_at":"2017-01-04T13:30:00Z","lat":33.5,"lon":36.3,"category":"shelling"`
	now := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		raw     string
		spliced bool // rewritten in place rather than re-encoded
	}{
		"none":              {`{"id":"a",` + rest + `}`, true},
		"other":             {`{"id":"a","partner_id":"evil",` + rest + `}`, true},
		"other last":        {`{"id":"a",` + rest + `, "partner_id" : "evil" }`, true},
		"null":              {`{"id":"a","partner_id":null,` + rest + `}`, true},
		"in description":    {`{"id":"a","description":"\"partner_id\":\"evil\"",` + rest + `}`, false},
		"text in string":    {`{"id":"a","description":"partner_id: evil, {[","partner_id":"evil",` + rest + `}`, true},
		"nested":            {`{"id":"a","perpetrator":{"name":"partner_id","side":"government"},"sources":["x","partner_id"],` + rest + `}`, true},
		"escaped key":       {`{"id":"a","partner\u005fid":"evil",` + rest + `}`, false},
		"whitespace":        {"{\n  \"id\": \"a\",\n  \"partner_id\": \"evil\",\n  " + rest + "\n}", true},
		"mine already":      {`{"id":"a","partner_id":"mine",` + rest + `}`, true},
		"escape in id only": {`{"id":"a\u00e9","partner_id":"evil",` + rest + `}`, false},
	} {
		r, err := decodeItem([]byte(c.raw), now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var arena []byte
		v, err := withPartner(&arena, []byte(c.raw), &r, "mine")
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeItem(v, now)
		if err != nil || back.PartnerID != "mine" || back.ID != r.ID {
			t.Errorf("%s: %s -> %+v, %v", name, v, back, err)
		}
		if _, ok := splicePartner(nil, []byte(c.raw), "mine"); ok != c.spliced {
			t.Errorf("%s: spliced = %v, want %v", name, ok, c.spliced)
		}
		var m map[string]any
		if json.Unmarshal(v, &m) != nil || m["partner_id"] != "mine" {
			t.Errorf("%s: %s", name, v)
		}
	}
}
