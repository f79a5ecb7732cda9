package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// decoder collects field errors while it reads one document.
type refDecoder struct {
	now  time.Time
	errs Errors
}

func (d *refDecoder) fail(field, rule, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Field: clipField(field), Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

// result sorts every error found by field (stably) and keeps the first
// MaxErrors, with one more entry counting the rest.
func (d *refDecoder) result() Errors {
	es := slices.Clone(d.errs)
	slices.SortStableFunc(es, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	if len(es) > MaxErrors {
		es = append(es[:MaxErrors:MaxErrors], moreErrors(len(es)-MaxErrors))
	}
	return es
}

// refDuplicates returns the names given more than once in the object raw,
// as encoding/json's tokenizer reads them.
func refDuplicates(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var names []string
	times := map[string]int{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return names
		}
		k := t.(string)
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return names
		}
		if times[k]++; times[k] == 2 {
			names = append(names, k)
		}
	}
	return names
}

// refDecode is the first, map-based decoder, kept as the reference that
// FuzzDecodeMatchesReference compares the one-pass decoder with. It parses and validates one schema v1 report. now bounds observed_at
// from above (plus MaxClockSkew). The error, when not nil, is an Errors
// value listing every bad field (the first MaxErrors and how many more),
// so a partner can fix them all at once; a name given twice in an object
// is an error.
func refDecode(data []byte, now time.Time) (Report, error) {
	var r Report
	if len(data) > MaxReportBytes {
		return r, Errors{{Rule: "size", Msg: fmt.Sprintf("report is %d bytes, the limit is %d", len(data), MaxReportBytes)}}
	}
	if !utf8.Valid(data) {
		return r, Errors{{Rule: "encoding", Msg: "report is not valid UTF-8"}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		msg := "report must be a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return r, Errors{{Rule: "json", Msg: msg}}
	}
	d := refDecoder{now: now}
	for name := range fields {
		if !slices.Contains(fieldNames[:], name) {
			d.fail(name, "unknown", "unknown field (schema %s)", SchemaVersion)
		}
	}
	for _, name := range refDuplicates(data) {
		d.fail(name, "duplicate", duplicateMsg)
	}
	r.ID = d.str(fields, "id", true, MaxIDLen, true)
	if r.ID != "" && !printable(r.ID) {
		d.fail("id", "format", "must not contain spaces or control characters")
	}
	r.PartnerID = d.str(fields, "partner_id", false, MaxPartnerIDLen, false)
	if r.PartnerID != "" && !regexp.MustCompile(PartnerIDPattern).MatchString(r.PartnerID) {
		d.fail("partner_id", "format", "must match %s", PartnerIDPattern)
	}
	r.Revision = 1
	if _, ok := fields["revision"]; ok {
		if v, ok := d.integer(fields, "revision", 1, MaxRevision); ok {
			r.Revision = uint32(v)
		}
	}
	r.ObservedAt = d.time(fields, "observed_at", true)
	r.ObservedUntil = d.time(fields, "observed_until", false)
	if !r.ObservedAt.IsZero() && !r.ObservedUntil.IsZero() {
		switch span := r.ObservedUntil.Sub(r.ObservedAt); {
		case span < 0:
			d.fail("observed_until", "order", "must not be before observed_at")
		case span > MaxIncidentSpan:
			d.fail("observed_until", "range", "incident spans %.1f days, the limit is %.0f days after observed_at", span.Hours()/24, MaxIncidentSpan.Hours()/24)
		}
	}
	r.TimePrecision = TimePrecision(d.enum(fields, "time_precision", timePrecisions))
	r.Lat = d.number(fields, "lat", true, -90, 90)
	r.Lon = d.number(fields, "lon", true, -180, 180)
	r.AccuracyM = d.number(fields, "accuracy_m", false, 0, MaxAccuracyM)
	r.GeoPrecision = GeoPrecision(d.enum(fields, "geo_precision", geoPrecisions))
	if _, ok := fields["category"]; !ok {
		d.fail("category", "required", "is required (one of %s)", join(categories))
	} else {
		r.Category = Category(d.enum(fields, "category", categories))
	}
	r.Perpetrator = d.actor(fields, "perpetrator")
	r.Target = d.actor(fields, "target")
	if v, ok := d.integer(fields, "killed", 0, MaxCasualties); ok {
		r.Killed = uint32(v)
	}
	if v, ok := d.integer(fields, "injured", 0, MaxCasualties); ok {
		r.Injured = uint32(v)
	}
	r.Description = d.str(fields, "description", false, MaxDescriptionLen, true)
	r.Sources = d.sources(fields)
	r.IncidentOf = d.incidentOf(fields, r.Key())
	if len(d.errs) > 0 {
		return Report{}, d.result()
	}
	return r, nil
}

// present returns the raw value of name, treating JSON null as absent.
func refPresent(fields map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := fields[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}
	return raw, true
}

// str reads a string field. limit counts bytes, or characters when runes is set.
func (d *refDecoder) str(fields map[string]json.RawMessage, name string, required bool, limit int, runes bool) string {
	raw, ok := refPresent(fields, name)
	if !ok {
		if required {
			d.fail(name, "required", "is required")
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail(name, "type", "must be a string")
		return ""
	}
	return d.checkString(name, s, required, limit, runes)
}

func (d *refDecoder) checkString(name, s string, required bool, limit int, runes bool) string {
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

func (d *refDecoder) number(fields map[string]json.RawMessage, name string, required bool, lo, hi float64) float64 {
	raw, ok := refPresent(fields, name)
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
func (d *refDecoder) parseNumber(name string, raw json.RawMessage) (float64, bool) {
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&num); err != nil || !refIsJSONNumber(raw) {
		d.fail(name, "type", "must be a number, got %s", clip(string(raw)))
		return 0, false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(name, "range", "must be a finite number, got %s", clip(string(raw)))
		return 0, false
	}
	return f, true
}

func refIsJSONNumber(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))
}

func (d *refDecoder) integer(fields map[string]json.RawMessage, name string, lo, hi float64) (uint64, bool) {
	raw, ok := refPresent(fields, name)
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

func (d *refDecoder) time(fields map[string]json.RawMessage, name string, required bool) time.Time {
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

func (d *refDecoder) enum(fields map[string]json.RawMessage, name string, allowed any) string {
	raw, ok := refPresent(fields, name)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail(name, "type", "must be a string")
		return ""
	}
	var ok2 bool
	var list string
	switch a := allowed.(type) {
	case []Category:
		ok2, list = slices.Contains(a, Category(s)), join(a)
	case []Side:
		ok2, list = slices.Contains(a, Side(s)), join(a)
	case []TimePrecision:
		ok2, list = slices.Contains(a, TimePrecision(s)), join(a)
	case []GeoPrecision:
		ok2, list = slices.Contains(a, GeoPrecision(s)), join(a)
	}
	if !ok2 {
		d.fail(name, "enum", "unknown value %q (one of %s)", clip(s), list)
		return ""
	}
	return s
}

func (d *refDecoder) actor(fields map[string]json.RawMessage, name string) Actor {
	raw, ok := refPresent(fields, name)
	if !ok {
		return Actor{}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		d.fail(name, "type", `must be an object {"name": ..., "side": ...}`)
		return Actor{}
	}
	for k := range obj {
		if k != "name" && k != "side" {
			d.fail(name+"."+k, "unknown", "unknown field")
		}
	}
	for _, k := range refDuplicates(raw) {
		d.fail(name+"."+k, "duplicate", duplicateMsg)
	}
	before := len(d.errs)
	a := Actor{
		Name: d.str(obj, "name", false, MaxActorNameLen, true),
		Side: Side(d.enum(obj, "side", sides)),
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

func (d *refDecoder) sources(fields map[string]json.RawMessage) []string {
	raw, ok := refPresent(fields, "sources")
	if !ok {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		d.fail("sources", "type", "must be an array of strings")
		return nil
	}
	if len(list) > MaxSources {
		d.fail("sources", "length", "has %d items, the limit is %d", len(list), MaxSources)
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		field := fmt.Sprintf("sources[%d]", i)
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			d.fail(field, "type", "must be a string")
			continue
		}
		if s = d.checkString(field, s, true, MaxSourceLen, true); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (d *refDecoder) incidentOf(fields map[string]json.RawMessage, self Key) Key {
	raw, ok := refPresent(fields, "incident_of")
	if !ok {
		return Key{}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		d.fail("incident_of", "type", `must be an object {"partner_id": ..., "id": ...}`)
		return Key{}
	}
	for k := range obj {
		if k != "partner_id" && k != "id" {
			d.fail("incident_of."+k, "unknown", "unknown field")
		}
	}
	for _, k := range refDuplicates(raw) {
		d.fail("incident_of."+k, "duplicate", duplicateMsg)
	}
	before := len(d.errs)
	k := Key{PartnerID: d.str(obj, "partner_id", true, MaxPartnerIDLen, false), ID: d.str(obj, "id", true, MaxIDLen, true)}
	if k.PartnerID != "" && !regexp.MustCompile(PartnerIDPattern).MatchString(k.PartnerID) {
		d.fail("partner_id", "format", "must match %s", PartnerIDPattern)
		k.PartnerID = ""
	}
	if k.ID != "" && !printable(k.ID) {
		d.fail("id", "format", "must not contain spaces or control characters")
		k.ID = ""
	}
	for i := before; i < len(d.errs); i++ {
		d.errs[i].Field = "incident_of." + d.errs[i].Field
	}
	if k == self && k.PartnerID != "" && k.ID != "" {
		d.fail("incident_of", "self", selfLinkMsg)
	}
	return k
}
