package report

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of schema v1. Each one is enforced by Decode and stated in
// schema/report.v1.json; TestSchemaAgreesWithGo keeps the two equal.
const (
	MaxReportBytes     = 64 << 10 // one encoded report
	MaxIDLen           = 128      // characters of id
	MaxPartnerIDLen    = 64       // characters of partner_id (ASCII)
	MaxActorNameLen    = 200      // characters of an actor name
	MaxDescriptionLen  = 4000     // characters of description
	MaxSources         = 20       // items in sources
	MaxSourceLen       = 1000     // characters of one source
	MaxCasualties      = 100000   // killed, injured
	MaxAccuracyM       = 1000000  // accuracy_m, metres
	MaxClockSkew       = 10 * time.Minute
	MaxIncidentSpan    = 31 * 24 * time.Hour // observed_until - observed_at
	MaxRevision        = math.MaxUint32
	earliestObservedAt = "2011-03-15T00:00:00Z" // start of the Syrian uprising
)

// EarliestObservedAt is the oldest observed_at accepted.
var EarliestObservedAt, _ = time.Parse(time.RFC3339, earliestObservedAt)

// PartnerIDPattern is the pattern partner_id must match.
const PartnerIDPattern = `^[A-Za-z0-9][A-Za-z0-9._-]*$`

// validPartnerID matches PartnerIDPattern (TestPartnerIDPattern checks the
// two agree); it is written out because it runs on every report.
func validPartnerID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			continue
		}
		if i == 0 || (c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return s != ""
}

// FieldError is one problem with one field. Field is a JSON path such as
// "lat" or "perpetrator.side" ("" for the document as a whole); Rule is a
// stable machine-readable name (required, type, range, enum, ...).
type FieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
	Msg   string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Rule + ": " + e.Msg
	}
	return e.Field + ": " + e.Rule + ": " + e.Msg
}

// Errors is every problem found in one report, one per bad field.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "report: " + strings.Join(parts, "; ")
}

// decoder collects field errors while it reads one document.
type decoder struct {
	now  time.Time
	errs Errors
	// src is the document as one string: the report's strings without
	// escapes are cut from it, one allocation for all of them. base is
	// the document the members' raw values are slices of.
	src  string
	base []byte
}

// unquote is the package's unquote, cutting plain strings from d.src.
func (d *decoder) unquote(raw []byte) (string, bool) {
	if body, plain := plainString(raw); plain {
		if len(body) == 0 {
			return "", true
		}
		// body is a slice of d.base: its offset follows from the capacities.
		if off := cap(d.base) - cap(body); off >= 0 && off+len(body) <= len(d.base) && &d.base[off] == &body[0] {
			return d.src[off : off+len(body)], true
		}
	}
	return unquote(raw)
}

