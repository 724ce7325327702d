package emulator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// columnTypes lists the column types the emulator stores.
var columnTypes = map[string]bool{
	"text": true, "long-text": true, "email": true, "url": true,
	"number": true, "duration": true, "rate": true,
	"checkbox": true, "date": true,
	"single-select": true, "multiple-select": true, "collaborator": true,
	"link": true, "formula": true,
}

// readOnly reports whether writes to the column are ignored (formula) or
// refused (link: use the links endpoints).
func (c *column) readOnly() bool { return c.typ == "formula" || c.typ == "link" }

// cellError is a value that a column cannot store; the API answers 400.
type cellError struct {
	column string
	msg    string
}

func (e *cellError) Error() string { return fmt.Sprintf("column %q: %s", e.column, e.msg) }

// toStored converts a written value (API shape: select names, dates in
// many formats) into the raw stored value. create allows unknown select
// names to become new options, as SeaTable does since 4.1.
func (c *column) toStored(v any, create bool) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return &cellError{column: c.name, msg: fmt.Sprintf(format, args...)}
	}
	switch c.typ {
	case "text", "long-text", "email", "url":
		switch x := v.(type) {
		case string:
			if x == "" {
				return nil, nil
			}
			return x, nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case int:
			return strconv.Itoa(x), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return nil, bad("want a string, got %T", v)
	case "number", "duration", "rate":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			if strings.TrimSpace(x) == "" {
				return nil, nil
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad("want a number, got %q", x)
			}
			return f, nil
		}
		return nil, bad("want a number, got %T", v)
	case "checkbox":
		// SeaTable stores anything but a JSON bool as false (OAT #1).
		b, _ := v.(bool)
		return b, nil
	case "date":
		s, ok := v.(string)
		if !ok {
			return nil, bad("want a date string, got %T", v)
		}
		// An unparseable date is stored as null, as SeaTable does (OAT #5).
		d, _ := parseDate(s)
		if d == "" {
			return nil, nil
		}
		return d, nil
	case "single-select":
		s, ok := v.(string)
		if !ok {
			return nil, bad("want an option name, got %T", v)
		}
		if s == "" {
			return nil, nil
		}
		o, ok := c.optionByName(s, create)
		if !ok {
			return nil, bad("unknown option %q", s)
		}
		return o.ID, nil
	case "multiple-select":
		names, err := stringList(v)
		if err != nil {
			return nil, bad("want a list of option names: %v", err)
		}
		ids := make([]any, 0, len(names))
		for _, n := range names {
			o, ok := c.optionByName(n, create)
			if !ok {
				return nil, bad("unknown option %q", n)
			}
			ids = append(ids, o.ID)
		}
		if len(ids) == 0 {
			return nil, nil
		}
		return ids, nil
	case "collaborator":
		names, err := stringList(v)
		if err != nil {
			return nil, bad("want a list of user ids: %v", err)
		}
		if len(names) == 0 {
			return nil, nil
		}
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = n
		}
		return out, nil
	}
	return nil, bad("column type %s is not writable", c.typ)
}

func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case []string:
		return x, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %v is %T, not a string", e, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("got %T", v)
}

var dateLayouts = []struct {
	layout string
	clock  bool
}{
	{time.RFC3339Nano, true},
	{"2006-01-02T15:04:05.999999999-07:00", true},
	{"2006-01-02T15:04:05", true},
	{"2006-01-02T15:04", true},
	{"2006-01-02 15:04:05", true},
	{"2006-01-02 15:04", true},
	{"2006-01-02", false},
	{"2006/01/02 15:04", true},
	{"2006/01/02", false},
	{"02.01.2006 15:04", true},
	{"02.01.2006", false},
	{"1/2/2006 15:04", true},
	{"1/2/2006", false},
}

// parseDate turns a written date into SeaTable's raw form, "2006-01-02" or
// "2006-01-02 15:04" (UTC, the emulator's server time zone); "" when s is
// no date.
func parseDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		t, err := time.Parse(l.layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		if !l.clock {
			return t.Format("2006-01-02"), true
		}
		return t.Format("2006-01-02 15:04"), true
	}
	return "", false
}

