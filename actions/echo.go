package actions

import (
	"github.com/seaflow/seaflow"
)

// replaySafe returns the op to send for a delivery. An append that was
// delivered before, or produced again from a redelivered event, may have
// landed already (the process died between SeaTable's answer and the ack): when it names a dedupe column holding its
// id, it goes out as an upsert on that column, which finds the row instead
// of adding it again. A first delivery stays a plain, cheaper append.
func replaySafe(dl Delivery) seaflow.Op {
	op := dl.Op
	if (dl.Redelivered || op.Replay) && op.Kind == seaflow.KindAppend && op.DedupeColumn != "" {
		op.Kind, op.Key = seaflow.KindUpsert, op.DedupeColumn
	}
	return op
}

// targetRows lists the existing rows a batch's ops name (appends and
// upserts learn their rows from the response; sql ops name none).
func targetRows(ops []seaflow.Op, b Batch) []WrittenRow {
	var rows []WrittenRow
	for _, i := range b.Ops() {
		if op := ops[i]; op.RowID != "" && op.Kind != seaflow.KindAppend && op.Kind != seaflow.KindSQL {
			rows = append(rows, WrittenRow{Table: b.Table, RowID: op.RowID, Depth: op.Depth})
		}
	}
	return rows
}

// written hands the rows a batch wrote to OnWritten, grouped by table
// and depth.
func (l *laneLoop) written(rows []WrittenRow) {
	if l.d.cfg.OnWritten != nil {
		notify(l.base, rows, l.d.cfg.OnWritten)
	}
}

// notify calls fn once per table and depth with the rows of that group.
func notify(base string, rows []WrittenRow, fn func(base, table string, rowIDs []string, depth int)) {
	if len(rows) == 0 {
		return
	}
	type group struct {
		table string
		depth int
	}
	var order []group
	ids := map[group][]string{}
	for _, w := range rows {
		g := group{w.Table, w.Depth}
		if _, ok := ids[g]; !ok {
			order = append(order, g)
		}
		ids[g] = append(ids[g], w.RowID)
	}
	for _, g := range order {
		fn(base, g.table, ids[g], g.depth)
	}
}

// sending hands the rows a batch is about to write to OnSending.
func (l *laneLoop) sending(rows []WrittenRow) {
	if l.d.cfg.OnSending != nil {
		notify(l.base, rows, l.d.cfg.OnSending)
	}
}
