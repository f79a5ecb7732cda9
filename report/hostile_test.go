package report

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// hostileKeys is how many members the worst-case documents carry: about
// as many as fit in MaxReportBytes.
const hostileKeys = 6000

// manyMembers returns a report with n extra members made by member(i)
// (the ones a valid minimal report has come first).
func manyMembers(n int, member func(i int) string) []byte {
	var b strings.Builder
	b.WriteString(`{"id":"r1","observed_at":"2017-01-04T13:30:00Z","lat":33.57,"lon":36.40,"category":"shelling"`)
	for i := range n {
		b.WriteByte(',')
		b.WriteString(member(i))
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// manyActorMembers is manyMembers with the members inside perpetrator.
func manyActorMembers(n int, member func(i int) string) []byte {
	var b strings.Builder
	b.WriteString(`{"id":"r1","observed_at":"2017-01-04T13:30:00Z","lat":33.57,"lon":36.40,"category":"shelling","perpetrator":{"name":"x"`)
	for i := range n {
		b.WriteByte(',')
		b.WriteString(member(i))
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// unknownKey is a distinct unknown member; in reverse order, so that
// sorting the errors has the most to do.
func unknownKey(n int) func(i int) string {
	return func(i int) string { return `"u` + strconv.Itoa(n-i) + `":0` }
}

// The worst-case documents of one report: members that each cost an
// error, or a search among the others.
var hostileDocs = []struct {
	name string
	doc  func(n int) []byte
}{
	{"unknown", func(n int) []byte { return manyMembers(n, unknownKey(n)) }},
	{"unknown-escaped", func(n int) []byte {
		return manyMembers(n*2/3, func(i int) string { return `"\u0075` + strconv.Itoa(n-i) + `":0` })
	}},
	{"duplicate-unknown", func(n int) []byte { return manyMembers(n, func(int) string { return `"x":0` }) }},
	{"duplicate-known", func(n int) []byte { return manyMembers(n, func(int) string { return `"lat":1` }) }},
	{"actor-unknown", func(n int) []byte { return manyActorMembers(n, unknownKey(n)) }},
	{"actor-duplicate", func(n int) []byte { return manyActorMembers(n, func(int) string { return `"side":0` }) }},
}

// BenchmarkDecodeHostile prints what the worst-case reports cost: time,
// allocations, and the bytes of the error answer (answer-B) with the
// number of entries in it (errors).
//
//	go test ./report -run '^$' -bench DecodeHostile -benchmem
func BenchmarkDecodeHostile(b *testing.B) {
	for _, h := range hostileDocs {
		data := h.doc(hostileKeys)
		if len(data) > MaxReportBytes {
			b.Fatalf("%s: %d bytes, over MaxReportBytes", h.name, len(data))
		}
		b.Run(h.name+"-"+strconv.Itoa(hostileKeys), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var answer, errs int
			for b.Loop() {
				_, err := Decode(data, testNow)
				if err == nil {
					answer, errs = 0, 0
					continue
				}
				answer, errs = len(err.Error()), len(err.(Errors))
			}
			b.ReportMetric(float64(answer), "answer-B")
			b.ReportMetric(float64(errs), "errors")
		})
	}
}

// TestDecodeErrorCap: a report with 6,000 unknown members gets the first
// MaxErrors errors in field order and one entry counting the rest, not
// 6,000 errors.
func TestDecodeErrorCap(t *testing.T) {
	_, err := Decode(manyMembers(hostileKeys, unknownKey(hostileKeys)), testNow)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	if len(es) != MaxErrors+1 {
		t.Fatalf("%d errors, want %d and one more entry", len(es), MaxErrors)
	}
	// u1 < u10 < u100 < u1000 < u1001 < ... in field order.
	var want []string
	for i := 1; i <= hostileKeys; i++ {
		want = append(want, "u"+strconv.Itoa(i))
	}
	slices.Sort(want)
	for i, e := range es[:MaxErrors] {
		if e.Field != want[i] || e.Rule != "unknown" {
			t.Errorf("error %d is %v, want %s: unknown", i, e, want[i])
		}
	}
	last := es[MaxErrors]
	if last.Field != "" || last.Rule != "more" || last.Msg != "... and 5980 more errors" {
		t.Errorf("last entry %+v", last)
	}
	if n := len(err.Error()); n > 2000 {
		t.Errorf("answer of %d bytes", n)
	}
	// Errors of every kind share the cap, ordered by field.
	_, err = Decode(manyMembers(30, func(i int) string { return `"z` + strconv.Itoa(i) + `":0` }), testNow.AddDate(-10, 0, 0))
	if es := err.(Errors); len(es) != MaxErrors+1 || es[0].Field != "observed_at" || es[0].Rule != "future" || es[MaxErrors].Msg != "... and 11 more errors" {
		t.Errorf("mixed errors: %v", err)
	}
}

// TestDecodeDuplicate: a name given twice in an object is refused, at
// every level, however it is spelled, so that no reader of the same bytes
// can take another value than trucewatch did.
func TestDecodeDuplicate(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{mod(`"partner_id":"bravo","partner_id":"alpha"`), "partner_id/duplicate"},
		{`{"id":"r1","id":"r2","observed_at":"2017-01-04T13:30:00Z","lat":33.57,"lon":36.40,"category":"shelling"}`, "id/duplicate"},
		{`{"id":"r1","\u0069d":"r2","observed_at":"2017-01-04T13:30:00Z","lat":33.57,"lon":36.40,"category":"shelling"}`, "id/duplicate"},
		{`{"id":"r1","observed_at":"2017-01-04T13:30:00Z","lat":33.57,"lon":36.40,"category":"shelling","killed":1,"killed":1}`, "killed/duplicate"},
		{mod(`"x":1,"y":2,"x":1,"x":3`), "x/unknown,x/duplicate,y/unknown"},
		{mod(`"perpetrator":{"name":"a","side":"government"},"perpetrator":{"name":"b","side":"government"}`), "perpetrator/duplicate"},
		{mod(`"perpetrator":{"name":"a","side":"government","side":"excluded_group"}`), "perpetrator.side/duplicate"},
		{mod(`"target":{"name":"a","n\u0061me":"b"}`), "target.name/duplicate"},
		{mod(`"target":{"name":"a","q":1,"q":2}`), "target.q/unknown,target.q/duplicate"},
		{`{"id":"r1","observed_at":"2017-01-04T13:30:00Z","lat":1,"lon":36.40,"lat":"x","category":"shelling"}`, "lat/duplicate,lat/type"},
	} {
		_, err := Decode([]byte(c.doc), testNow)
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%s: accepted", c.doc)
			continue
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Field+"/"+e.Rule)
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s: got %v, want %s", c.doc, got, c.want)
		}
		if _, err2 := refDecode([]byte(c.doc), testNow); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%s: reference decoder says %v, Decode %v", c.doc, err2, err)
		}
	}
}

