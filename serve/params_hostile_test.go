package serve

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestParamsListHostile: a list parameter with 100,000 values is refused
// after the first value over the limit, each value compared with at most
// maxListValues others; repeats count once; errors quote at most a short
// piece of a value.
func TestParamsListHostile(t *testing.T) {
	list := func(raw string) (vals []string, calls int, err error) {
		q, err := newQuery(&url.URL{RawQuery: raw}, []string{"partner"})
		if err != nil {
			t.Fatal(err)
		}
		vals, err = q.list("partner", func(s string) bool { calls++; return validPartner(s) }, "a partner id")
		return vals, calls, err
	}
	var pe *paramError
	vals, calls, err := list(hostilePartners(100000))
	if !errors.As(err, &pe) || pe.Param != "partner" || pe.Message != "at most 32 values" {
		t.Fatalf("100,000 partners: %v (%d values)", err, len(vals))
	}
	if calls > maxListValues+1 {
		t.Errorf("100,000 partners: %d values checked before the refusal, want at most %d", calls, maxListValues+1)
	}
	if _, _, err := list(hostilePartners(maxListValues)); err != nil {
		t.Errorf("%d partners: %v", maxListValues, err)
	}
	if _, _, err := list(hostilePartners(maxListValues + 1)); err == nil {
		t.Errorf("%d partners accepted", maxListValues+1)
	}
	vals, calls, err = list("partner=" + strings.Repeat("p1,", 99999) + "p1")
	if err != nil || len(vals) != 1 || calls != 100000 {
		t.Errorf("one partner 100,000 times: %v, %v, %d checks", vals, err, calls)
	}
	_, _, err = list("partner=" + strings.Repeat("x", 100000) + "%00")
	if !errors.As(err, &pe) || len(pe.Message) > 200 {
		t.Errorf("long bad value: error of %d bytes", len(err.Error()))
	}
}

// hostilePartners is a partner= list of n distinct valid values.
func hostilePartners(n int) string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = "p" + strconv.Itoa(i)
	}
	return "partner=" + strings.Join(vs, ",")
}

// BenchmarkParamsHostile prints what parsing the worst filter lists costs:
// 100,000 distinct partner values, and as many repeats of one.
//
//	go test ./serve -run '^$' -bench ParamsHostile -benchmem
func BenchmarkParamsHostile(b *testing.B) {
	allowed := []string{"partner", "category"}
	for _, c := range []struct{ name, raw string }{
		{"partner-distinct-100000", hostilePartners(100000)},
		{"partner-same-100000", "partner=" + strings.Repeat("p1,", 99999) + "p1"},
		{"category-same-100000", "category=" + strings.Repeat("shelling,", 99999) + "shelling"},
	} {
		b.Run(c.name, func(b *testing.B) {
			u := &url.URL{RawQuery: c.raw}
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				q, err := newQuery(u, allowed)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = q.filters(func(string) bool { return false })
			}
		})
	}
}
