package dlq

import (
	"bytes"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafka/publish"
)

// Fit cuts the value first, then the original headers, the key and
// the reason, and always fits.
func TestFitLetter(t *testing.T) {
	const limit = 10_000
	dlqHeaders := func(reason string) []kafka.Header {
		return []kafka.Header{{Key: HeaderReason, Value: []byte(reason)}, {Key: HeaderRule, Value: []byte("json")},
			{Key: HeaderSourceOffset, Value: []byte("42")}}
	}
	big := func(n int) []byte { return bytes.Repeat([]byte("v"), n) }
	cases := []struct {
		name string
		m    kafka.Message
		cut  string
	}{
		{"fits", kafka.Message{Key: []byte("k"), Value: big(100), Headers: dlqHeaders("bad")}, ""},
		{"value", kafka.Message{Key: []byte("k"), Value: big(20_000), Headers: dlqHeaders("bad")}, "value"},
		{"headers", kafka.Message{Key: []byte("k"), Value: big(100), Headers: append(dlqHeaders("bad"),
			kafka.Header{Key: "origin", Value: big(20_000)})}, "value,headers"},
		{"key", kafka.Message{Key: big(20_000), Value: big(100), Headers: dlqHeaders("bad")}, "value,headers,key"},
		{"reason", kafka.Message{Key: []byte("k"), Value: big(100), Headers: dlqHeaders(strings.Repeat("r", 20_000))}, "value,headers,key,reason"},
	}
	for _, c := range cases {
		got := Fit(c.m, limit)
		if n := publish.RecordSize(got); n > limit {
			t.Errorf("%s: %d bytes, over %d", c.name, n, limit)
		}
		if h := header(got.Headers, HeaderTruncated); h != c.cut {
			t.Errorf("%s: cut %q, want %q", c.name, h, c.cut)
		}
		if c.cut != "" && (header(got.Headers, HeaderOriginalSize) == "" || len(header(got.Headers, HeaderOriginalSHA256)) != 64 ||
			header(got.Headers, HeaderSourceOffset) != "42" || header(got.Headers, HeaderRule) != "json") {
			t.Errorf("%s: headers %v", c.name, got.Headers)
		}
	}
}