// TestDecodeHostileCost: for every worst-case document, the answer stays
// small, and the work per member does not grow with the members: doubling
// them adds no allocations but those of the member list and the name set
// growing (escaped names, unquoted one by one, cost a fixed few each).
func TestDecodeHostileCost(t *testing.T) {
	const n = 2000
	for _, h := range hostileDocs {
		small, large := h.doc(n), h.doc(2*n)
		_, err := Decode(large, testNow)
		if err == nil {
			t.Errorf("%s: accepted", h.name)
		} else if es, ok := err.(Errors); !ok || len(es) > MaxErrors+1 || len(err.Error()) > 2000 {
			t.Errorf("%s: answer of %d bytes: %.200v", h.name, len(err.Error()), err)
		}
		a1 := testing.AllocsPerRun(5, func() { Decode(small, testNow) })
		a2 := testing.AllocsPerRun(5, func() { Decode(large, testNow) })
		perMember := 0.01
		if strings.Contains(h.name, "escaped") {
			perMember = 6
		}
		if extra := a2 - a1; extra > 16+perMember*n {
			t.Errorf("%s: %.0f allocations for %d members, %.0f for %d", h.name, a1, n, a2, 2*n)
		}
	}
}

// TestClipField: long unknown names are cut at a character boundary.
func TestClipField(t *testing.T) {
	long := strings.Repeat("a", maxFieldLen-1) + "é" + strings.Repeat("b", 100)
	_, err := Decode(manyMembers(1, func(int) string { return `"` + long + `":0` }), testNow)
	es := err.(Errors)
	if want := strings.Repeat("a", maxFieldLen-1) + "..."; len(es) != 1 || es[0].Field != want {
		t.Fatalf("got %v, want field %q", err, want)
	}
}
