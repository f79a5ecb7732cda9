package report

import (
	"fmt"
	"time"
)

// ParseTime reads a time as people give one on a command line, in a query
// parameter or in a zone file: an RFC 3339 time (2017-03-01T12:00:00Z, any
// offset, any fraction of a second) or a date (2017-03-01), which means
// 00:00 UTC that day. A time keeps the offset it was given (callers that
// print it or bound its year decide whether to convert to UTC first).
// Callers name the flag or parameter in their errors and add their own
// bounds.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2017-03-01T12:00:00Z) nor a date (2017-03-01)", s)
}