func (d *decoder) fail(field, rule, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Field: field, Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

// Decode parses and validates one schema v1 report. now bounds observed_at
// from above (plus MaxClockSkew). The error, when not nil, is an Errors
// value listing every bad field, so a partner can fix them all at once.
func Decode(data []byte, now time.Time) (Report, error) {
	var r Report
	if len(data) > MaxReportBytes {
		return r, Errors{{Rule: "size", Msg: fmt.Sprintf("report is %d bytes, the limit is %d", len(data), MaxReportBytes)}}
	}
	var buf [24]member
	fields, ok := scanObject(data, buf[:0])
	if !ok && !utf8.Valid(data) {
		return r, Errors{{Rule: "encoding", Msg: "report is not valid UTF-8"}}
	}
	if !ok {
		fields, ok = parseObject(data, buf[:0])
	}
	if !ok {
		msg := "report must be a JSON object"
		var v map[string]json.RawMessage
		if err := json.Unmarshal(data, &v); err != nil {
			msg += ": " + err.Error()
		}
		return r, Errors{{Rule: "json", Msg: msg}}
	}
	d := decoder{now: now, src: string(data), base: data}
	var top topLevel
	for i, m := range fields {
		if n := fieldNum(string(m.key)); n >= 0 {
			top.raw[n], top.has[n] = m.raw, true // the last one wins, as in encoding/json
		} else if fields.last(string(m.key)) == i {
			d.fail(string(m.key), "unknown", "unknown field (schema %s)", SchemaVersion)
		}
	}
	get := getter{top: &top}
	r.ID = d.str(get, "id", true, MaxIDLen, true)
	if r.ID != "" && !printable(r.ID) {
		d.fail("id", "format", "must not contain spaces, control or invisible format characters")
	}
	r.PartnerID = d.str(get, "partner_id", false, MaxPartnerIDLen, false)
	if r.PartnerID != "" && !validPartnerID(r.PartnerID) {
		d.fail("partner_id", "format", "must match %s", PartnerIDPattern)
	}
	r.Revision = 1
	if _, ok := get.get("revision"); ok {
		if v, ok := d.integer(get, "revision", 1, MaxRevision); ok {
			r.Revision = uint32(v)
		}
	}
	r.ObservedAt = d.time(get, "observed_at", true)
	r.ObservedUntil = d.time(get, "observed_until", false)
	if !r.ObservedAt.IsZero() && !r.ObservedUntil.IsZero() {
		switch span := r.ObservedUntil.Sub(r.ObservedAt); {
		case span < 0:
			d.fail("observed_until", "order", "must not be before observed_at")
		case span > MaxIncidentSpan:
			d.fail("observed_until", "range", "incident spans %s, the limit is %s after observed_at", span, MaxIncidentSpan)
		}
	}
	r.TimePrecision = enum(&d, get, "time_precision", TimePrecisions)
	r.Lat = d.number(get, "lat", true, -90, 90)
	r.Lon = d.number(get, "lon", true, -180, 180)
	r.AccuracyM = d.number(get, "accuracy_m", false, 0, MaxAccuracyM)
	r.GeoPrecision = enum(&d, get, "geo_precision", GeoPrecisions)
	if _, ok := get.get("category"); !ok {
		d.fail("category", "required", "is required (one of %s)", join(Categories))
	} else {
		r.Category = enum(&d, get, "category", Categories)
	}
	r.Perpetrator = d.actor(get, "perpetrator")
	r.Target = d.actor(get, "target")
	if v, ok := d.integer(get, "killed", 0, MaxCasualties); ok {
		r.Killed = uint32(v)
	}
	if v, ok := d.integer(get, "injured", 0, MaxCasualties); ok {
		r.Injured = uint32(v)
	}
	r.Description = d.str(get, "description", false, MaxDescriptionLen, true)
	r.Sources = d.sources(get)
	if len(d.errs) > 0 {
		d.errs.sort()
		return Report{}, d.errs
	}
	return r, nil
}

// fieldNames are the top-level fields of schema v1, in fieldNum's order.
var fieldNames = [...]string{"id", "partner_id", "revision", "observed_at", "observed_until",
	"time_precision", "lat", "lon", "accuracy_m", "geo_precision",
	"category", "perpetrator", "target", "killed", "injured",
	"description", "sources"}

// fieldNum is name's index in fieldNames, -1 for an unknown field; a
// switch, because it runs for every member of every report
// (TestSchemaLimits holds it to fieldNames).
func fieldNum(name string) int {
	switch name {
	case "id":
		return 0
	case "partner_id":
		return 1
	case "revision":
		return 2
	case "observed_at":
		return 3
	case "observed_until":
		return 4
	case "time_precision":
		return 5
	case "lat":
		return 6
	case "lon":
		return 7
	case "accuracy_m":
		return 8
	case "geo_precision":
		return 9
	case "category":
		return 10
	case "perpetrator":
		return 11
	case "target":
		return 12
	case "killed":
		return 13
	case "injured":
		return 14
	case "description":
		return 15
	case "sources":
		return 16
	}
	return -1
}

// getter finds a member's raw value: in top by field number when set,
// else by searching obj.
type getter struct {
	obj object
	top *topLevel
}

func (g getter) get(name string) ([]byte, bool) {
	if g.top == nil {
		return g.obj.get(name)
	}
	n := fieldNum(name)
	if n < 0 || !g.top.has[n] {
		return nil, false
	}
	return g.top.raw[n], true
}

// topLevel is a report's members indexed by field number, so that the
// seventeen lookups of Decode do not each search the object.
type topLevel struct {
	raw [len(fieldNames)][]byte
	has [len(fieldNames)]bool
}

// present returns the raw value of name, treating JSON null as absent.
func present(fields getter, name string) ([]byte, bool) {
	raw, ok := fields.get(name)
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// str reads a string field. limit counts bytes, or characters when runes is set.
func (d *decoder) str(fields getter, name string, required bool, limit int, runes bool) string {
	raw, ok := present(fields, name)
	if !ok {
		if required {
			d.fail(name, "required", "is required")
		}
		return ""
	}
	s, ok := d.unquote(raw)
	if !ok {
		d.fail(name, "type", "must be a string")
		return ""
	}
	return d.checkString(name, s, required, limit, runes)
}

func (d *decoder) checkString(name, s string, required bool, limit int, runes bool) string {
	n, unit := len(s), "bytes"
	if runes {
		n, unit = utf8.RuneCountInString(s), "characters"
	}
	switch {
	case s == "" && required:
		d.fail(name, "required", "must not be empty")
	case n > limit:
		d.fail(name, "length", "is %d %s, the limit is %d", n, unit, limit)
	case strings.ContainsRune(s, 0):
		d.fail(name, "format", "must not contain NUL characters")
	default:
		return s
	}
	return ""
}

func (d *decoder) number(fields getter, name string, required bool, lo, hi float64) float64 {
	raw, ok := present(fields, name)
	if !ok {
		if required {
			d.fail(name, "required", "is required")
		}
		return 0
	}
	f, ok := d.parseNumber(name, raw)
	if !ok {
		return 0
	}
	if f < lo || f > hi {
		d.fail(name, "range", "must be between %g and %g, got %g", lo, hi, f)
		return 0
	}
	return f
}

// parseNumber accepts a JSON number only: NaN, Infinity and numbers in
// strings are type errors, because partners' tools emit them by mistake.
func (d *decoder) parseNumber(name string, raw []byte) (float64, bool) {
	// raw is one valid JSON value (the document parsed), so when it starts
	// like a number it is one.
	if !isJSONNumber(raw) {
		d.fail(name, "type", "must be a number, got %s", clip(string(raw)))
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(name, "range", "must be a finite number, got %s", clip(string(raw)))
		return 0, false
	}
	return f, true
}

func isJSONNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}

func (d *decoder) integer(fields getter, name string, lo, hi float64) (uint64, bool) {
	raw, ok := present(fields, name)
	if !ok {
		return 0, false
	}
	f, ok := d.parseNumber(name, raw)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) {
		d.fail(name, "type", "must be a whole number, got %g", f)
		return 0, false
	}
	if f < lo || f > hi {
		d.fail(name, "range", "must be between %.0f and %.0f, got %.0f", lo, hi, f)
		return 0, false
	}
	return uint64(f), true
}

