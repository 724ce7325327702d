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
// many formats, read in the server's zone loc) into the raw stored value.
// create allows unknown select names to become new options, as SeaTable
// does since 4.1.
func (c *column) toStored(v any, loc *time.Location, create bool) (any, error) {
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
				// [?] The recordings show a number string parsed
				// ("5400" into a duration) but not what an unparseable
				// one does; unlike dates (OAT #5, stored as null), it
				// stays a 400 here.
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
		d, ok := c.parseDate(s, loc)
		if !ok {
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
		// Both columns of a link keep the link's own table_id and
		// other_table_id (EV sql_generator.py, MCP resolveLinkColumn): from
		// table2's column, other_table_id is the column's own table.
		d := map[string]any{"link_id": c.linkID, "table_id": t.id, "other_table_id": c.otherTableID}
		if l := b.links[c.linkID]; l != nil {
			d["table_id"], d["other_table_id"] = l.table1ID, l.table2ID
		}
		if o := b.tableByID(c.otherTableID); o != nil && len(o.columns) > 0 {
			d["display_column_key"] = o.columns[0].key
		}
		return d
	case "formula":
		return map[string]any{"formula": c.formula}
	case "date":
		format := c.dateFormat
		if format == "" {
			format = defaultDateFormat
		}
		return map[string]any{"format": format}
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

// writeMode says how prepareCells treats a name that is no column.
type writeMode int

const (
	// apiWrite ignores it, as SeaTable's append and update do: "Unknown
	// keys are silently ignored without error" (OA61), and writes take
	// column names only, so a column key is ignored too.
	apiWrite writeMode = iota
	// strictWrite refuses it: fixtures and /_emulator/edit, whose authors
	// want to hear about a typo.
	strictWrite
)

// prepareCells converts a written row (keyed by column name) into stored
// values without applying them. System columns (_id, _ctime, …) and
// formula columns are ignored, as SeaTable ignores formula writes; a link
// cell is an error (links are written with the links endpoints; what
// SeaTable does with one is [?]). create lets unknown select options
// become new ones.
func (t *table) prepareCells(in map[string]any, mode writeMode, create bool) (map[*column]any, error) {
	out := make(map[*column]any, len(in))
	for k, v := range in {
		if strings.HasPrefix(k, "_") {
			continue
		}
		c := t.columnByName(k)
		if c == nil && mode == apiWrite {
			continue
		}
		if c == nil {
			return nil, &cellError{column: k, msg: "no such column in table " + t.name}
		}
		if c.typ == "formula" {
			continue
		}
		if c.typ == "link" {
			return nil, &cellError{column: k, msg: "link cells are written with the links endpoints"}
		}
		s, err := c.toStored(v, t.loc, create)
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
