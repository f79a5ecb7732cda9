package report

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		utc  bool // in UTC rather than a fixed offset
	}{
		{"2017-03-01", time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"2017-03-01T12:30:00Z", time.Date(2017, 3, 1, 12, 30, 0, 0, time.UTC), true},
		{"2017-03-01T12:30:00+02:00", time.Date(2017, 3, 1, 10, 30, 0, 0, time.UTC), false},
		{"2017-03-01T12:30:00.25Z", time.Date(2017, 3, 1, 12, 30, 0, 250e6, time.UTC), true},
	} {
		got, err := ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) || (got.Location() == time.UTC) != tc.utc {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (UTC %v)", tc.in, got, err, tc.want, tc.utc)
		}
	}
	for _, in := range []string{"", "2017-3-1", "2017-03-01 12:30:00", "2017-03-01T12:30Z", "yesterday"} {
		if _, err := ParseTime(in); err == nil || !strings.Contains(err.Error(), "neither") {
			t.Errorf("ParseTime(%q): err %v, want one", in, err)
		}
	}
}
