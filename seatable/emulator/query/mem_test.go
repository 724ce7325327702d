package query

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// memTable is an in-memory Table with real behaviour: rows in insertion
// order, updates validated against the columns.
type memTable struct {
	name    string
	cols    []Column
	ids     []string
	rows    map[string]map[string]any
	updates int // Update calls
}

var _ Table = (*memTable)(nil)

func newMemTable(name string, cols []Column) *memTable {
	return &memTable{name: name, cols: cols, rows: map[string]map[string]any{}}
}

// add appends a row; the system cells are filled in, as the emulator's
// rows carry them: unlocked, created by a@auth.local.
func (t *memTable) add(cells map[string]any) string {
	id := fmt.Sprintf("row%04d", len(t.ids))
	row := maps.Clone(cells)
	if row == nil {
		row = map[string]any{}
	}
	row[ColumnID] = id
	row[ColumnCtime] = fmt.Sprintf("2024-01-01T00:00:%02d.000+00:00", len(t.ids)%60)
	row[ColumnMtime] = row[ColumnCtime]
	row[ColumnCreator] = "a@auth.local"
	row[ColumnLastModifier] = "a@auth.local"
	row[ColumnLocked] = nil
	row[ColumnLockedBy] = nil
	row[ColumnArchived] = false
	t.ids = append(t.ids, id)
	t.rows[id] = row
	return id
}

func (t *memTable) Name() string      { return t.name }
func (t *memTable) Columns() []Column { return t.cols }

func (t *memTable) Scan(fn func(string, map[string]any) bool) {
	for _, id := range t.ids {
		if !fn(id, t.rows[id]) {
			return
		}
	}
}

func (t *memTable) Update(id string, set map[string]any) error {
	row, ok := t.rows[id]
	if !ok {
		return fmt.Errorf("row %s not found", id)
	}
	for name, v := range set {
		found := false
		for _, c := range t.cols {
			if c.Name == name {
				found = true
				if c.Type == "number" && v != nil {
					if _, ok := v.(float64); !ok {
						return &Error{Msg: fmt.Sprintf("column %s needs a number", name)}
					}
				}
			}
		}
		if !found {
			return fmt.Errorf("no column %s", name)
		}
		row[name] = v
	}
	t.updates++
	return nil
}

func (t *memTable) Delete(id string) error {
	if _, ok := t.rows[id]; !ok {
		return fmt.Errorf("row %s not found", id)
	}
	delete(t.rows, id)
	for i, x := range t.ids {
		if x == id {
			t.ids = append(t.ids[:i], t.ids[i+1:]...)
			break
		}
	}
	return nil
}

// memCatalog matches table names exactly.
type memCatalog map[string]*memTable

func (c memCatalog) Table(name string) (Table, bool) {
	t, ok := c[name]
	if !ok {
		return nil, false
	}
	return t, true
}

var orderColumns = []Column{
	{Name: "Name", Key: "0000", Type: "text"},
	{Name: "Amount", Key: "0001", Type: "number"},
	{Name: "Status", Key: "0002", Type: "single-select", Options: []string{"open", "paid", "void"}},
	{Name: "Tags", Key: "0003", Type: "multiple-select", Options: []string{"a", "b", "c"}},
	{Name: "Due", Key: "0004", Type: "date"},
	{Name: "Done", Key: "0005", Type: "checkbox"},
	{Name: "Order ID", Key: "0006", Type: "text"},
}

// setup returns a catalog with the table "Orders" of five rows and the
// empty table "My Table".
func setup(t *testing.T) (memCatalog, *memTable) {
	t.Helper()
	orders := newMemTable("Orders", orderColumns)
	orders.add(map[string]any{"Name": "alpha", "Amount": 10.0, "Status": "open", "Tags": []any{"a", "b"}, "Due": "2024-01-31T00:00:00+02:00", "Done": false, "Order ID": "o-1"})
	orders.add(map[string]any{"Name": "Beta", "Amount": 25.5, "Status": "paid", "Tags": []any{"b"}, "Due": "2024-02-15", "Done": true, "Order ID": "o-2"})
	orders.add(map[string]any{"Name": "gamma", "Amount": nil, "Status": nil, "Tags": []any{}, "Due": nil, "Done": nil, "Order ID": "o-3"})
	orders.add(map[string]any{"Name": "delta_x", "Amount": 5.0, "Status": "open", "Tags": []any{"c"}, "Due": "2023-12-01T10:00:00+00:00", "Done": false, "Order ID": "o-4"})
	orders.add(map[string]any{"Name": "O'Brien", "Amount": 100.0, "Status": "void", "Tags": nil, "Due": "2024-03-01T00:00:00+01:00", "Done": true, "Order ID": "o-5"})
	my := newMemTable("My Table", []Column{{Name: "Order ID", Key: "0000", Type: "text"}})
	return memCatalog{"Orders": orders, "My Table": my}, orders
}

// names returns the Name cells of a result, in order.
func names(res *Result) string {
	var out []string
	for _, r := range res.Rows {
		out = append(out, fmt.Sprint(r["Name"]))
	}
	return strings.Join(out, ",")
}
