package report

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2017, 3, 1, 12, 0, 0, 0, time.UTC)

const validDoc = `{"id":"sy-2017-0001","partner_id":"sn4hr","revision":2,
 "observed_at":"2017-01-04T13:30:00+02:00","observed_until":"2017-01-04T15:00:00Z","time_precision":"hour",
 "lat":33.5703,"lon":36.4003,"accuracy_m":250,"geo_precision":"exact","category":"shelling",
 "perpetrator":{"name":"Syrian Arab Army","side":"government"},"target":{"name":"Jaysh al-Islam","side":"opposition"},
 "killed":2,"injured":5,"description":"Mortar shells on Douma market","sources":["https://example.org/a","witness"]}`

func TestDecodeValid(t *testing.T) {
	r, err := Decode([]byte(validDoc), testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		ID: "sy-2017-0001", PartnerID: "sn4hr", Revision: 2,
		ObservedAt:    time.Date(2017, 1, 4, 11, 30, 0, 0, time.UTC),
		ObservedUntil: time.Date(2017, 1, 4, 15, 0, 0, 0, time.UTC),
		TimePrecision: TimeHour, Lat: 33.5703, Lon: 36.4003, AccuracyM: 250, GeoPrecision: GeoExact,
		Category:    Shelling,
		Perpetrator: Actor{Name: "Syrian Arab Army", Side: Government},
		Target:      Actor{Name: "Jaysh al-Islam", Side: Opposition},
		Killed:      2, Injured: 5, Description: "Mortar shells on Douma market",
		Sources: []string{"https://example.org/a", "witness"},
	}
	if !equal(r, want) {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	// Round trip through the encoder.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Decode(b, testNow)
	if err != nil {
		t.Fatalf("re-decode %s: %v", b, err)
	}
	if !equal(r, r2) {
		t.Fatalf("round trip changed the report:\n%+v\n%+v", r, r2)
	}
}

func equal(a, b Report) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// A dataset's yearly national figure (UCDP GED, date_start..date_end over
// a whole year) is a valid report, counted on the day of observed_at.
func TestDecodeYearLong(t *testing.T) {
	r, err := Decode([]byte(mod(`"observed_at":"2016-01-01T00:00:00Z","observed_until":"2017-01-01T00:00:00Z","time_precision":"month"`)), testNow)
	if err != nil || r.ObservedUntil.Sub(r.ObservedAt) != MaxIncidentSpan {
		t.Fatalf("a 366-day span: %v, %v", r.ObservedUntil, err)
	}
}

// TestDecodeWithdrawal: a withdrawal needs only its id; it encodes back to
// a document that decodes to itself.
func TestDecodeWithdrawal(t *testing.T) {
	r, err := Decode([]byte(`{"id":"a","partner_id":"sn4hr","revision":3,"withdrawn":true,"description":"duplicate of a-7"}`), testNow)
	if err != nil || !r.Withdrawn || r.Revision != 3 || !r.ObservedAt.IsZero() {
		t.Fatalf("withdrawal: %+v, %v", r, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"id":"a","partner_id":"sn4hr","revision":3,"description":"duplicate of a-7","withdrawn":true}` {
		t.Fatalf("encoded as %s", got)
	}
	if _, err := Decode([]byte(`{"id":"a","withdrawn":false}`), testNow); err == nil || !strings.Contains(err.Error(), "observed_at") {
		t.Fatalf("not withdrawn, no time: %v", err)
	}
	if _, err := Decode([]byte(`{"id":"a","withdrawn":"yes"}`), testNow); err == nil || !strings.Contains(err.Error(), "withdrawn: type: must be true or false") {
		t.Fatalf("withdrawn \"yes\": %v", err)
	}
	// A report at 0,0 keeps its coordinates when encoded.
	z := Report{ID: "z", ObservedAt: testNow, Category: Other}
	if b, _ := json.Marshal(z); !strings.Contains(string(b), `"lat":0,"lon":0`) {
		t.Fatalf("0,0 dropped: %s", b)
	}
}

// TestDecodeIncidentOf: a report links to another report of the same
// event by partner and id; a link to itself is refused, by Decode when the
// body names the partner, else by CheckIncidentOf once it is known.
func TestDecodeIncidentOf(t *testing.T) {
	r, err := Decode([]byte(mod(`"partner_id":"sn4hr","incident_of":{"partner_id":"tr-obs","id":"X1"}`)), testNow)
	if err != nil || r.IncidentOf != (Key{PartnerID: "tr-obs", ID: "X1"}) {
		t.Fatalf("link: %+v, %v", r.IncidentOf, err)
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"incident_of":{"partner_id":"tr-obs","id":"X1"}`) {
		t.Fatalf("encoded as %s", b)
	}
	for doc, want := range map[string]string{
		mod(`"incident_of":{"id":"X1"}`):                                           "incident_of.partner_id: required",
		mod(`"incident_of":{"partner_id":"tr","id":"X 1"}`):                        "incident_of.id: format",
		mod(`"incident_of":{"partner_id":"tr","id":"X1","x":1}`):                   "incident_of.x: unknown",
		mod(`"incident_of":"tr/X1"`):                                               "incident_of: type",
		mod(`"partner_id":"sn4hr","incident_of":{"partner_id":"sn4hr","id":"r1"}`): "incident_of: self",
	} {
		if _, err := Decode([]byte(doc), testNow); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", doc, err, want)
		}
	}
	// The partner set after Decode (a header, a partner topic).
	r, err = Decode([]byte(mod(`"incident_of":{"partner_id":"sn4hr","id":"r1"}`)), testNow)
	if err != nil || CheckIncidentOf(&r) != nil {
		t.Fatalf("no partner yet: %v", err)
	}
	r.PartnerID = "sn4hr"
	if err := CheckIncidentOf(&r); err == nil || !strings.Contains(err.Error(), "incident_of: self") {
		t.Fatalf("self link once the partner is known: %v", err)
	}
	r.PartnerID = "tr"
	if err := CheckIncidentOf(&r); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeDefaults(t *testing.T) {
	r, err := Decode([]byte(`{"id":"a","observed_at":"2017-01-04T13:30:00Z","lat":33,"lon":36,"category":"airstrike","perpetrator":{"name":"x"}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != 1 || r.Perpetrator.Side != Unknown || !r.ObservedUntil.IsZero() {
		t.Fatalf("defaults not applied: %+v", r)
	}
}

// TestDecodeErrors checks that each bad field gets exactly one error that
// names it and its rule, and that all bad fields are reported at once.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string // "field/rule"
	}{
		{"not json", `{"id":`, []string{"/json"}},
		{"array", `[1,2]`, []string{"/json"}},
		{"missing required", `{}`, []string{"category/required", "id/required", "lat/required", "lon/required", "observed_at/required"}},
		{"lat range", mod(`"lat":91`), []string{"lat/range"}},
		{"lon range", mod(`"lon":-180.5`), []string{"lon/range"}},
		{"lat string", mod(`"lat":"33.5"`), []string{"lat/type"}},
		{"lat NaN", mod(`"lat":NaN`), []string{"/json"}},
		{"lat NaN string", mod(`"lat":"NaN"`), []string{"lat/type"}},
		{"lon huge", mod(`"lon":1e400`), []string{"lon/range"}},
		{"future", mod(`"observed_at":"2017-03-02T00:00:00Z"`), []string{"observed_at/future"}},
		{"too old", mod(`"observed_at":"2010-01-01T00:00:00Z"`), []string{"observed_at/range"}},
		{"bad time", mod(`"observed_at":"04/01/2017"`), []string{"observed_at/format"}},
		{"until before at", mod(`"observed_until":"2017-01-01T00:00:00Z"`), []string{"observed_until/order"}},
		{"until too long", mod(`"observed_at":"2016-01-01T00:00:00Z","observed_until":"2017-01-01T00:00:01Z"`), []string{"observed_until/range"}},
		{"unknown category", mod(`"category":"picnic"`), []string{"category/enum"}},
		{"unknown side", mod(`"perpetrator":{"name":"x","side":"neutral"}`), []string{"perpetrator.side/enum"}},
		{"actor extra", mod(`"target":{"name":"x","flag":1}`), []string{"target.flag/unknown"}},
		{"negative killed", mod(`"killed":-1`), []string{"killed/range"}},
		{"fractional injured", mod(`"injured":1.5`), []string{"injured/type"}},
		{"revision zero", mod(`"revision":0`), []string{"revision/range"}},
		{"oversize description", mod(`"description":"` + strings.Repeat("ب", MaxDescriptionLen+1) + `"`), []string{"description/length"}},
		{"too many sources", mod(`"sources":[` + strings.Repeat(`"s",`, MaxSources) + `"s"]`), []string{"sources/length"}},
		{"empty source", mod(`"sources":["ok",""]`), []string{"sources[1]/required"}},
		{"id with space", mod(`"id":"a b"`), []string{"id/format"}},
		{"partner id", mod(`"partner_id":"../etc"`), []string{"partner_id/format"}},
		{"unknown field", mod(`"severity":3`), []string{"severity/unknown"}},
		{"several at once", mod(`"lat":100,"lon":200,"category":"x"`), []string{"category/enum", "lat/range", "lon/range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.doc), testNow)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("want Errors, got %v", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Field+"/"+e.Rule)
				if !strings.Contains(e.Error(), e.Field) || e.Msg == "" {
					t.Errorf("error %q does not name its field", e.Error())
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("got %v, want %v (%v)", got, c.want, err)
			}
		})
	}
}

func TestDecodeOversize(t *testing.T) {
	doc := mod(`"description":"` + strings.Repeat("a", MaxReportBytes) + `"`)
	_, err := Decode([]byte(doc), testNow)
	var es Errors
	if !errors.As(err, &es) || es[0].Rule != "size" {
		t.Fatalf("want size error, got %v", err)
	}
}

func TestHostile(t *testing.T) {
	for _, c := range Categories() {
		if !c.Valid() {
			t.Errorf("%s not valid", c)
		}
	}
	if !Airstrike.Hostile() || Arrest.Hostile() || Other.Hostile() || Category("x").Valid() {
		t.Fatal("hostility classes wrong")
	}
	r := Report{GeoPrecision: GeoAdm2, AccuracyM: 100}
	if r.UncertaintyM() != 40_000 || math.IsNaN(r.UncertaintyM()) {
		t.Fatal("uncertainty")
	}
}

// mod returns a valid minimal report with the given fields overriding it.
func mod(fields string) string {
	base := map[string]string{
		"id": `"r1"`, "observed_at": `"2017-01-04T13:30:00Z"`, "lat": `33.57`, "lon": `36.40`, "category": `"shelling"`,
	}
	var extra []string
	for _, kv := range splitTop(fields) {
		if kv == "" {
			continue
		}
		k := strings.Trim(strings.SplitN(kv, ":", 2)[0], `"`)
		if _, ok := base[k]; ok {
			base[k] = strings.SplitN(kv, ":", 2)[1]
		} else {
			extra = append(extra, kv)
		}
	}
	var parts []string
	for _, k := range []string{"id", "observed_at", "lat", "lon", "category"} {
		parts = append(parts, `"`+k+`":`+base[k])
	}
	return "{" + strings.Join(append(parts, extra...), ",") + "}"
}

// splitTop splits "a":1,"b":{"c":2} on top-level commas.
func splitTop(s string) []string {
	var out []string
	depth, start, inStr := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(validDoc)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeReference is the map-based decoder Decode replaced, for
// comparison in the same run.
func BenchmarkDecodeReference(b *testing.B) {
	data := []byte(validDoc)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := refDecode(data, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPartnerIDPattern(t *testing.T) {
	re := regexp.MustCompile(PartnerIDPattern)
	for _, s := range []string{"", "a", "sn4hr", "A.b_c-d", ".a", "-a", "_a", "a b", "a/b", "ü", "a\x00", "9", "a..", "Z-"} {
		if got, want := validPartnerID(s), re.MatchString(s); got != want {
			t.Errorf("validPartnerID(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

func TestMessageKey(t *testing.T) {
	for doc, want := range map[string]string{
		validDoc:                           "sy-2017-0001",
		`{"id":"a\u0041","x":[1,{"y":2}]}`: "aA",
		`{"id":"first","id":"last"}`:       "last",
		`{"id":"a","lat":NaN}`:             "", // not JSON: no key, as before
		`{"ID":"a"}`:                       "",
		`{"id":7}`:                         "",
		`[{"id":"a"}]`:                     "",
		`not json`:                         "",
	} {
		got, ok := MessageKey([]byte(doc))
		if string(got) != want || ok != (want != "") {
			t.Errorf("MessageKey(%s) = %q, %v; want %q", doc, got, ok, want)
		}
	}
}
