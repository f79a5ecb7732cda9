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
// dst. It reports false when data is not valid JSON or not an object.
func parseObject(data []byte, dst object) (object, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	return splitObject(data, dst)
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
