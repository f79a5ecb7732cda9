package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
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
	MaxIncidentSpan    = 366 * 24 * time.Hour // observed_until - observed_at: a year, as datasets record national yearly figures
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

// Errors is the problems found in one report, one per bad field, in field
// order: the first MaxErrors of them and then, when there were more, one
// entry with rule "more" that says how many (so that the answer to a
// report with thousands of bad members stays small).
type Errors []FieldError

// MaxErrors is the most field errors Decode lists for one report.
const MaxErrors = 20

// maxFieldLen bounds the bytes of a field path in an error: a longer
// (unknown) name is cut and ends in "...".
const maxFieldLen = 64

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "report: " + strings.Join(parts, "; ")
}

// decoder collects field errors while it reads one document.
type decoder struct {
	now time.Time
	// errs is the first MaxErrors errors in field order (stable: errors of
	// one field in the order they were found); more counts the rest.
	errs []keptError
	more int
	// prefix is the path of the object being read ("perpetrator."),
	// prepended to the fields of its errors.
	prefix string
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
		if s, ok := d.cut(body); ok {
			return s, true
		}
	}
	return unquote(raw)
}

// cut returns b as a string cut from d.src when b is a slice of d.base
// (its offset follows from the capacities): no copy.
func (d *decoder) cut(b []byte) (string, bool) {
	if len(b) > 0 {
		if off := cap(d.base) - cap(b); off >= 0 && off+len(b) <= len(d.base) && &d.base[off] == &b[0] {
			return d.src[off : off+len(b)], true
		}
	}
	return "", false
}

// key returns a member's key as a string, cut from d.src when it can be.
func (d *decoder) key(m member) string {
	if s, ok := d.cut(m.key); ok {
		return s
	}
	return string(m.key)
}

// fail records an error of field (in the object at d.prefix).
func (d *decoder) fail(field, rule, format string, args ...any) {
	e := d.newError(field, rule)
	if i, ok := d.slot(&e); ok {
		e.msg = fmt.Sprintf(format, args...)
		d.put(i, e)
	}
}

// keptError is one of decoder.errs. Its path is prefix+field, or long
// (already clipped) when that is longer than maxFieldLen: the path is
// joined only for the errors Decode returns.
type keptError struct {
	prefix, field, long string
	rule, msg           string
}

func (d *decoder) newError(field, rule string) keptError {
	e := keptError{prefix: d.prefix, field: field, rule: rule}
	if len(d.prefix)+len(field) > maxFieldLen {
		e.long = clipField(d.prefix + field)
	}
	return e
}

func (e *keptError) path() string {
	if e.long != "" {
		return e.long
	}
	return e.prefix + e.field
}

// before reports whether e's path sorts before o's.
func (e *keptError) before(o *keptError) bool {
	if e.long != "" || o.long != "" {
		return e.path() < o.path()
	}
	return joinedLess(e.prefix, e.field, o.prefix, o.field)
}

// joinedLess reports whether a1+a2 sorts before b1+b2, joining neither.
func joinedLess(a1, a2, b1, b2 string) bool {
	for {
		if a1 == "" {
			a1, a2 = a2, ""
		}
		if b1 == "" {
			b1, b2 = b2, ""
		}
		if a1 == "" || b1 == "" {
			return a1 == "" && b1 != ""
		}
		n := min(len(a1), len(b1))
		if a1[:n] != b1[:n] {
			return a1[:n] < b1[:n]
		}
		a1, b1 = a1[n:], b1[n:]
	}
}

// slot returns where e goes in d.errs, or false, counting it in d.more,
// when it falls beyond the first MaxErrors. The errors are kept sorted as
// they come, so that each costs at most MaxErrors steps however many there
// are, and nothing is allocated for one left out: the list is that of a
// stable sort of all of them cut after MaxErrors.
func (d *decoder) slot(e *keptError) (int, bool) {
	i := len(d.errs)
	for i > 0 && e.before(&d.errs[i-1]) {
		i--
	}
	if i == MaxErrors {
		d.more++
		return 0, false
	}
	return i, true
}

