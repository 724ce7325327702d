package seatable

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// PeekWebhook reads a body's key without decoding the rest of it: what
// webhook intake needs to store a delivery under its id and check its
// base. ok is true only for a row event (RowOpTypes) with a base, a table
// and a row id, whose id ParseWebhook would derive from the same fields;
// any other body (a link event, whose id hashes its whole data; a body of
// another shape) must be decoded with ParseWebhook. A body PeekWebhook
// accepts may still be refused by ParseWebhook (a cell of the wrong
// type): its reader then keeps it as a failed event.
//
// It checks that the body is JSON, then walks the top level and data
// without decoding the other values. Keys are matched as ParseWebhook's
// decode matches them (exactly; the last of a repeated key wins), and
// whatever could read differently there (an escaped key or field,
// invalid UTF-8, a field of another type) is left to ParseWebhook.
func PeekWebhook(body []byte) (k WebhookKey, ok bool) {
	if !json.Valid(body) {
		return WebhookKey{}, false
	}
	var event string
	var data []byte
	top := members{b: body, i: skipSpace(body, 0)}
	if top.i >= len(body) || body[top.i] != '{' {
		return WebhookKey{}, false
	}
	for key, val, more := top.next(); more; key, val, more = top.next() {
		if key == nil {
			return WebhookKey{}, false // an escaped key
		}
		switch string(key) {
		case "event":
			if event, ok = plainString(val); !ok {
				return WebhookKey{}, false
			}
		case "data":
			data = val
		}
	}
	if event == "" || len(data) == 0 || data[0] != '{' {
		return WebhookKey{}, false
	}
	var opTime []byte
	fields := members{b: data}
	for key, val, more := fields.next(); more; key, val, more = fields.next() {
		if key == nil {
			return WebhookKey{}, false
		}
		var dst *string
		switch string(key) {
		case "dtable_uuid":
			dst = &k.BaseUUID
		case "table_id":
			dst = &k.TableID
		case "row_id":
			dst = &k.RowID
		case "op_type":
			dst = &k.OpType
		case "op_time":
			opTime = val
			continue
		default:
			continue
		}
		if *dst, ok = plainString(val); !ok {
			return WebhookKey{}, false
		}
	}
	if k.BaseUUID == "" || !RowOpTypes[k.OpType] || k.TableID == "" || k.RowID == "" {
		return WebhookKey{}, false
	}
	if opTime != nil && !bytes.Equal(opTime, []byte("null")) {
		if opTime[0] != '-' && (opTime[0] < '0' || opTime[0] > '9') {
			return WebhookKey{}, false // not a number
		}
		f, err := strconv.ParseFloat(string(opTime), 64)
		if err != nil {
			return WebhookKey{}, false
		}
		k.OpTime = f
	}
	return k, true
}

// members walks the members of a JSON object in b, which must be valid
// JSON; i starts at its '{'.
type members struct {
	b    []byte
	i    int
	done bool
}

// next returns the next member's key (without quotes; nil when the key
// has an escape) and its value, as it is written. more is false after the
// last member.
func (m *members) next() (key, val []byte, more bool) {
	if m.done {
		return nil, nil, false
	}
	b := m.b
	if b[m.i] == '{' {
		m.i = skipSpace(b, m.i+1)
		if b[m.i] == '}' {
			m.done = true
			return nil, nil, false
		}
	}
	end, escaped := stringEnd(b, m.i)
	if !escaped {
		key = b[m.i+1 : end-1]
	}
	i := skipSpace(b, end) + 1 // past ':'
	i = skipSpace(b, i)
	vend := valueEnd(b, i)
	val = b[i:vend]
	i = skipSpace(b, vend)
	if b[i] == '}' {
		m.done = true
	}
	m.i = skipSpace(b, i+1)
	return key, val, true
}

// plainString returns a JSON string value that needs no decoding: no
// escapes, valid UTF-8. ok is false for any other value.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return "", false
	}
	return string(s), true
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at i,
// and whether it has an escape.
func stringEnd(b []byte, i int) (end int, escaped bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return len(b), escaped
}

// valueEnd returns the index just past the JSON value starting at i.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
