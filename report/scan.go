package report

import (
	"encoding/json"
	"unicode/utf8"
)

// The decoder reads a report in one pass over its bytes: json.Valid checks
// the syntax, then a scanner that may assume valid JSON splits objects into
// members and arrays into items without building maps or reflecting. This
// is the hot path of both ingest and the HTTPS intake.

// member is one key of a JSON object with its raw value.
type member struct {
	key []byte // unescaped
	raw []byte
}

// object is a JSON object's members in document order.
type object []member

// get returns the value of the last member named key, as encoding/json
// does for duplicate keys.
func (o object) get(key string) ([]byte, bool) {
	if i := o.last(key); i >= 0 {
		return o[i].raw, true
	}
	return nil, false
}

func (o object) last(key string) int {
	for i := len(o) - 1; i >= 0; i-- {
		if string(o[i].key) == key {
			return i
		}
	}
	return -1
}

// parseObject splits data, a whole document, into members appended to
// dst. It reports false when data is not valid UTF-8, not valid JSON or not
// an object. The common case, a valid object, is one strict pass over the
// bytes; anything that pass does not accept is decided by utf8.Valid and
// json.Valid, so the two paths agree on every input.
func parseObject(data []byte, dst object) (object, bool) {
	if obj, ok := scanObject(data, dst); ok {
		return obj, true
	}
	if !utf8.Valid(data) || !json.Valid(data) {
		return nil, false
	}
	return splitObject(data, dst)
}

// scanMaxDepth bounds the nesting scanObject follows itself; deeper
// documents (never valid reports) go to the slow path, which applies
// encoding/json's own limit.
const scanMaxDepth = 32

// scanObject is the strict one-pass reader: it checks JSON syntax and
// UTF-8 while it splits the top-level object into members. False means
// "not accepted here", not "invalid".
func scanObject(b []byte, dst object) (object, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	obj := dst
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return obj, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end, escaped, ok := scanString(b, i)
		if !ok {
			return nil, false
		}
		var key []byte
		if escaped {
			s, ok := unquote(b[i:end])
			if !ok {
				return nil, false
			}
			key = []byte(s)
		} else {
			key = b[i+1 : end-1]
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		vend, ok := scanValue(b, i, 1)
		if !ok {
			return nil, false
		}
		obj = append(obj, member{key: key, raw: b[i:vend]})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case '}':
			return obj, skipSpace(b, i+1) == len(b)
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, false
		}
	}
}

// scanValue checks the value starting at b[i] and returns the index after it.
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case c == '{':
		if depth >= scanMaxDepth {
			return 0, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			end, _, ok := scanString(b, i)
			if !ok {
				return 0, false
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, false
			}
			if i, ok = scanValue(b, skipSpace(b, i+1), depth+1); !ok {
				return 0, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case '}':
				return i + 1, true
			case ',':
				i = skipSpace(b, i+1)
			default:
				return 0, false
			}
		}
	case c == '[':
		if depth >= scanMaxDepth {
			return 0, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = scanValue(b, i, depth+1); !ok {
				return 0, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ']':
				return i + 1, true
			case ',':
				i = skipSpace(b, i+1)
			default:
				return 0, false
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return 0, false
}

func literal(b []byte, i int, word string) (int, bool) {
	if len(b)-i >= len(word) && string(b[i:i+len(word)]) == word {
		return i + len(word), true
	}
	return 0, false
}

// scanNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// scanString checks the string starting at b[i] == '"' (escapes, no
// control characters, valid UTF-8) and returns the index after it and
// whether it has escapes.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !hex4(b[i+2:i+6]) {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, false
			}
			i += size
		}
	}
	return 0, false, false
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// splitObject splits raw, one valid JSON value, into members appended to
// dst (a caller's array, so that small objects need no allocation); false
// when it is not an object.
func splitObject(raw []byte, dst object) (object, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	obj := dst
	i = skipSpace(raw, i+1)
	if raw[i] == '}' {
		return obj, true
	}
	for {
		end := skipString(raw, i)
		key, plain := plainString(raw[i:end])
		if !plain {
			s, _ := unquote(raw[i:end])
			key = []byte(s)
		}
		i = skipSpace(raw, end)
		i = skipSpace(raw, i+1) // ':'
		vend := skipValue(raw, i)
		obj = append(obj, member{key: key, raw: raw[i:vend]})
		i = skipSpace(raw, vend)
		if raw[i] == '}' {
			return obj, true
		}
		i = skipSpace(raw, i+1) // ','
	}
}

// parseArray splits raw, one valid JSON value, into items; false when it is
// not an array.
func parseArray(raw []byte) ([][]byte, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	var items [][]byte
	i = skipSpace(raw, i+1)
	if raw[i] == ']' {
		return items, true
	}
	for {
		end := skipValue(raw, i)
		items = append(items, raw[i:end])
		i = skipSpace(raw, end)
		if raw[i] == ']' {
			return items, true
		}
		i = skipSpace(raw, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// plainString returns the body of raw, one valid JSON value, when it is a
// string without escapes.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' {
			return nil, false
		}
	}
	return body, true
}

// unquote decodes raw, one valid JSON value, as a string; false when it is
// not a string. Strings without escapes, the common case, are not copied
// twice.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD; Decode has already
	// rejected documents that are not valid UTF-8, so the bytes are kept.
	_ = utf8.Valid
	return string(body), true
}

// MessageKey returns the top-level "id" of data when it is a string: the
// Kafka key of a report, read before (and whether or not) it is valid.
func MessageKey(data []byte) ([]byte, bool) {
	var buf [24]member
	obj, ok := scanObject(data, buf[:0])
	if !ok {
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return nil, false
		}
		obj = obj[:0]
		if raw, ok := m["id"]; ok {
			obj = append(obj, member{key: []byte("id"), raw: raw})
		}
	}
	raw, ok := obj.get("id")
	if !ok {
		return nil, false
	}
	if body, plain := plainString(raw); plain {
		return body, true
	}
	s, ok := unquote(raw)
	return []byte(s), ok
}