func (d *decoder) time(fields getter, name string, required bool) time.Time {
	s := d.str(fields, name, required, 64, false)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(name, "format", "must be an RFC 3339 time such as 2017-01-04T13:30:00Z, got %q", clip(s))
		return time.Time{}
	}
	t = t.UTC()
	switch {
	case t.Before(EarliestObservedAt):
		d.fail(name, "range", "must not be before %s, got %s", earliestObservedAt, s)
	case !d.now.IsZero() && t.After(d.now.Add(MaxClockSkew)):
		d.fail(name, "future", "is in the future (%s; now is %s)", s, d.now.UTC().Format(time.RFC3339))
	default:
		return t
	}
	return time.Time{}
}

// enum reads a string field that must be one of allowed. The common case,
// a plain string that matches, returns the constant without allocating.
func enum[T ~string](d *decoder, fields getter, name string, allowed []T) T {
	raw, ok := present(fields, name)
	if !ok {
		return ""
	}
	if body, plain := plainString(raw); plain {
		for _, v := range allowed {
			if string(body) == string(v) {
				return v
			}
		}
	}
	s, ok := d.unquote(raw)
	if !ok {
		d.fail(name, "type", "must be a string")
		return ""
	}
	for _, v := range allowed {
		if s == string(v) {
			return v
		}
	}
	d.fail(name, "enum", "unknown value %q (one of %s)", clip(s), join(allowed))
	return ""
}

