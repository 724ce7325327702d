package actions

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/seaflow/seaflow"
)

// model is an in-memory base with the semantics seaflow assumes of
// SeaTable: tests run ops one by one and planned batches on it and compare.
type model struct {
	tables map[string]map[string]*mrow
	newIDs map[string]int
}

type mrow struct {
	cells  map[string]any
	locked bool
	links  map[string][]string // link column → linked rows, sorted
}

func newModel() *model {
	return &model{tables: map[string]map[string]*mrow{}, newIDs: map[string]int{}}
}

func (m *model) table(name string) map[string]*mrow {
	t := m.tables[name]
	if t == nil {
		t = map[string]*mrow{}
		m.tables[name] = t
	}
	return t
}

func (m *model) put(table, id string, cells map[string]any) {
	m.table(table)[id] = &mrow{cells: maps.Clone(cells), links: map[string][]string{}}
}

func (m *model) appendRow(table string, cells map[string]any) string {
	m.newIDs[table]++
	id := fmt.Sprintf("%s-new-%d", table, m.newIDs[table])
	m.put(table, id, cells)
	return id
}

func (m *model) update(table, id string, cells map[string]any) {
	if r := m.table(table)[id]; r != nil {
		maps.Copy(r.cells, cells)
	}
}

func (m *model) link(table, id, column string, others []string) {
	if r := m.table(table)[id]; r != nil {
		for _, o := range others {
			if !slices.Contains(r.links[column], o) {
				r.links[column] = append(r.links[column], o)
			}
		}
		slices.Sort(r.links[column])
	}
}

// lookup returns the rows of table whose key cell equals v, sorted.
func (m *model) lookup(table, key string, v any) []string {
	var ids []string
	for id, r := range m.table(table) {
		if c, ok := r.cells[key]; ok && c != nil && fmt.Sprint(c) == fmt.Sprint(v) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// sql runs the model's stand-in for an sql op: Params are
// [where column, where value, set column, set value] on op.Table.
func (m *model) sql(op seaflow.Op) {
	if len(op.Params) != 4 {
		return
	}
	for _, r := range m.table(op.Table) {
		if fmt.Sprint(r.cells[op.Params[0].(string)]) == fmt.Sprint(op.Params[1]) {
			r.cells[op.Params[2].(string)] = op.Params[3]
		}
	}
}

// apply runs one op.
func (m *model) apply(op seaflow.Op) {
	switch op.Kind {
	case seaflow.KindAppend:
		m.appendRow(op.Table, op.Values)
	case seaflow.KindUpdate:
		m.update(op.Table, op.RowID, op.Values)
	case seaflow.KindDelete:
		delete(m.table(op.Table), op.RowID)
	case seaflow.KindLock, seaflow.KindUnlock:
		if r := m.table(op.Table)[op.RowID]; r != nil {
			r.locked = op.Kind == seaflow.KindLock
		}
	case seaflow.KindUpsert:
		ids := m.lookup(op.Table, op.Key, op.Values[op.Key])
		for _, id := range ids {
			m.update(op.Table, id, op.Values)
		}
		if len(ids) == 0 {
			m.appendRow(op.Table, op.Values)
		}
	case seaflow.KindLink:
		m.link(op.Table, op.RowID, op.LinkColumn, op.OtherRowIDs)
	case seaflow.KindSQL:
		m.sql(op)
	}
}

// applyBatch runs one planned batch the way the executor sends it.
func (m *model) applyBatch(ops []seaflow.Op, b Batch) {
	switch b.Kind {
	case seaflow.KindAppend:
		for _, it := range b.Items {
			m.appendRow(b.Table, it.Values)
		}
	case seaflow.KindUpdate:
		for _, it := range b.Items {
			m.update(b.Table, it.RowID, it.Values)
		}
	case seaflow.KindDelete:
		for _, it := range b.Items {
			delete(m.table(b.Table), it.RowID)
		}
	case seaflow.KindLock, seaflow.KindUnlock:
		for _, it := range b.Items {
			if r := m.table(b.Table)[it.RowID]; r != nil {
				r.locked = b.Kind == seaflow.KindLock
			}
		}
	case seaflow.KindUpsert:
		found := make([][]string, len(b.Items))
		for i, it := range b.Items {
			found[i] = m.lookup(b.Table, b.Key, it.KeyValue)
		}
		for i, it := range b.Items {
			for _, id := range found[i] {
				m.update(b.Table, id, it.Values)
			}
		}
		for i, it := range b.Items {
			if len(found[i]) == 0 {
				m.appendRow(b.Table, it.Values)
			}
		}
	case seaflow.KindLink:
		for _, it := range b.Items {
			m.link(b.Table, it.RowID, b.LinkColumn, it.OtherRowIDs)
		}
	case seaflow.KindSQL:
		m.sql(ops[b.Items[0].Ops[0]])
	}
}

// String renders the model deterministically.
func (m *model) String() string {
	var sb strings.Builder
	for _, t := range slices.Sorted(maps.Keys(m.tables)) {
		rows := m.tables[t]
		for _, id := range slices.Sorted(maps.Keys(rows)) {
			r := rows[id]
			fmt.Fprintf(&sb, "%s/%s locked=%v", t, id, r.locked)
			for _, c := range slices.Sorted(maps.Keys(r.cells)) {
				fmt.Fprintf(&sb, " %s=%v", c, r.cells[c])
			}
			for _, c := range slices.Sorted(maps.Keys(r.links)) {
				if len(r.links[c]) > 0 {
					fmt.Fprintf(&sb, " %s->%v", c, r.links[c])
				}
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}