// isoDate renders a raw stored date as the gateway returns it.
func isoDate(raw string) string {
	if t, err := time.Parse("2006-01-02 15:04", raw); err == nil {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	if t, err := time.Parse("2006-01-02", raw); err == nil {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return raw
}

// isoTime renders _ctime/_mtime as SeaTable does:
// "2021-03-10T16:19:31.761+00:00".
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000+00:00")
}

// readValue renders the stored value of column c in row r of table t as
// the gateway returns it with convert_keys: option names, ISO dates, link
// lists, computed formulas.
func (b *base) readValue(t *table, c *column, r *row) any {
	switch c.typ {
	case "link":
		l := b.links[c.linkID]
		if l == nil {
			return []any{}
		}
		other := b.tableByID(c.otherTableID)
		out := []any{}
		for _, id := range l.others(t, r.id) {
			var display any
			// A link column as display column would recurse; SeaTable
			// does not allow one either.
			if other != nil && len(other.columns) > 0 && other.columns[0].typ != "link" {
				if or := other.rows[id]; or != nil {
					display = b.readValue(other, other.columns[0], or)
				}
			}
			out = append(out, map[string]any{"row_id": id, "display_value": display})
		}
		return out
	case "formula":
		return b.evalFormula(t, c, r)
	}
	return c.render(r.cells[c.key])
}

// render turns a raw stored value into its read form.
func (c *column) render(v any) any {
	if v == nil {
		return nil
	}
	switch c.typ {
	case "date":
		s, _ := v.(string)
		return isoDate(s)
	case "single-select":
		id, _ := v.(string)
		if o := c.optionByID(id); o != nil {
			return o.Name
		}
		return nil
	case "multiple-select":
		ids, _ := v.([]any)
		out := make([]any, 0, len(ids))
		for _, id := range ids {
			s, _ := id.(string)
			if o := c.optionByID(s); o != nil {
				out = append(out, o.Name)
			}
		}
		return out
	case "collaborator":
		ids, _ := v.([]any)
		return append([]any{}, ids...)
	}
	return v
}

// readRow renders a whole row, keyed by column name (byName) or key.
func (b *base) readRow(t *table, r *row, byName bool) map[string]any {
	m := make(map[string]any, len(t.columns)+4)
	m["_id"] = r.id
	m["_ctime"] = isoTime(r.ctime)
	m["_mtime"] = isoTime(r.mtime)
	if r.locked {
		m["_locked"] = true
	}
	for _, c := range t.columns {
		k := c.key
		if byName {
			k = c.name
		}
		m[k] = b.readValue(t, c, r)
	}
	return m
}

// columnData is the "data" of a column in metadata and webhook payloads.
func (b *base) columnData(t *table, c *column) map[string]any {
	switch c.typ {
	case "single-select", "multiple-select":
		opts := make([]any, len(c.options))
		for i, o := range c.options {
			opts[i] = map[string]any{"name": o.Name, "color": o.Color, "textColor": o.TextColor, "id": o.ID}
		}
		return map[string]any{"options": opts}
	case "link":
		d := map[string]any{"link_id": c.linkID, "table_id": t.id, "other_table_id": c.otherTableID}
		if o := b.tableByID(c.otherTableID); o != nil && len(o.columns) > 0 {
			d["display_column_key"] = o.columns[0].key
		}
		return d
	case "formula":
		return map[string]any{"formula": c.formula}
	case "date":
		return map[string]any{"format": "YYYY-MM-DD HH:mm"}
	case "number":
		return map[string]any{"format": "number", "decimal": "dot", "thousands": "no"}
	}
	return nil
}

// change is one cell changed by a write.
type change struct {
	col      *column
	old, new any
}

// prepareCells converts a written row (keyed by column name or key) into
// stored values without applying them. System columns (_id, _ctime, …)
// and formula columns are ignored, as SeaTable ignores formula writes;
// an unknown column or a link cell is an error.
func (t *table) prepareCells(in map[string]any, create bool) (map[*column]any, error) {
	out := make(map[*column]any, len(in))
	for k, v := range in {
		if strings.HasPrefix(k, "_") {
			continue
		}
		c := t.column(k)
		if c == nil {
			return nil, &cellError{column: k, msg: "no such column in table " + t.name}
		}
		if c.typ == "formula" {
			continue
		}
		if c.typ == "link" {
			return nil, &cellError{column: k, msg: "link cells are written with the links endpoints"}
		}
		s, err := c.toStored(v, create)
		if err != nil {
			return nil, err
		}
		out[c] = s
	}
	return out, nil
}

// apply stores prepared cells in r and returns what changed, in column
// order.
func (t *table) apply(r *row, cells map[*column]any) []change {
	var ch []change
	for _, c := range t.columns {
		v, ok := cells[c]
		if !ok {
			continue
		}
		old := r.cells[c.key]
		if equalValues(old, v) {
			continue
		}
		if v == nil {
			delete(r.cells, c.key)
		} else {
			r.cells[c.key] = v
		}
		ch = append(ch, change{col: c, old: old, new: v})
	}
	return ch
}

func equalValues(a, b any) bool {
	la, oka := a.([]any)
	lb, okb := b.([]any)
	if oka || okb {
		if !oka || !okb || len(la) != len(lb) {
			return false
		}
		for i := range la {
			if la[i] != lb[i] {
				return false
			}
		}
		return true
	}
	return a == b
}