func (d *decoder) actor(fields getter, name string) Actor {
	raw, ok := present(fields, name)
	if !ok {
		return Actor{}
	}
	var buf [4]member
	obj, ok := splitObject(raw, buf[:0])
	if !ok {
		d.fail(name, "type", `must be an object {"name": ..., "side": ...}`)
		return Actor{}
	}
	for i, m := range obj {
		if k := string(m.key); k != "name" && k != "side" && obj.last(k) == i {
			d.fail(name+"."+k, "unknown", "unknown field")
		}
	}
	before := len(d.errs)
	a := Actor{
		Name: d.str(getter{obj: obj}, "name", false, MaxActorNameLen, true),
		Side: enum(d, getter{obj: obj}, "side", Sides),
	}
	// d.str and d.enum named the inner field; prefix the path.
	for i := before; i < len(d.errs); i++ {
		d.errs[i].Field = name + "." + d.errs[i].Field
	}
	if a.Side == "" && a.Name != "" {
		a.Side = Unknown
	}
	return a
}

func (d *decoder) sources(fields getter) []string {
	raw, ok := present(fields, "sources")
	if !ok {
		return nil
	}
	list, ok := parseArray(raw)
	if !ok {
		d.fail("sources", "type", "must be an array of strings")
		return nil
	}
	if len(list) > MaxSources {
		d.fail("sources", "length", "has %d items, the limit is %d", len(list), MaxSources)
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		field := "sources[" + strconv.Itoa(i) + "]"
		s, ok := d.unquote(item)
		if !ok {
			d.fail(field, "type", "must be a string")
			continue
		}
		if s = d.checkString(field, s, true, MaxSourceLen, true); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// sort orders errors by field so that messages are stable across runs
// (map iteration order would otherwise shuffle unknown-field errors).
func (es Errors) sort() {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Field < es[j-1].Field; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func printable(s string) bool {
	for _, r := range s {
		if r < utf8.RuneSelf {
			if r <= ' ' || r == 0x7f {
				return false
			}
			continue
		}
		// The same class as the schema's id pattern, which JSON Schema
		// validators in every language can evaluate: no white space, no
		// control characters, and no invisible format characters (soft
		// hyphen, zero-width and bidirectional controls), which would let
		// two ids look alike.
		if unicode.IsSpace(r) || unicode.IsControl(r) || invisible(r) {
			return false
		}
	}
	return true
}

// invisibleRanges are the format characters (Unicode category Cf) of the
// Basic Multilingual Plane, as the schema lists them.
var invisibleRanges = [][2]rune{
	{0x00ad, 0x00ad}, {0x0600, 0x0605}, {0x061c, 0x061c}, {0x06dd, 0x06dd}, {0x070f, 0x070f},
	{0x0890, 0x0891}, {0x08e2, 0x08e2}, {0x180e, 0x180e}, {0x200b, 0x200f}, {0x202a, 0x202e},
	{0x2060, 0x2064}, {0x2066, 0x206f}, {0xfeff, 0xfeff}, {0xfff9, 0xfffb},
}

func invisible(r rune) bool {
	for _, rg := range invisibleRanges {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
