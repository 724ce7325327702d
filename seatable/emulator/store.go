package emulator

import "time"

// writeKind is what a write did to a row.
type writeKind int

const (
	inserted writeKind = iota
	modified
	deleted
)

// rowChange is one row a write touched, for its webhook event: the cells
// that changed (none for a delete) and the row's name (its first column)
// at the time.
type rowChange struct {
	r       *row
	cells   []change
	rowName any
}

// rowName is a row's first column as the webhook's row_name ("" when
// empty).
func (b *base) rowName(t *table, r *row) any {
	if len(t.columns) > 0 {
		if v := b.readValue(t, t.columns[0], r, byName); v != nil {
			return v
		}
	}
	return ""
}

// insertRow stores a new row with cells. API writes (gateway and SQL)
// pass the token's app name as user: what SeaTable reports as op_user and
// _creator for an API-token write is [?]; user edits pass EditUser.
func insertRow(b *base, t *table, cells map[*column]any, now time.Time, user string) rowChange {
	r := &row{id: newRowID(), ctime: now, mtime: now, creator: user, lastModifier: user, cells: map[string]any{}}
	for t.rows[r.id] != nil {
		r.id = newRowID()
	}
	ch := t.apply(r, cells)
	t.rows[r.id] = r
	t.order = append(t.order, r.id)
	return rowChange{r: r, cells: ch, rowName: b.rowName(t, r)}
}

// updateRow applies prepared cells to r; the change lists no cells when
// nothing changed (and _mtime stays).
func updateRow(b *base, t *table, r *row, cells map[*column]any, now time.Time, user string) rowChange {
	ch := t.apply(r, cells)
	if len(ch) > 0 {
		r.mtime, r.lastModifier = now, user
	}
	return rowChange{r: r, cells: ch, rowName: b.rowName(t, r)}
}

// deleteRow removes r and its links.
func deleteRow(b *base, t *table, r *row) rowChange {
	rc := rowChange{r: r, rowName: b.rowName(t, r)}
	delete(t.rows, r.id)
	t.order, _ = without(t.order, r.id)
	for _, l := range b.links {
		if l.table1ID == t.id || l.table2ID == t.id {
			l.dropRow(t, r.id)
		}
	}
	return rc
}
