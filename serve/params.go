package serve

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage/read"
)

// paramError is a client error that names the parameter at fault.
type paramError struct {
	Status  int    // HTTP status, 400 unless set
	Param   string // the parameter (query or path) at fault
	Message string
}

func (e *paramError) Error() string { return e.Param + ": " + e.Message }

func badParam(param, format string, args ...any) *paramError {
	return &paramError{Status: 400, Param: param, Message: fmt.Sprintf(format, args...)}
}

// query wraps the query string of one request: it rejects parameters the
// endpoint does not take, and repeated parameters.
type query struct {
	v url.Values
}

func newQuery(u *url.URL, allowed []string) (*query, error) {
	v, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, badParam("query", "malformed query string")
	}
	var unknown []string
	for k, vs := range v {
		if k == "" {
			return nil, badParam("query", "a parameter without a name")
		}
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
			continue
		}
		if len(vs) > 1 {
			return nil, badParam(k, "given %d times; give it once (lists are comma-separated)", len(vs))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, badParam(unknown[0], "unknown parameter (this endpoint takes: %s)", strings.Join(allowed, ", "))
	}
	return &query{v: v}, nil
}

func (q *query) get(name string) (string, bool) {
	vs, ok := q.v[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// window is a half-open time window [From, To).
type window struct {
	From, To time.Time
}

// dayAligned reports whether both ends are UTC midnights.
func (w window) dayAligned() bool { return isMidnight(w.From) && isMidnight(w.To) }

func (w window) hourAligned() bool {
	return w.From.Equal(w.From.Truncate(time.Hour)) && w.To.Equal(w.To.Truncate(time.Hour))
}

func isMidnight(t time.Time) bool {
	t = t.UTC()
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// parseTime accepts RFC 3339 (seconds precision) or a date YYYY-MM-DD
// (midnight UTC).
func parseTime(param, s string) (time.Time, error) {
	t, err := report.ParseTime(s)
	if err != nil {
		return time.Time{}, badParam(param, "want a date (2017-03-01) or an RFC 3339 time (2017-03-01T12:00:00Z), got %q", s)
	}
	if t.Nanosecond() != 0 {
		return time.Time{}, badParam(param, "sub-second times are not supported")
	}
	// Dates and times alike: ClickHouse's DateTime holds 1970..2106 and
	// wraps outside it.
	if t.Year() < 1971 || t.Year() > 2105 {
		return time.Time{}, badParam(param, "year %d out of range 1971..2105", t.Year())
	}
	return t.UTC(), nil
}

// window reads from and to. Both are optional: to defaults to the next UTC
// midnight after now, from to DefaultWindow before to.
func (q *query) window(now time.Time, defaultWindow, maxWindow time.Duration) (window, error) {
	return q.windowIn(now, defaultWindow, maxWindow, time.UTC)
}

// windowIn is window with dates read as midnights in loc.
func (q *query) windowIn(now time.Time, defaultWindow, maxWindow time.Duration, loc *time.Location) (window, error) {
	var w window
	var err error
	fs, hasFrom := q.get("from")
	ts, hasTo := q.get("to")
	if hasTo {
		if w.To, err = parseTimeIn("to", ts, loc); err != nil {
			return w, err
		}
	}
	if hasFrom {
		if w.From, err = parseTimeIn("from", fs, loc); err != nil {
			return w, err
		}
	}
	switch {
	case !hasTo && !hasFrom:
		n := now.In(loc)
		w.To = time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, loc).UTC()
		w.From = w.To.Add(-defaultWindow)
	case !hasTo:
		w.To = w.From.Add(defaultWindow)
	case !hasFrom:
		w.From = w.To.Add(-defaultWindow)
	}
	if !w.To.After(w.From) {
		return w, badParam("to", "must be after from (%s)", w.From.Format(time.RFC3339))
	}
	if w.To.Sub(w.From) > maxWindow {
		return w, badParam("to", "window from %s to %s is longer than the maximum of %s",
			w.From.Format(time.RFC3339), w.To.Format(time.RFC3339), fmtDays(maxWindow))
	}
	return w, nil
}

// parseTimeIn is parseTime with a date read as midnight in loc.
func parseTimeIn(param, s string, loc *time.Location) (time.Time, error) {
	t, err := parseTime(param, s)
	if err != nil || loc == time.UTC || len(s) != len("2006-01-02") {
		return t, err
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc).UTC(), nil
}

// location reads tz, an IANA time zone name (default UTC). The hourly zone
// aggregates can only be cut at whole hours, so a zone whose offset is
// not whole hours during [from, to) is refused (checked by the caller).
func (q *query) location() (*time.Location, error) {
	s, has := q.get("tz")
	if !has || s == "UTC" {
		return time.UTC, nil
	}
	if len(s) > 64 || strings.ContainsAny(s, " .\\") {
		return nil, badParam("tz", "%q is not an IANA time zone name such as Asia/Damascus", clipParam(s))
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, badParam("tz", "%q is not an IANA time zone name such as Asia/Damascus", clipParam(s))
	}
	return loc, nil
}

func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// maxListValues bounds the distinct values of a list parameter.
const maxListValues = 32

// list reads a comma-separated list; each item must satisfy ok. Repeated
// items count once. It stops at the first distinct value over
// maxListValues, so that its time is linear in the length of the list
// (each item is compared with at most maxListValues others).
func (q *query) list(name string, ok func(string) bool, want string) ([]string, error) {
	s, has := q.get(name)
	if !has {
		return nil, nil
	}
	var out []string
	for rest, more := s, true; more; {
		var it string
		it, rest, more = strings.Cut(rest, ",")
		it = strings.TrimSpace(it)
		if it == "" || !ok(it) {
			return nil, badParam(name, "%q is not %s", clipParam(it), want)
		}
		if slices.Contains(out, it) {
			continue
		}
		if len(out) == maxListValues {
			return nil, badParam(name, "at most %d values", maxListValues)
		}
		out = append(out, it)
	}
	return out, nil
}

// clipParam cuts a value quoted in an error to its first 64 bytes.
func clipParam(s string) string {
	if len(s) <= 64 {
		return s
	}
	return strings.ToValidUTF8(s[:64], "") + "..."
}

func (q *query) intRange(name string, def, lo, hi int) (int, error) {
	s, has := q.get(name)
	if !has {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badParam(name, "want an integer from %d to %d, got %q", lo, hi, s)
	}
	return n, nil
}

// enum reads a parameter that takes one of a fixed set of values.
func (q *query) enum(name, def string, values ...string) (string, error) {
	s, has := q.get(name)
	if !has {
		return def, nil
	}
	if !slices.Contains(values, s) {
		return "", badParam(name, "want one of %s, got %q", strings.Join(values, ", "), s)
	}
	return s, nil
}

var partnerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func validCategory(s string) bool  { return report.Category(s).Valid() }
func validSide(s string) bool      { return report.Side(s).Valid() }
func validPartner(s string) bool   { return partnerRe.MatchString(s) }
func validPrecision(s string) bool { return s != "" && read.PrecisionIndex(s) >= 0 }

// violationClasses are the values of the violation parameter: a class, or
// true (a candidate violation, definite or possible) and false (none).
var violationClasses = map[string][]uint8{
	"definite": {read.DefiniteViolation},
	"possible": {read.PossibleViolation},
	"none":     {read.NotViolation},
	"true":     {read.DefiniteViolation, read.PossibleViolation},
	"false":    {read.NotViolation},
}

// violations reads violation=definite,possible,none,true,false (a list).
func (q *query) violations() ([]uint8, error) {
	vs, err := q.list("violation", func(s string) bool { return violationClasses[s] != nil }, "definite, possible, none, true or false")
	if err != nil || vs == nil {
		return nil, err
	}
	var out []uint8
	for _, v := range vs {
		for _, c := range violationClasses[v] {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// filters are the report filters shared by the tile and drill-down
// endpoints.
type filters = read.Filter

// inWindow is f over window w.
func inWindow(f filters, w window) read.Filter {
	f.From, f.To = w.From, w.To
	return f
}

func (q *query) filters(knownZone func(string) bool) (filters, error) {
	var f filters
	var err error
	if f.Categories, err = q.list("category", validCategory, "a report category"); err != nil {
		return f, err
	}
	if f.Sides, err = q.list("side", validSide, "a side (government, opposition, excluded_group, unknown)"); err != nil {
		return f, err
	}
	if f.Violations, err = q.violations(); err != nil {
		return f, err
	}
	if f.Precisions, err = q.list("precision", validPrecision, "a geo precision ("+strings.Join(read.Precisions, ", ")+")"); err != nil {
		return f, err
	}
	if f.Zones, err = q.list("zone", knownZone, "a known zone id"); err != nil {
		return f, err
	}
	if f.Partners, err = q.list("partner", validPartner, "a partner id"); err != nil {
		return f, err
	}
	return f, nil
}

// bbox parses "minLon,minLat,maxLon,maxLat".
func (q *query) bbox(name string, required bool) (orb.Bound, bool, error) {
	s, has := q.get(name)
	if !has {
		if required {
			return orb.Bound{}, false, badParam(name, "required")
		}
		return orb.Bound{}, false, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return orb.Bound{}, false, badParam(name, "want minLon,minLat,maxLon,maxLat")
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return orb.Bound{}, false, badParam(name, "coordinate %d (%q) is not a number", i+1, p)
		}
		v[i] = f
	}
	switch {
	case v[0] < -180 || v[2] > 180:
		return orb.Bound{}, false, badParam(name, "longitudes must be within -180..180")
	case v[1] < -90 || v[3] > 90:
		return orb.Bound{}, false, badParam(name, "latitudes must be within -90..90")
	case v[0] > v[2]:
		return orb.Bound{}, false, badParam(name, "minLon is greater than maxLon")
	case v[1] > v[3]:
		return orb.Bound{}, false, badParam(name, "minLat is greater than maxLat")
	}
	return orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}, true, nil
}

// cursor is the keyset position after the last report of a page.
type cursor struct {
	T int64  `json:"t"` // observed_at, Unix seconds
	P string `json:"p"` // partner id
	R string `json:"r"` // report id
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (q *query) cursor() (*cursor, error) {
	s, has := q.get("cursor")
	if !has {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err != nil || len(raw) > 512 || json.Unmarshal(raw, &c) != nil || c.P == "" || c.R == "" {
		return nil, badParam("cursor", "not a cursor returned by this endpoint")
	}
	return &c, nil
}

// listing is what the list endpoints (reports, incidents) share: an
// optional bbox, a window and a page size.
type listing struct {
	q     *query
	box   *read.Box // nil: everywhere
	win   window
	limit int
}

func (s *Server) parseListing(r *http.Request, params []string, defLimit, maxLimit int) (listing, error) {
	var l listing
	var err error
	if l.q, err = newQuery(r.URL, params); err != nil {
		return l, err
	}
	bb, hasBB, err := l.q.bbox("bbox", false)
	if err != nil {
		return l, err
	}
	if hasBB {
		l.box = &read.Box{MinLon: bb.Min[0], MinLat: bb.Min[1], MaxLon: bb.Max[0], MaxLat: bb.Max[1]}
	}
	if l.win, err = l.q.window(s.windowNow(r), s.o.Window, s.o.MaxWindow); err != nil {
		return l, err
	}
	l.limit, err = l.q.intRange("limit", defLimit, 1, maxLimit)
	return l, err
}
