package actions

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// MaxBatchRows is the most rows one batch call carries (SeaTable's cap for
// append, update, delete and lock calls).
const MaxBatchRows = 1000

// Batch is one planned write: a single batch call, except for an upsert
// batch, which costs one SQL key lookup plus at most one batch update and
// one batch append. Batches of one plan must run in plan order: a batch may
// depend on an earlier one touching the same row.
type Batch struct {
	// Base is the base name of every op in the batch.
	Base string
	// Table is the table of every op in the batch (empty for sql and
	// query).
	Table string
	// Kind is the kind of every op in the batch.
	Kind seaflow.Kind
	// Lane is the lane of the first op of the batch.
	Lane seaflow.Lane
	// Key is the key column of an upsert batch.
	Key string
	// LinkColumn is the link column of a link batch.
	LinkColumn string
	// Items are the rows the batch carries, merged, in first-seen order.
	Items []Item
}

// Item is one row of a Batch: one op, or several ops on the same row (same
// upsert key for upserts) merged into one.
type Item struct {
	// RowID is the target row (update, delete, lock, unlock, link).
	RowID string
	// KeyValue is the key cell of an upsert.
	KeyValue any
	// Values are the merged cells (append, update, upsert): later ops win per column.
	Values map[string]any
	// OtherRowIDs are the merged linked rows of a link item, without duplicates.
	OtherRowIDs []string
	// Statement and Params are the SQL of an sql or query item.
	Statement string
	Params    []any
	// Offset is the first row a query item reads.
	Offset int
	// Ops are the indexes, in the slice given to Plan, of the ops merged
	// into this item, in queue order.
	Ops []int
}

// Rows returns how many rows the batch carries.
func (b Batch) Rows() int { return len(b.Items) }

// Ops returns the indexes, in the slice given to Plan, of every op the batch
// covers, in queue order.
func (b Batch) Ops() []int {
	var idx []int
	for _, it := range b.Items {
		idx = append(idx, it.Ops...)
	}
	slices.Sort(idx)
	return idx
}

// Calls returns the most SeaTable calls the batch costs: three for an upsert
// batch (key lookup, update, append), one otherwise.
func (b Batch) Calls() int {
	if b.Kind == seaflow.KindUpsert {
		return 3
	}
	return 1
}

// Plan turns ops, in queue order, into the fewest batches. Ops of the same
// base, table and kind share a batch of up to MaxBatchRows rows (upserts also
// by key column, links by link column); several ops on one row merge into
// one item; every sql and query op is a batch of its own.
//
// Plan never reorders two ops that may touch the same row: an op goes into
// a batch no earlier than the last batch holding an op it may depend on, and
// into that batch only if both have the same kind (where merging equals
// running them one after the other). What "may touch the same row" means,
// conservatively:
//   - update, delete, lock, unlock: the row id, in any table of the base
//     (row ids are unique within a base);
//   - link: its row and the linked rows;
//   - upsert: any row of its table (the row is found by key at run time);
//   - append: only upserts of its table (no op can name the new row yet);
//   - sql and query: every row of the one table the statement names
//     (seatable.StatementTable: UPDATE t, DELETE FROM t, SELECT … FROM t),
//     a barrier for that table only; every row of the base when the
//     statement could touch more than one table or cannot be parsed.
//
// So an sql op stops only its own table's ops from batching across it:
// a rule that updates a Stats table by SQL and appends to Leads costs one
// append call per 1,000 events, not one per event. Table names are
// compared without regard to case, erring on the side of order.
//
// Plan is pure: it does not modify ops.
func Plan(ops []seaflow.Op) []Batch {
	p := planner{
		rowLast:    map[token]int{},
		tableLast:  map[token]int{},
		upsertLast: map[token]int{},
		baseLast:   map[token]int{},
		barrier:    map[token]int{},
		tableWall:  map[token]int{},
		groupLast:  map[groupKey]int{},
	}
	for i := range ops {
		p.add(i, &ops[i])
	}
	out := make([]Batch, len(p.batches))
	for i, pb := range p.batches {
		out[i] = pb.Batch
	}
	return out
}

// groupKey says which ops may share a batch.
type groupKey struct {
	base, table string
	kind        seaflow.Kind
	column      string // upsert key column, link column
}

type plannedBatch struct {
	Batch
	group groupKey
	index map[string]int // row id or upsert key → item
}

type planner struct {
	batches []*plannedBatch
	// The last batch index holding an op on a row (base+row id), on a
	// table (base+lower-cased table), an upsert on a table, anything of a
	// base, the last statement barrier of a whole base and of a table.
	// Absent means none (-1).
	rowLast, tableLast, upsertLast, baseLast, barrier, tableWall map[token]int
	groupLast                                                    map[groupKey]int
	// rows is scratch space for the rows of the op being added.
	rows []token
}

// token names a row (base, row id), a table (base, table) or a base.
type token struct{ base, name string }

func last(m map[token]int, k token) int {
	if v, ok := m[k]; ok {
		return v
	}
	return -1
}

