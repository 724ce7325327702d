package actions

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// SeaTable answers an append or update that names a column the table lacks
// with a 200 and drops the value ("Unknown keys are silently ignored",
// OA61 appendRows/updateRow), and it takes column names only: a column key
// as a write key is dropped too. A typo'd or renamed column would lose data
// without a trace, so every op that writes cells is checked against the
// base's metadata before it is sent. The metadata is the executor's cached
// copy, fetched once more (through the same CallFunc, so within the budget)
// when a column looks unknown: it may have been added since. An op still
// naming a missing column is dead-lettered with the reason and never sent.

// writesCells reports whether ops of kind k carry cell values.
func writesCells(k seaflow.Kind) bool {
	return k == seaflow.KindAppend || k == seaflow.KindUpdate || k == seaflow.KindUpsert
}

// missingColumns returns, for each item that names columns table t lacks,
// the sorted missing names. Only column names count; keys do not.
func missingColumns(t *seatable.Table, b Batch, items []Item) map[int][]string {
	have := make(map[string]bool, len(t.Columns))
	for _, c := range t.Columns {
		have[c.Name] = true
	}
	out := map[int][]string{}
	for i, it := range items {
		var miss []string
		for name := range it.Values {
			if !have[name] {
				miss = append(miss, name)
			}
		}
		if b.Kind == seaflow.KindUpsert && b.Key != "" && !have[b.Key] && !slices.Contains(miss, b.Key) {
			miss = append(miss, b.Key)
		}
		if len(miss) > 0 {
			sort.Strings(miss)
			out[i] = miss
		}
	}
	return out
}

// checkColumns returns the items whose written columns all exist,
// dead-lettering the others, or all of them when the table itself is
// missing. It fetches the metadata when none is cached and once more when
// a table or column looks unknown. An error (budget, transient) stops the
// batch like any other call's.
func (r *run) checkColumns(ctx context.Context, items []Item) ([]Item, error) {
	if !writesCells(r.b.Kind) || len(items) == 0 {
		return items, nil
	}
	var t *seatable.Table
	var missing map[int][]string
	for _, refresh := range []bool{false, true} {
		if refresh && r.refreshed {
			break // this run's copy is fresh already
		}
		meta, err := r.metadata(ctx, refresh)
		if err != nil {
			return nil, err
		}
		if t = meta.Table(r.b.Table); t != nil {
			if missing = missingColumns(t, r.b, items); len(missing) == 0 {
				return items, nil
			}
		}
	}
	if t == nil {
		for _, it := range items {
			r.dead(it, fmt.Sprintf("table %q not found", r.b.Table))
		}
		return nil, nil
	}
	var ok []Item
	for i, it := range items {
		if miss := missing[i]; len(miss) > 0 {
			r.dead(it, unknownColumnsReason(r.b.Table, miss))
			continue
		}
		ok = append(ok, it)
	}
	return ok, nil
}

// unknownColumnsReason is the dead-letter reason for columns a table
// lacks.
func unknownColumnsReason(table string, cols []string) string {
	if len(cols) == 1 {
		return fmt.Sprintf("table %q has no column %q (SeaTable would drop the value silently)", table, cols[0])
	}
	return fmt.Sprintf("table %q has no columns %q (SeaTable would drop the values silently)", table, cols)
}
