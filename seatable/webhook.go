package seatable

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header SeaTable puts a webhook's signature in
// when the webhook has a secret.
const SignatureHeader = "X-SeaTable-Signature"

// WebhookEvent is one SeaTable webhook delivery:
// {"event": "update", "data": {...table event...}}.
type WebhookEvent struct {
	// Event is the top-level "event" (SeaTable always sends "update").
	Event string
	// BaseUUID is data.dtable_uuid as sent: 32 hex digits without dashes
	// (see CanonicalUUID to compare it with Client.BaseUUID).
	BaseUUID string
	RowID    string
	OpUser   string
	// OpType is e.g. insert_row, modify_row, delete_row, append_rows,
	// add_link, remove_link.
	OpType string
	// OpTime is the time of the change in Unix seconds with fractions.
	OpTime    float64
	TableID   string
	TableName string
	// RowName is the value of the row's first column as text.
	RowName string
	// Cells are the changed cells of a row event (data.row_data); empty for
	// link events, whose table1_*/row_data1/... fields stay in Raw.
	Cells []CellChange
	// Raw is the whole data object.
	Raw map[string]any

	// top holds the body's top-level members other than event and data,
	// for Envelope.
	top map[string]json.RawMessage
}

// Envelope returns the body as a generic JSON value without
// data.row_data (the changed cells, which the event carries decoded): the
// top-level members and data's, read once by ParseWebhook. The data map
// is a copy of Raw's first level (Raw keeps row_data).
func (w *WebhookEvent) Envelope() map[string]any {
	out := make(map[string]any, len(w.top)+2)
	for k, raw := range w.top {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			out[k] = v
		}
	}
	data := make(map[string]any, len(w.Raw))
	for k, v := range w.Raw {
		if k != "row_data" {
			data[k] = v
		}
	}
	out["event"], out["data"] = w.Event, data
	return out
}

// CellChange is one changed cell of a row event. Value and OldValue are
// SeaTable's raw stored values: select options as option ids, dates as
// strings; Display turns them into what a user sees.
type CellChange struct {
	ColumnKey  string
	ColumnName string
	ColumnType string
	ColumnData map[string]any
	Value      any
	OldValue   any
}

// Time returns OpTime as a time.Time.
func (w *WebhookEvent) Time() time.Time { return w.key().Time() }

// ParseWebhook parses a webhook body. It must be a JSON object with a
// string "event" and an object "data"; data must carry dtable_uuid and
// op_type as strings. For a row event (RowOpTypes) every other known field
// must have its type (strings, a number op_time, a row_data array of cell
// objects). Any other op type (link events, and whatever else SeaTable's
// table-events channel carries) is accepted as long as it has those two:
// fields of an unexpected type are left empty, and everything stays in
// Raw. Unknown fields, such as those of link events, are kept in Raw.
func ParseWebhook(body []byte) (*WebhookEvent, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("parse webhook: empty body")
	}
	var top map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &top) != nil {
		// Validity is only scanned for on this path: Unmarshal has
		// checked it on the other.
		if !json.Valid(trimmed) {
			return nil, fmt.Errorf("parse webhook: body is not JSON: %q", snippet(trimmed))
		}
		return nil, errors.New("parse webhook: body is not a JSON object")
	}
	w := &WebhookEvent{}
	defer func() {
		delete(top, "event")
		delete(top, "data")
		w.top = top
	}()
	evRaw, ok := top["event"]
	if !ok {
		return nil, errors.New(`parse webhook: no "event"`)
	}
	if json.Unmarshal(evRaw, &w.Event) != nil || w.Event == "" {
		return nil, errors.New(`parse webhook: "event" is not a non-empty string`)
	}
	dataRaw, ok := top["data"]
	if !ok {
		return nil, errors.New(`parse webhook: no "data"`)
	}
	if d := bytes.TrimSpace(dataRaw); len(d) == 0 || d[0] != '{' || json.Unmarshal(d, &w.Raw) != nil {
		return nil, errors.New(`parse webhook: "data" is not an object`)
	}
	data := w.Raw

	var err error
	strict := true // until op_type says otherwise
	str := func(key string, required bool) string {
		if err != nil {
			return ""
		}
		v, present := data[key]
		if !present || v == nil {
			if required {
				err = fmt.Errorf("parse webhook: no data.%s", key)
			}
			return ""
		}
		s, isStr := v.(string)
		if !isStr && !strict && !required {
			return ""
		}
		if !isStr {
			err = fmt.Errorf("parse webhook: data.%s is %s, want a string", key, jsonType(v))
			return ""
		}
		if required && s == "" {
			err = fmt.Errorf("parse webhook: data.%s is empty", key)
		}
		return s
	}
	w.BaseUUID = str("dtable_uuid", true)
	w.OpType = str("op_type", true)
	strict = RowOpTypes[w.OpType]
	w.RowID = str("row_id", false)
	w.OpUser = str("op_user", false)
	w.TableID = str("table_id", false)
	w.TableName = str("table_name", false)
	if err != nil {
		return nil, err
	}
	switch t := data["op_time"].(type) {
	case nil:
	case float64:
		w.OpTime = t
	case string:
		f, perr := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if perr != nil && strict {
			return nil, fmt.Errorf("parse webhook: data.op_time %q is not a number", t)
		}
		w.OpTime = f
	default:
		if strict {
			return nil, fmt.Errorf("parse webhook: data.op_time is %s, want a number", jsonType(t))
		}
	}
	switch v := data["row_name"].(type) {
	case nil:
	case string:
		w.RowName = v
	case float64:
		w.RowName = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		w.RowName = string(b)
	}
	cells, err := parseCells(data["row_data"])
	if err != nil && strict {
		return nil, err
	}
	w.Cells = cells
	return w, nil
}

