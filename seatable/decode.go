package seatable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// validator is implemented by response types that check, after decoding,
// that the fields the client relies on are present.
type validator interface{ validate() error }

// decodeResponse decodes a 2xx response body into out, strictly enough to
// catch garbage: the body must be exactly one JSON object, its fields must
// have the expected types, and out's own validation must pass. The error
// text says what was wrong; callers classify it as KindTransient.
func decodeResponse(body []byte, out any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errors.New("empty response body")
	}
	if !json.Valid(trimmed) {
		return fmt.Errorf("response is not JSON: %q", snippet(trimmed))
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("response is not a JSON object: %q", snippet(trimmed))
	}
	if err := json.Unmarshal(trimmed, out); err != nil {
		return fmt.Errorf("unexpected response shape: %w", err)
	}
	if v, ok := out.(validator); ok {
		if err := v.validate(); err != nil {
			return fmt.Errorf("unexpected response shape: %w", err)
		}
	}
	return nil
}

// errorMessage extracts SeaTable's message from an error body: error_msg,
// error_message or detail, else error_type, else the raw body trimmed.
func errorMessage(body []byte) string {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ""
	}
	var m map[string]any
	if trimmed[0] == '{' && json.Unmarshal(trimmed, &m) == nil {
		for _, k := range []string{"error_msg", "error_message", "detail", "error_type"} {
			if s, ok := m[k].(string); ok && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s)
			}
		}
	}
	return snippet(trimmed)
}

// snippetMax bounds how much of a body goes into an error message.
const snippetMax = 200

// snippet returns at most snippetMax bytes of b as valid UTF-8, marking a
// cut with "...".
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) <= snippetMax {
		return s
	}
	cut := snippetMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// refusedError is returned by a validator when a 2xx response says that
// SeaTable refused the request ({"success": false, "error_message": ...}):
// that is KindInvalid, not garbage.
type refusedError string

func (e refusedError) Error() string { return string(e) }