// put inserts e at i, a slot's answer, dropping the last error when the
// list is full.
func (d *decoder) put(i int, e keptError) {
	if len(d.errs) == MaxErrors {
		d.errs = d.errs[:MaxErrors-1]
		d.more++
	}
	d.errs = slices.Insert(d.errs, i, e)
}

// result is the errors found, with the "more" entry when some were left out.
func (d *decoder) result() Errors {
	es := make(Errors, len(d.errs), len(d.errs)+1)
	for i := range d.errs {
		e := &d.errs[i]
		es[i] = FieldError{Field: e.path(), Rule: e.rule, Msg: e.msg}
	}
	if d.more > 0 {
		es = append(es, moreErrors(d.more))
	}
	return es
}

func moreErrors(n int) FieldError {
	return FieldError{Rule: "more", Msg: fmt.Sprintf("... and %d more errors", n)}
}

// clipField cuts a field path longer than maxFieldLen bytes at a
// character boundary and marks the cut with "...".
func clipField(s string) string {
	if len(s) <= maxFieldLen {
		return s
	}
	n := maxFieldLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// add is fail with a message that needs no formatting.
func (d *decoder) add(field, rule, msg string) {
	e := d.newError(field, rule)
	if i, ok := d.slot(&e); ok {
		e.msg = msg
		d.put(i, e)
	}
}

const duplicateMsg = "given more than once; JSON readers differ on which value counts, give it once"

// checkMembers reports, for the members of one object, one "unknown" error
// for each name known does not take (known gives a name's index in
// counts, -1 for an unknown one), and then one "duplicate" error for each
// name given more than once: readers of JSON differ on which value counts
// (encoding/json takes the last, others the first), so a report whose
// value depends on it is refused. Linear in the members.
func (d *decoder) checkMembers(obj object, known func([]byte) int, counts []int, unknownMsg string) {
	var unknown map[string]int // occurrences of each unknown name
	dup := false
	for _, m := range obj {
		if n := known(m.key); n >= 0 {
			counts[n]++
			dup = dup || counts[n] > 1
			continue
		}
		if unknown == nil {
			unknown = make(map[string]int)
		}
		k := d.key(m)
		c := unknown[k]
		if c == 0 {
			d.add(k, "unknown", unknownMsg)
		}
		dup = dup || c > 0
		unknown[k] = c + 1
	}
	if !dup {
		return
	}
	for _, m := range obj {
		if n := known(m.key); n >= 0 {
			if counts[n] > 1 {
				d.add(d.key(m), "duplicate", duplicateMsg)
				counts[n] = 0
			}
		} else if c := unknown[string(m.key)]; c > 1 {
			d.add(d.key(m), "duplicate", duplicateMsg)
			unknown[string(m.key)] = 0
		}
	}
}

// Decode parses and validates one schema v1 report. now bounds observed_at
// from above (plus MaxClockSkew). The error, when not nil, is an Errors
// value listing every bad field (the first MaxErrors of them and how many
// more), so a partner can fix them all at once. A name given twice in an
// object is an error (rule duplicate). Decode's time is linear in the
// size of data.
func Decode(data []byte, now time.Time) (Report, error) {
	var buf [24]member
	fields, errs := members(data, buf[:0])
	if errs != nil {
		return Report{}, errs
	}
	d := decoder{now: now, src: string(data), base: data}
	top, odd := indexMembers(fields)
	if odd {
		var counts [len(fieldNames)]int
		d.checkMembers(fields, topField, counts[:], "unknown field (schema "+SchemaVersion+")")
	}
	get := getter{top: &top}
	// Each phase returns its fields, so that r stays a local (the phases
	// writing through a pointer made Decode 10% slower).
	var r Report
	r.ID, r.PartnerID, r.Revision = d.identity(get)
	r.Withdrawn = d.boolean(get, "withdrawn")
	// A withdrawal names the report and its new revision; what it
	// withdraws is the stored content (see storage's plan).
	need := !r.Withdrawn
	r.ObservedAt, r.ObservedUntil, r.TimePrecision = d.when(get, need)
	r.Lat, r.Lon, r.AccuracyM, r.GeoPrecision = d.where(get, need)
	r.Category, r.Perpetrator, r.Target = d.what(get, need)
	r.Killed, r.Injured = d.casualties(get)
	r.Description = d.str(get, "description", false, MaxDescriptionLen, true)
	r.Sources = d.sources(get)
	r.IncidentOf = d.incidentOf(get, r.Key())
	if len(d.errs) > 0 {
		return Report{}, d.result()
	}
	return r, nil
}

// members splits the report into its top-level members (appended to buf),
// or says why it cannot: too large, not UTF-8, not a JSON object.
func members(data []byte, buf []member) (object, Errors) {
	if len(data) > MaxReportBytes {
		return nil, Errors{{Rule: "size", Msg: fmt.Sprintf("report is %d bytes, the limit is %d", len(data), MaxReportBytes)}}
	}
	fields, ok := scanObject(data, buf)
	if !ok && !utf8.Valid(data) {
		return nil, Errors{{Rule: "encoding", Msg: "report is not valid UTF-8"}}
	}
	if !ok {
		fields, ok = parseObject(data, buf)
	}
	if !ok {
		msg := "report must be a JSON object"
		var v map[string]json.RawMessage
		if err := json.Unmarshal(data, &v); err != nil {
			msg += ": " + err.Error()
		}
		return nil, Errors{{Rule: "json", Msg: msg}}
	}
	return fields, nil
}

// indexMembers returns the known members of fields by field number (the last
// one wins, as in encoding/json), and whether a member is unknown or
// repeated: only then are they checked one by one.
func indexMembers(fields object) (top topLevel, odd bool) {
	for _, m := range fields {
		if n := fieldNum(string(m.key)); n >= 0 {
			odd = odd || top.has[n]
			top.raw[n], top.has[n] = m.raw, true
		} else {
			odd = true
		}
	}
	return top, odd
}

// identity reads id, partner_id and revision.
func (d *decoder) identity(get getter) (id, partnerID string, revision uint32) {
	id = d.str(get, "id", true, MaxIDLen, true)
	if id != "" && !printable(id) {
		d.fail("id", "format", "must not contain spaces, control or invisible format characters")
	}
	partnerID = d.str(get, "partner_id", false, MaxPartnerIDLen, false)
	if partnerID != "" && !validPartnerID(partnerID) {
		d.fail("partner_id", "format", "must match %s", PartnerIDPattern)
	}
	revision = 1
	if _, ok := get.get("revision"); ok {
		if v, ok := d.integer(get, "revision", 1, MaxRevision); ok {
			revision = uint32(v)
		}
	}
	return id, partnerID, revision
}

// when reads observed_at, observed_until and time_precision.
func (d *decoder) when(get getter, required bool) (at, until time.Time, precision TimePrecision) {
	at = d.time(get, "observed_at", required)
	until = d.time(get, "observed_until", false)
	if !at.IsZero() && !until.IsZero() {
		switch span := until.Sub(at); {
		case span < 0:
			d.fail("observed_until", "order", "must not be before observed_at")
		case span > MaxIncidentSpan:
			d.fail("observed_until", "range", "incident spans %.1f days, the limit is %.0f days after observed_at", span.Hours()/24, MaxIncidentSpan.Hours()/24)
		}
	}
	return at, until, enum(d, get, "time_precision", timePrecisions)
}

// where reads lat, lon, accuracy_m and geo_precision.
func (d *decoder) where(get getter, required bool) (lat, lon, accuracyM float64, precision GeoPrecision) {
	lat = d.number(get, "lat", required, -90, 90)
	lon = d.number(get, "lon", required, -180, 180)
	accuracyM = d.number(get, "accuracy_m", false, 0, MaxAccuracyM)
	return lat, lon, accuracyM, enum(d, get, "geo_precision", geoPrecisions)
}

// what reads the category and the actors.
func (d *decoder) what(get getter, required bool) (c Category, perpetrator, target Actor) {
	if _, ok := get.get("category"); !ok {
		if required {
			d.fail("category", "required", "is required (one of %s)", join(categories))
		}
	} else {
		c = enum(d, get, "category", categories)
	}
	return c, d.actor(get, "perpetrator"), d.actor(get, "target")
}

// casualties reads killed and injured.
func (d *decoder) casualties(get getter) (killed, injured uint32) {
	if v, ok := d.integer(get, "killed", 0, MaxCasualties); ok {
		killed = uint32(v)
	}
	if v, ok := d.integer(get, "injured", 0, MaxCasualties); ok {
		injured = uint32(v)
	}
	return killed, injured
}

// fieldNames are the top-level fields of schema v1, in fieldNum's order.
var fieldNames = [...]string{"id", "partner_id", "revision", "observed_at", "observed_until",
	"time_precision", "lat", "lon", "accuracy_m", "geo_precision",
	"category", "perpetrator", "target", "killed", "injured",
	"description", "sources", "withdrawn", "incident_of"}

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
	case "withdrawn":
		return 17
	case "incident_of":
		return 18
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

// boolean reads an optional JSON true or false.
func (d *decoder) boolean(fields getter, name string) bool {
	raw, ok := present(fields, name)
	if !ok {
		return false
	}
	switch string(raw) {
	case "true":
		return true
	case "false":
		return false
	}
	d.fail(name, "type", "must be true or false, got %s", clip(string(raw)))
	return false
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
	// The errors of the members name their path.
	d.prefix = actorPrefix(name)
	var counts [2]int
	d.checkMembers(obj, actorField, counts[:], "unknown field")
	a := Actor{
		Name: d.str(getter{obj: obj}, "name", false, MaxActorNameLen, true),
		Side: enum(d, getter{obj: obj}, "side", sides),
	}
	d.prefix = ""
	if a.Side == "" && a.Name != "" {
		a.Side = Unknown
	}
	return a
}

// topField is fieldNum of a member's key.
func topField(key []byte) int { return fieldNum(string(key)) }

func actorPrefix(name string) string {
	switch name {
	case "perpetrator":
		return "perpetrator."
	case "target":
		return "target."
	}
	return name + "."
}

// actorField is the index of an actor's field, -1 for an unknown one.
func actorField(key []byte) int {
	switch string(key) {
	case "name":
		return 0
	case "side":
		return 1
	}
	return -1
}

// incidentOf reads incident_of, {"partner_id": ..., "id": ...}: the
// report self (whose partner may still be unknown) reports the same event
// as. A report linked to itself is refused (CheckIncidentOf, once the
// partner is known).
func (d *decoder) incidentOf(fields getter, self Key) Key {
	raw, ok := present(fields, "incident_of")
	if !ok {
		return Key{}
	}
	var buf [4]member
	obj, ok := splitObject(raw, buf[:0])
	if !ok {
		d.fail("incident_of", "type", `must be an object {"partner_id": ..., "id": ...}`)
		return Key{}
	}
	d.prefix = "incident_of."
	var counts [2]int
	d.checkMembers(obj, linkField, counts[:], "unknown field")
	get := getter{obj: obj}
	k := Key{PartnerID: d.str(get, "partner_id", true, MaxPartnerIDLen, false), ID: d.str(get, "id", true, MaxIDLen, true)}
	if k.PartnerID != "" && !validPartnerID(k.PartnerID) {
		d.fail("partner_id", "format", "must match %s", PartnerIDPattern)
		k.PartnerID = ""
	}
	if k.ID != "" && !printable(k.ID) {
		d.fail("id", "format", "must not contain spaces, control or invisible format characters")
		k.ID = ""
	}
	d.prefix = ""
	if k == self && k.PartnerID != "" && k.ID != "" {
		d.add("incident_of", "self", selfLinkMsg)
	}
	return k
}

const selfLinkMsg = "names the report itself; it must name another report of the same event"

// linkField is the index of a field of incident_of, -1 for an unknown one.
func linkField(key []byte) int {
	switch string(key) {
	case "partner_id":
		return 0
	case "id":
		return 1
	}
	return -1
}

// CheckIncidentOf refuses a report linked to itself, for the stages that
// set the partner after Decode (ingest from a header or a partner topic).
func CheckIncidentOf(r *Report) error {
	if r.IncidentOf != (Key{}) && r.IncidentOf == r.Key() {
		return Errors{{Field: "incident_of", Rule: "self", Msg: selfLinkMsg}}
	}
	return nil
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
