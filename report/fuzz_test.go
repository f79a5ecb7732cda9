package report

import (
	"encoding/json"
	"testing"
)

// FuzzDecode checks that no input panics the decoder, that every rejection
// is a list of field errors, and that an accepted report survives a round
// trip through the encoder unchanged.
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
