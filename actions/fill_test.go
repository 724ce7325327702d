package actions

import (
	"fmt"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// parked reports whether lane of base waits for the budget with its held
// ops on the shelf.
func (b *bundle) parked(base string, lane seaflow.Lane) (held int, ok bool) {
	b.disp.mu.Lock()
	bl := b.disp.bases[base]
	b.disp.mu.Unlock()
	bl.shelf.mu.Lock()
	defer bl.shelf.mu.Unlock()
	l, ok := bl.shelf.parked[lane]
	if !ok {
		return 0, false
	}
	return len(l.held), true
}

// TestUrgentCallCarriesBulkOps: while bulk waits for its slot, an urgent
// call for a table and kind fills its 1,000 rows with bulk's ops of the
// same table and kind, in bulk's queue order, at no extra call; a bulk op
// on a row an urgent op writes stays behind (the newer value wins), and
// what is left goes in bulk's own call.
func TestUrgentCallCarriesBulkOps(t *testing.T) {
	b := setup(t)
	b.budget.laneNext[seaflow.Bulk] = b.clock.Now().Add(30 * time.Second)
	bulk := []seaflow.Op{u("bulk-r5", seaflow.Bulk, "r5", map[string]any{"n": "old"})}
	for i := range 1500 {
		bulk = append(bulk, seaflow.Op{ID: fmt.Sprint("bulk", i), Kind: seaflow.KindAppend, Base: "crm", Table: "T2", Lane: seaflow.Bulk,
			Values: map[string]any{"i": i}})
	}
	b.source.push(bulk...)
	b.start(t)
	waitUntil(t, b.n, "bulk parked with a batch", func() bool {
		n, ok := b.parked("crm", seaflow.Bulk)
		return ok && n == MaxBatchRows
	})

	b.source.push(
		seaflow.Op{ID: "urgent-append", Kind: seaflow.KindAppend, Base: "crm", Table: "T2", Lane: seaflow.Urgent, Values: map[string]any{"i": -1}},
		u("urgent-r5", seaflow.Urgent, "r5", map[string]any{"n": "new"}))
	waitUntil(t, b.n, "urgent ops acked", func() bool { return b.source.ackedCount() >= 2+999 })
	if got := b.source.ackedCount(); got != 2+999 {
		t.Fatalf("acked %d, want the 2 urgent ops and 999 bulk appends", got)
	}
	reports := b.reports.all()
	var appendRows, updateRows int
	for _, r := range reports {
		if r.Lane != seaflow.Urgent {
			t.Fatalf("call of lane %s before bulk's slot: %+v", r.Lane, r)
		}
		switch r.Call {
		case "append rows":
			appendRows += r.Rows
		case "update rows":
			updateRows += r.Rows
		}
	}
	if appendRows != MaxBatchRows || updateRows != 1 || b.rows.callCount() != 2 {
		t.Fatalf("urgent calls %d carrying %d appended and %d updated rows, want 2 carrying 1000 and 1", b.rows.callCount(), appendRows, updateRows)
	}
	if got := b.cell("T1", "r5", "n"); got != "new" {
		t.Fatalf("r5 = %v: the urgent write must not be merged with bulk's older one", got)
	}
	// The bulk appends went in queue order: the first 999 were carried.
	acked := map[string]bool{}
	for _, op := range b.source.ackedOps() {
		acked[op.ID] = true
	}
	if acked["bulk-r5"] || !acked["bulk0"] || !acked["bulk998"] || acked["bulk999"] {
		t.Fatalf("carried the wrong bulk ops: bulk-r5 %v, bulk0 %v, bulk998 %v, bulk999 %v", acked["bulk-r5"], acked["bulk0"], acked["bulk998"], acked["bulk999"])
	}

	b.clock.Advance(30 * time.Second)
	waitUntil(t, b.n, "bulk drained", func() bool { return b.source.ackedCount() == 2+1501 })
}
