package report

import (
	"encoding/json"
	"testing"
)

// FuzzDecode checks that no input panics the decoder, that every rejection
// is a short list of field errors, and that an accepted report survives a
// round trip through the encoder unchanged. The corpus in
// testdata/fuzz/FuzzDecode holds the worst cases (thousands of unknown or
// repeated members).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(validDoc))
	f.Add([]byte(mod(`"lat":NaN`)))
	f.Add([]byte(mod(`"perpetrator":{"name":"x","side":"excluded_group"}`)))
	f.Add([]byte(`{"id":"\u0000","lat":1e999}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data, testNow)
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error is not Errors: %T %v", err, err)
			}
			if len(es) > MaxErrors+1 {
				t.Fatalf("%d errors, the most is %d and one more", len(es), MaxErrors)
			}
			for _, e := range es {
				if len(e.Field) > maxFieldLen+len("...") {
					t.Fatalf("field of %d bytes: %.100q", len(e.Field), e.Field)
				}
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Decode(b, testNow)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if !equal(r, r2) {
			t.Fatalf("round trip changed %+v to %+v", r, r2)
		}
	})
}

// FuzzDecodeMatchesReference checks that the one-pass decoder gives the
// same report and the same field errors as the reference decoder built on
// encoding/json maps.
func FuzzDecodeMatchesReference(f *testing.F) {
	f.Add([]byte(validDoc))
	f.Add([]byte(mod(`"perpetrator":{"name":"x","side":"excluded_group","name":"y"}`)))
	f.Add([]byte(`{"id":"a\u0041","id":"b","x":1,"x":2,"sources":["a","\n"]}`))
	f.Add([]byte(` { "lat" : 1e3 , "lon":-0.5e-3 ,"killed": 1.0} `))
	f.Add([]byte(mod(`"partner_id":"p","incident_of":{"partner_id":"p","id":"r1","id":"x","y":null}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r1, err1 := Decode(data, testNow)
		r2, err2 := refDecode(data, testNow)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("decode %q: one-pass %v, reference %v", data, err1, err2)
		}
		if err1 != nil {
			e1, e2 := err1.(Errors), err2.(Errors)
			if len(e1) != len(e2) {
				t.Fatalf("decode %q: one-pass %v, reference %v", data, err1, err2)
			}
			for i := range e1 {
				if e1[i].Field != e2[i].Field || e1[i].Rule != e2[i].Rule || (e1[i].Rule == "more" && e1[i].Msg != e2[i].Msg) {
					t.Fatalf("decode %q: one-pass %v, reference %v", data, err1, err2)
				}
			}
			return
		}
		if !equal(r1, r2) {
			t.Fatalf("decode %q: one-pass %+v, reference %+v", data, r1, r2)
		}
	})
}
