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
// report.Decode (which ingest runs on the message) finds; so raw goes as it
// is when that is already partner, gets partner_id inserted when it has
// none and no escape that could spell the key differently, and is
// re-encoded from the decoded report otherwise.
func withPartner(raw []byte, r *report.Report, partner string) ([]byte, error) {
	switch {
	case r.PartnerID == partner:
		return raw, nil
	case r.PartnerID == "" && raw[0] == '{' && !bytes.ContainsRune(raw, '\\') && !bytes.Contains(raw, []byte(`"partner_id"`)):
		// partner matches report.PartnerIDPattern: nothing to escape.
		v := make([]byte, 0, len(raw)+len(partner)+16)
		v = append(v, `{"partner_id":"`...)
		v = append(v, partner...)
		v = append(v, `",`...)
		return append(v, raw[1:]...), nil
	}
	rr := *r
	rr.PartnerID = partner
	return json.Marshal(rr)
}