// RowOpTypes are the op types of row events, whose fields ParseWebhook
// checks strictly: the single-row ones SeaTable documents and the batch
// ones its own event consumers handle (EV activities/handlers.py).
var RowOpTypes = map[string]bool{
	"insert_row": true, "modify_row": true, "delete_row": true,
	"insert_rows": true, "append_rows": true, "modify_rows": true, "delete_rows": true,
}

// parseCells reads data.row_data.
func parseCells(v any) ([]CellChange, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("parse webhook: data.row_data is %s, want an array", jsonType(v))
	}
	cells := make([]CellChange, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse webhook: data.row_data[%d] is %s, want an object", i, jsonType(item))
		}
		var c CellChange
		for key, dst := range map[string]*string{"column_key": &c.ColumnKey, "column_name": &c.ColumnName, "column_type": &c.ColumnType} {
			switch s := m[key].(type) {
			case nil:
			case string:
				*dst = s
			default:
				return nil, fmt.Errorf("parse webhook: data.row_data[%d].%s is %s, want a string", i, key, jsonType(s))
			}
		}
		switch d := m["column_data"].(type) {
		case nil:
		case map[string]any:
			c.ColumnData = d
		default:
			return nil, fmt.Errorf("parse webhook: data.row_data[%d].column_data is %s, want an object", i, jsonType(d))
		}
		c.Value = m["value"]
		c.OldValue = m["old_value"]
		cells = append(cells, c)
	}
	return cells, nil
}

// jsonType names the JSON type of a decoded value for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// SignWebhook returns the X-SeaTable-Signature value for body:
// "sha256=" + hex(HMAC-SHA256(secret, body)).
func SignWebhook(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header ("sha256=<hex>") is the HMAC of
// the raw body under secret, comparing in constant time. It is false for
// an empty secret or a malformed header. Always verify the raw bytes as
// received, never re-serialized JSON.
func VerifySignature(secret string, body []byte, header string) bool {
	if secret == "" {
		return false
	}
	h := strings.TrimSpace(header)
	if len(h) < len("sha256=") || !strings.EqualFold(h[:len("sha256=")], "sha256=") {
		return false
	}
	got, err := hex.DecodeString(h[len("sha256="):])
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// ID derives a stable id for the event from the base, table, row, op type
// and op time: the first 32 hex digits of their SHA-256. For events
// without a table or row id (link events) the whole data object is
// hashed too, so distinct link changes get distinct ids. A redelivery of
// the same event gets the same id.
func (w *WebhookEvent) ID() string {
	return w.key().id(w.Raw)
}

// key is the part of w that identifies it.
func (w *WebhookEvent) key() WebhookKey {
	return WebhookKey{BaseUUID: w.BaseUUID, TableID: w.TableID, RowID: w.RowID, OpType: w.OpType, OpTime: w.OpTime}
}

// CanonicalUUID returns a base uuid lower-cased and without dashes, so the
// 32-hex webhook form and the 36-character API form compare equal.
func CanonicalUUID(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
}

// Display returns the cell's new and old values as a user sees them:
// single- and multiple-select option ids become option names (from
// ColumnData.options; unknown ids stay as they are), a long-text object
// becomes its text, and date values of date, ctime and mtime columns
// become time.Time when they parse (a value without an offset is taken as
// UTC). Anything else is returned unchanged.
func (c CellChange) Display() (value, old any) {
	return c.display(c.Value), c.display(c.OldValue)
}

func (c CellChange) display(v any) any {
	switch c.ColumnType {
	case "single-select":
		if id, ok := optionKey(v); ok {
			if name, ok := c.optionName(id); ok {
				return name
			}
		}
	case "multiple-select":
		list, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = item
			if id, ok := optionKey(item); ok {
				if name, ok := c.optionName(id); ok {
					out[i] = name
				}
			}
		}
		return out
	case "date", "ctime", "mtime":
		if s, ok := v.(string); ok {
			if t, ok := ParseDate(s); ok {
				return t
			}
		}
	case "long-text":
		// A raw long-text value is an object; a user sees its text.
		if m, ok := v.(map[string]any); ok {
			if s, ok := m["text"].(string); ok {
				return s
			}
		}
	}
	return v
}

// optionKey returns an option id as a string (ids are strings, but a
// number is accepted).
func optionKey(v any) (string, bool) {
	switch id := v.(type) {
	case string:
		return id, id != ""
	case float64:
		return strconv.FormatFloat(id, 'f', -1, 64), true
	}
	return "", false
}

// optionName looks an option id up in ColumnData.options.
func (c CellChange) optionName(id string) (string, bool) {
	opts, _ := c.ColumnData["options"].([]any)
	for _, o := range opts {
		m, ok := o.(map[string]any)
		if !ok {
			continue
		}
		if oid, ok := optionKey(m["id"]); ok && oid == id {
			if name, ok := m["name"].(string); ok {
				return name, true
			}
		}
	}
	return "", false
}

// dateLayouts are the forms SeaTable stores and sends dates in.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseDate parses a date cell as SeaTable writes it (ISO 8601 with or
// without a time and an offset; a value without an offset is UTC). It
// reports false for anything else, cheaply for values that are not dates.
func ParseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 || len(s) > 40 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
