package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/seaflow/seaflow"
)

// ready returns the indexes in held of the ops that may be sent now: all
// of them, unless some rules' budgets are spent. The ops of a spent rule
// wait, and so does every later op that names a row (or, for upserts, a
// table) a waiting op names, so two ops on one row never swap. sql ops
// name no row: they neither wait for nor hold back another rule's ops.
// When nothing may go, wake is the earliest time a waiting rule's budget
// admits a call (zero when nothing is held). Query ops are like sql ops.
// ready is nil when nothing
// may go.
func (l *laneLoop) ready(ctx context.Context) (ready []int, wake time.Time, err error) {
	if len(l.held) == 0 {
		return nil, time.Time{}, nil
	}
	rb := l.d.rules
	if rb == nil {
		ready = make([]int, len(l.held))
		for i := range ready {
			ready[i] = i
		}
		return ready, time.Time{}, nil
	}
	spent := map[string]bool{}
	for _, dl := range l.held {
		rule := dl.Op.Rule
		if _, seen := spent[rule]; seen {
			continue
		}
		spent[rule] = false
		if !rb.capped(l.base, rule) {
			continue
		}
		next, err := rb.next(ctx, l.base, rule, l.lane)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("rule %q: %w", rule, err)
		}
		// Next answers its own now when a call is free: compare with a
		// time read after it.
		if next.After(l.now()) {
			spent[rule] = true
			if wake.IsZero() || next.Before(wake) {
				wake = next
			}
		}
	}
	var w waiting
	var tokens []token
	for i, dl := range l.held {
		op := &dl.Op
		tokens = rowTokens(op, tokens[:0])
		if spent[op.Rule] || w.blocks(op, tokens) {
			w.add(op, tokens)
			continue
		}
		ready = append(ready, i)
	}
	return ready, wake, nil
}

// waiting is what the ops held back name: rows, tables with an upsert,
// tables with any row op.
type waiting struct {
	rows, upsertTables, tables map[token]bool
}

func (w *waiting) add(op *seaflow.Op, rows []token) {
	if op.Kind.Statement() {
		return
	}
	if w.rows == nil {
		w.rows, w.upsertTables, w.tables = map[token]bool{}, map[token]bool{}, map[token]bool{}
	}
	for _, r := range rows {
		w.rows[r] = true
	}
	table := token{op.Base, op.Table}
	w.tables[table] = true
	if op.Kind == seaflow.KindUpsert {
		w.upsertTables[table] = true
	}
}

// blocks reports whether op must wait behind the waiting ops.
func (w *waiting) blocks(op *seaflow.Op, rows []token) bool {
	if w.rows == nil || op.Kind.Statement() {
		return false
	}
	table := token{op.Base, op.Table}
	if w.upsertTables[table] || (op.Kind == seaflow.KindUpsert && w.tables[table]) {
		return true
	}
	for _, r := range rows {
		if w.rows[r] {
			return true
		}
	}
	return false
}
