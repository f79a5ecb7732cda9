package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"

	"github.com/trucewatch/trucewatch/report"
)

type kind int

const (
	kindJSON kind = iota + 1
	kindNDJSON
)

// item is one report's bytes in a request body.
type item struct {
	data []byte
	line int // 1-based line of an NDJSON body, else 0
}

// errTooMany means the body holds more than the item limit.
var errTooMany = errors.New("intake: too many reports")

// errBody is a body that cannot be split into reports (400).
type errBody string

func (e errBody) Error() string { return string(e) }

// split cuts a body into reports without interpreting them: a JSON body is
// one object or an array of values; an NDJSON body is one value per
// non-blank line. A body that cannot be split is an error as a whole; an
// item that is not a valid report is left for decodeItem to reject.
func split(k kind, body []byte, maxItems int) ([]item, error) {
	var items []item
	switch k {
	case kindNDJSON:
		line := 0
		for rest := body; len(rest) > 0; {
			var l []byte
			l, rest, _ = bytes.Cut(rest, []byte{'\n'})
			line++
			l = bytes.TrimSpace(l)
			if len(l) == 0 {
				continue
			}
			if len(items) == maxItems {
				return nil, errTooMany
			}
			items = append(items, item{data: l, line: line})
		}
	case kindJSON:
		trimmed := bytes.TrimSpace(body)
		switch {
		case len(trimmed) == 0:
		case trimmed[0] == '[':
			var err error
			if items, err = splitArray(trimmed, maxItems); err != nil {
				return nil, err
			}
		case trimmed[0] == '{':
			if maxItems < 1 {
				return nil, errTooMany
			}
			items = []item{{data: trimmed}}
		default:
			return nil, errBody("a " + ContentTypeJSON + " body must be a report object or an array of report objects")
		}
	default:
		return nil, errBody("unsupported content type")
	}
	if len(items) == 0 {
		return nil, errBody("the body holds no report")
	}
	return items, nil
}

func splitArray(b []byte, maxItems int) ([]item, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // '['
		return nil, badArray(err)
	}
	var items []item
	for dec.More() {
		if len(items) == maxItems {
			return nil, errTooMany
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, badArray(err)
		}
		items = append(items, item{data: raw})
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, badArray(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBody("the body is not a JSON array: there is more after its closing bracket")
	}
	return items, nil
}

func badArray(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errBody(fmt.Sprintf("the body is not a valid JSON array (at byte %d): %v", se.Offset, se))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errBody("the body is not a valid JSON array: it ends too early")
	}
	return errBody("the body is not a valid JSON array")
}

// decodeItem validates one report with report.Decode, the code ingest
// runs, plus one rule of the intake: ids must not hide invisible or
// bidirectional formatting characters, which make two different ids look
// the same to the people reviewing reports.
func decodeItem(data []byte, now time.Time) (report.Report, error) {
	r, err := report.Decode(data, now)
	if err != nil {
		return r, err
	}
	if !safeID(r.ID) {
		return report.Report{}, report.Errors{{Field: "id", Rule: "format", Msg: "must not contain invisible or bidirectional formatting characters (zero-width, RTL/LTR overrides, soft hyphens)"}}
	}
	return r, nil
}

// safeID reports whether id is free of Unicode format characters (Cf:
// U+200B..U+200F, U+202A..U+202E, U+2066..U+2069, U+00AD, U+FEFF...) and
// of control characters.
func safeID(id string) bool {
	for _, r := range id {
		if unicode.Is(unicode.Cf, r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// withPartner returns the message value of a valid report: raw with its
// partner_id set to partner. The effective partner_id is the one
// report.Decode (which ingest runs on the message) finds, so: raw goes as
// it is when that is already partner; otherwise, when raw has no escapes
// (which could spell a key differently), the values of its top-level
// partner_id keys are replaced, or one is inserted; anything else is
// re-encoded from the decoded report.
func withPartner(arena *[]byte, raw []byte, r *report.Report, partner string) ([]byte, error) {
	if r.PartnerID == partner {
		return raw, nil
	}
	start := len(*arena)
	if out, ok := splicePartner(*arena, raw, partner); ok {
		*arena = out
		return out[start:len(out):len(out)], nil
	}
	rr := *r
	rr.PartnerID = partner
	return json.Marshal(rr)
}

// splicePartner appends to dst raw, a JSON object without backslashes,
// with its top-level partner_id rewritten. partner matches
// report.PartnerIDPattern, so it needs no escaping. ok is false when raw is
// not as expected. The values of one request share dst, one allocation
// for all of them.
func splicePartner(dst, raw []byte, partner string) (out []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '{' || bytes.IndexByte(raw, '\\') >= 0 {
		return dst, false
	}
	start := len(dst)
	out = dst
	found := false
	last := 0 // raw[last:] is not copied yet
	i := 1
	for {
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == '}' && !found && last == 0 {
			return dst, false // empty object: never a valid report
		}
		if i >= len(raw) || raw[i] != '"' {
			return dst, false
		}
		end := bytes.IndexByte(raw[i+1:], '"')
		if end < 0 {
			return dst, false
		}
		key := raw[i+1 : i+1+end]
		i = skipSpace(raw, i+end+2)
		if i >= len(raw) || raw[i] != ':' {
			return dst, false
		}
		vstart := skipSpace(raw, i+1)
		vend, ok := skipValue(raw, vstart)
		if !ok {
			return dst, false
		}
		if string(key) == "partner_id" {
			out = append(out, raw[last:vstart]...)
			out = append(out, '"')
			out = append(out, partner...)
			out = append(out, '"')
			last, found = vend, true
		}
		i = skipSpace(raw, vend)
		if i >= len(raw) {
			return dst, false
		}
		if raw[i] == ',' {
			i++
			continue
		}
		if raw[i] != '}' || skipSpace(raw, i+1) != len(raw) {
			return dst, false
		}
		break
	}
	if found {
		return append(out, raw[last:]...), true
	}
	out = append(out[:start], `{"partner_id":"`...)
	out = append(out, partner...)
	out = append(out, `",`...)
	return append(out, raw[1:]...), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at b[i:] (no backslashes in b).
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		end := bytes.IndexByte(b[i+1:], '"')
		if end < 0 {
			return 0, false
		}
		return i + end + 2, true
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := bytes.IndexByte(b[j+1:], '"')
				if end < 0 {
					return 0, false
				}
				j += end + 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}