func setMax(m map[token]int, k token, v int) {
	if old, ok := m[k]; !ok || v > old {
		m[k] = v
	}
}

// rowTokens appends the rows op touches by id to t.
func rowTokens(op *seaflow.Op, t []token) []token {
	switch op.Kind {
	case seaflow.KindUpdate, seaflow.KindDelete, seaflow.KindLock, seaflow.KindUnlock:
		t = append(t, token{op.Base, op.RowID})
	case seaflow.KindLink:
		t = append(t, token{op.Base, op.RowID})
		for _, o := range op.OtherRowIDs {
			t = append(t, token{op.Base, o})
		}
	}
	return t
}

func (p *planner) add(i int, op *seaflow.Op) {
	base, table := token{op.Base, ""}, token{op.Base, strings.ToLower(op.Table)}
	p.rows = rowTokens(op, p.rows[:0])
	rows := p.rows
	scoped := false // a statement that touches one known table
	if op.Kind.Statement() {
		if t, ok := seatable.StatementTable(op.Statement); ok {
			table, scoped = token{op.Base, strings.ToLower(t)}, true
		}
	}

	// after is the last batch this op may depend on.
	after := max(last(p.barrier, base), last(p.tableWall, table))
	switch {
	case op.Kind.Statement() && !scoped:
		after = max(after, last(p.baseLast, base))
	case op.Kind.Statement(), op.Kind == seaflow.KindUpsert:
		after = max(after, last(p.tableLast, table))
	default:
		after = max(after, last(p.upsertLast, table))
	}
	for _, r := range rows {
		after = max(after, last(p.rowLast, r))
	}

	g := groupKey{base: op.Base, table: op.Table, kind: op.Kind}
	switch op.Kind {
	case seaflow.KindUpsert:
		g.column = op.Key
	case seaflow.KindLink:
		g.column = op.LinkColumn
	}
	itemKey := op.RowID
	if op.Kind == seaflow.KindUpsert {
		itemKey = fmt.Sprint(op.Values[op.Key])
	}

	var b *plannedBatch
	at := -1
	if !op.Kind.Statement() {
		if gi, ok := p.groupLast[g]; ok && gi >= after {
			cand := p.batches[gi]
			_, merges := cand.index[itemKey]
			if (merges && op.Kind != seaflow.KindAppend) || len(cand.Items) < MaxBatchRows {
				b, at = cand, gi
			}
		}
	}
	if b == nil {
		at = len(p.batches)
		b = &plannedBatch{
			Batch: Batch{Base: op.Base, Table: op.Table, Kind: op.Kind, Lane: op.Lane},
			group: g,
			index: map[string]int{},
		}
		switch op.Kind {
		case seaflow.KindUpsert:
			b.Key = op.Key
		case seaflow.KindLink:
			b.LinkColumn = op.LinkColumn
		}
		p.batches = append(p.batches, b)
		p.groupLast[g] = at
	}
	b.addOp(i, op, itemKey)

	for _, r := range rows {
		setMax(p.rowLast, r, at)
	}
	setMax(p.tableLast, table, at)
	setMax(p.baseLast, base, at)
	switch {
	case op.Kind == seaflow.KindUpsert:
		setMax(p.upsertLast, table, at)
	case op.Kind.Statement() && scoped:
		setMax(p.tableWall, table, at)
	case op.Kind.Statement():
		setMax(p.barrier, base, at)
	}
}

func (b *plannedBatch) addOp(i int, op *seaflow.Op, itemKey string) {
	if op.Kind != seaflow.KindAppend && !op.Kind.Statement() {
		if j, ok := b.index[itemKey]; ok {
			it := &b.Items[j]
			it.Ops = append(it.Ops, i)
			switch op.Kind {
			case seaflow.KindUpdate, seaflow.KindUpsert:
				maps.Copy(it.Values, op.Values)
			case seaflow.KindLink:
				it.OtherRowIDs = appendNew(it.OtherRowIDs, op.OtherRowIDs)
			}
			return
		}
		b.index[itemKey] = len(b.Items)
	}
	it := Item{RowID: op.RowID, Ops: []int{i}}
	switch op.Kind {
	case seaflow.KindAppend, seaflow.KindUpdate, seaflow.KindUpsert:
		it.Values = maps.Clone(op.Values)
		if it.Values == nil {
			it.Values = map[string]any{}
		}
		if op.Kind == seaflow.KindUpsert {
			it.KeyValue = op.Values[op.Key]
		}
	case seaflow.KindLink:
		it.OtherRowIDs = appendNew(nil, op.OtherRowIDs)
	case seaflow.KindSQL, seaflow.KindQuery:
		it.Statement = op.Statement
		it.Params = op.Params
		it.Offset = op.Offset
	}
	b.Items = append(b.Items, it)
}

// appendNew appends the ids of add not yet in ids.
func appendNew(ids, add []string) []string {
	for _, a := range add {
		if !slices.Contains(ids, a) {
			ids = append(ids, a)
		}
	}
	return ids
}
