package emulator

import (
	"time"
)

// maxLinkCells is how many linked rows a link cell shows in list, get and
// SQL reads (since SeaTable 5.3, OA61); /query-links/ pages beyond it.
const maxLinkCells = 50

// keying says how a read renders a row: convert_keys=true keys cells by
// column name and shows select options by name; convert_keys=false (the
// default of GET /rows/ and of SQL) keys them by column key and shows
// option ids, as SeaTable stores them.
type keying bool

const (
	byKey  keying = false
	byName keying = true
)

// readValue renders the stored value of column c in row r of table t as
// the gateway reads it: link lists (at most maxLinkCells), computed
// formulas, ISO dates, and select options by name or id.
func (b *base) readValue(t *table, c *column, r *row, k keying) any {
	switch c.typ {
	case "link":
		return b.linkCells(t, c, r, maxLinkCells)
	case "formula":
		return b.evalFormula(t, c, r)
	}
	return c.render(r.cells[c.key], t.loc, k)
}

// linkCells lists up to limit rows linked to r through link column c as
// [{"row_id", "display_value"}]; limit < 0 lists all. The display value
// is the other table's first column, read by name.
func (b *base) linkCells(t *table, c *column, r *row, limit int) []any {
	out := []any{}
	l := b.links[c.linkID]
	if l == nil {
		return out
	}
	other := b.tableByID(c.otherTableID)
	for _, id := range l.others(t, r.id) {
		if limit >= 0 && len(out) >= limit {
			break
		}
		var display any
		// A link column as display column would recurse; SeaTable does not
		// allow one either.
		if other != nil && len(other.columns) > 0 && other.columns[0].typ != "link" {
			if or := other.rows[id]; or != nil {
				display = b.readValue(other, other.columns[0], or, byName)
			}
		}
		out = append(out, map[string]any{"row_id": id, "display_value": display})
	}
	return out
}

// render turns a raw stored value into its read form.
func (c *column) render(v any, loc *time.Location, k keying) any {
	if v == nil {
		return nil
	}
	switch c.typ {
	case "date":
		s, _ := v.(string)
		return isoDate(s, loc)
	case "single-select":
		id, _ := v.(string)
		if k == byKey {
			return id
		}
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
				if k == byKey {
					out = append(out, o.ID)
				} else {
					out = append(out, o.Name)
				}
			}
		}
		return out
	case "collaborator":
		ids, _ := v.([]any)
		return append([]any{}, ids...)
	}
	return v
}

// System fields every row carries in list, get and SQL reads, whatever
// convert_keys says (OAT listRows/getRow/querySQL snapshots).
const (
	fieldID           = "_id"
	fieldCtime        = "_ctime"
	fieldMtime        = "_mtime"
	fieldCreator      = "_creator"
	fieldLastModifier = "_last_modifier"
	fieldLocked       = "_locked"
	fieldLockedBy     = "_locked_by"
	fieldArchived     = "_archived"
)

// systemFields renders the system fields of r: _locked is true or null,
// _locked_by the locker or null, _archived always false (the emulator has
// no archive).
func systemFields(r *row, m map[string]any) {
	m[fieldID] = r.id
	m[fieldCtime] = isoTime(r.ctime)
	m[fieldMtime] = isoTime(r.mtime)
	m[fieldCreator] = r.creator
	m[fieldLastModifier] = r.lastModifier
	m[fieldLocked] = nil
	m[fieldLockedBy] = nil
	if r.locked {
		m[fieldLocked] = true
		m[fieldLockedBy] = r.lockedBy
	}
	m[fieldArchived] = false
}

// readRow renders a whole row: the system fields and every column (null
// when empty), keyed as k says.
func (b *base) readRow(t *table, r *row, k keying) map[string]any {
	m := make(map[string]any, len(t.columns)+8)
	systemFields(r, m)
	for _, c := range t.columns {
		key := c.key
		if k == byName {
			key = c.name
		}
		m[key] = b.readValue(t, c, r, k)
	}
	return m
}
