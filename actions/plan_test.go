package actions

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/seaflow/seaflow"
)

func upd(row string, values map[string]any) seaflow.Op {
	return seaflow.Op{Kind: seaflow.KindUpdate, Base: "crm", Table: "Deals", Lane: seaflow.Normal, RowID: row, Values: values}
}

func op(kind seaflow.Kind, table, row string) seaflow.Op {
	return seaflow.Op{Kind: kind, Base: "crm", Table: table, Lane: seaflow.Normal, RowID: row}
}

// shape renders a plan as kind:rows per batch.
func shape(bs []Batch) []string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s/%s:%d", b.Kind, b.Table, b.Rows()))
	}
	return s
}

func TestPlanMergesUpdatesOfOneRow(t *testing.T) {
	ops := []seaflow.Op{
		upd("A", map[string]any{"Stage": "Open", "Owner": "ann"}),
		upd("B", map[string]any{"Stage": "Lost"}),
		upd("A", map[string]any{"Stage": "Won"}),
		upd("A", map[string]any{"Amount": 5}),
	}
	bs := Plan(ops)
	if len(bs) != 1 {
		t.Fatalf("got %d batches %v, want 1", len(bs), shape(bs))
	}
	b := bs[0]
	want := []Item{
		{RowID: "A", Values: map[string]any{"Stage": "Won", "Owner": "ann", "Amount": 5}, Ops: []int{0, 2, 3}},
		{RowID: "B", Values: map[string]any{"Stage": "Lost"}, Ops: []int{1}},
	}
	if !reflect.DeepEqual(b.Items, want) {
		t.Fatalf("items = %+v, want %+v", b.Items, want)
	}
	if got := b.Ops(); !reflect.DeepEqual(got, []int{0, 1, 2, 3}) {
		t.Fatalf("Ops() = %v", got)
	}
	if ops[0].Values["Stage"] != "Open" {
		t.Fatal("Plan modified its input")
	}
}

func TestPlanKeepsOrderOnOneRow(t *testing.T) {
	tests := []struct {
		name string
		ops  []seaflow.Op
		want []string
	}{
		{
			name: "update after delete of the row",
			ops:  []seaflow.Op{upd("A", nil), op(seaflow.KindDelete, "Deals", "A"), upd("A", nil), upd("B", nil)},
			// B is on another row: it joins the last update batch.
			want: []string{"update/Deals:1", "delete/Deals:1", "update/Deals:2"},
		},
		{
			name: "lock, update, unlock",
			ops:  []seaflow.Op{op(seaflow.KindLock, "Deals", "A"), upd("A", nil), op(seaflow.KindUnlock, "Deals", "A"), op(seaflow.KindLock, "Deals", "B")},
			want: []string{"lock/Deals:2", "update/Deals:1", "unlock/Deals:1"},
		},
		{
			name: "row ids are unique across tables",
			ops:  []seaflow.Op{op(seaflow.KindDelete, "Deals", "A"), op(seaflow.KindUpdate, "Other", "A")},
			want: []string{"delete/Deals:1", "update/Other:1"},
		},
		{
			name: "link waits for the delete of a linked row",
			ops: []seaflow.Op{op(seaflow.KindDelete, "Contacts", "C"),
				{Kind: seaflow.KindLink, Base: "crm", Table: "Deals", RowID: "A", LinkColumn: "Contact", OtherRowIDs: []string{"C"}}},
			want: []string{"delete/Contacts:1", "link/Deals:1"},
		},
		{
			name: "upsert after append on the same table",
			ops: []seaflow.Op{{Kind: seaflow.KindAppend, Base: "crm", Table: "Orders", Values: map[string]any{"ID": "o1"}},
				{Kind: seaflow.KindUpsert, Base: "crm", Table: "Orders", Key: "ID", Values: map[string]any{"ID": "o1", "N": 2}},
				{Kind: seaflow.KindAppend, Base: "crm", Table: "Orders", Values: map[string]any{"ID": "o2"}}},
			want: []string{"append/Orders:1", "upsert/Orders:1", "append/Orders:1"},
		},
		{
			name: "appends on other tables do not wait for an upsert",
			ops: []seaflow.Op{{Kind: seaflow.KindAppend, Base: "crm", Table: "Log"},
				{Kind: seaflow.KindUpsert, Base: "crm", Table: "Orders", Key: "ID", Values: map[string]any{"ID": "o1"}},
				{Kind: seaflow.KindAppend, Base: "crm", Table: "Log"}},
			want: []string{"append/Log:2", "upsert/Orders:1"},
		},
		{
			name: "update after upsert on the same table",
			ops: []seaflow.Op{upd("A", nil),
				{Kind: seaflow.KindUpsert, Base: "crm", Table: "Deals", Key: "ID", Values: map[string]any{"ID": 1}},
				upd("B", nil)},
			want: []string{"update/Deals:1", "upsert/Deals:1", "update/Deals:1"},
		},
		{
			name: "sql is a barrier for its table",
			ops: []seaflow.Op{upd("A", nil), {Kind: seaflow.KindSQL, Base: "crm", Statement: "UPDATE Deals SET x=1"},
				upd("B", nil), {Kind: seaflow.KindSQL, Base: "crm", Statement: "DELETE FROM deals"},
				{Kind: seaflow.KindUpdate, Base: "other", Table: "Deals", RowID: "A"}},
			want: []string{"update/Deals:1", "sql/:1", "update/Deals:1", "sql/:1", "update/Deals:1"},
		},
		{
			// Seen: with a rule [sql, append], 2,500 events cost one
			// append call each.
			name: "sql on one table does not split the batches of another",
			ops: []seaflow.Op{
				{Kind: seaflow.KindSQL, Base: "crm", Statement: "UPDATE Stats SET n = n + 1"},
				{Kind: seaflow.KindAppend, Base: "crm", Table: "Leads"},
				{Kind: seaflow.KindSQL, Base: "crm", Statement: "UPDATE Stats SET n = n + 1"},
				{Kind: seaflow.KindAppend, Base: "crm", Table: "Leads"},
				{Kind: seaflow.KindSQL, Base: "crm", Statement: "UPDATE Stats SET n = n + 1"},
				{Kind: seaflow.KindAppend, Base: "crm", Table: "Leads"}},
			want: []string{"sql/:1", "append/Leads:3", "sql/:1", "sql/:1"},
		},
		{
			name: "sql that may touch any table is a barrier for the base",
			ops: []seaflow.Op{upd("A", nil), {Kind: seaflow.KindSQL, Base: "crm", Statement: "UPDATE Stats, Deals SET x=1"},
				upd("B", nil)},
			want: []string{"update/Deals:1", "sql/:1", "update/Deals:1"},
		},
		{
			name: "a query reads after the writes of its table before it",
			ops: []seaflow.Op{upd("A", nil), {Kind: seaflow.KindQuery, Base: "crm", Statement: "SELECT * FROM Deals"},
				upd("B", nil), {Kind: seaflow.KindAppend, Base: "crm", Table: "Leads"}, {Kind: seaflow.KindQuery, Base: "crm", Statement: "SELECT * FROM Deals"},
				{Kind: seaflow.KindAppend, Base: "crm", Table: "Leads"}},
			want: []string{"update/Deals:1", "query/:1", "update/Deals:1", "append/Leads:2", "query/:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shape(Plan(tt.ops)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plan = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanCapsBatchesAtMaxBatchRows(t *testing.T) {
	var ops []seaflow.Op
	for i := range 2500 {
		ops = append(ops, upd(fmt.Sprintf("r%d", i), map[string]any{"n": i}))
	}
	// Updates of rows already in the last batch still merge into it.
	ops = append(ops, upd("r2499", map[string]any{"n": -1}))
	bs := Plan(ops)
	want := []string{"update/Deals:1000", "update/Deals:1000", "update/Deals:500"}
	if got := shape(bs); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	if v := bs[2].Items[499].Values["n"]; v != -1 {
		t.Fatalf("last update not merged: n = %v", v)
	}

	var appends []seaflow.Op
	for range 1001 {
		appends = append(appends, seaflow.Op{Kind: seaflow.KindAppend, Base: "crm", Table: "Log", Values: map[string]any{"x": 1}})
	}
	if got := shape(Plan(appends)); !reflect.DeepEqual(got, []string{"append/Log:1000", "append/Log:1"}) {
		t.Fatalf("appends = %v", got)
	}
}

func TestPlanGroupsUpsertsByKeyColumn(t *testing.T) {
	ups := func(table, key string, v any, extra map[string]any) seaflow.Op {
		values := map[string]any{key: v}
		for k, x := range extra {
			values[k] = x
		}
		return seaflow.Op{Kind: seaflow.KindUpsert, Base: "crm", Table: table, Key: key, Values: values}
	}
	ops := []seaflow.Op{
		ups("Orders", "Order ID", "o1", map[string]any{"Amount": 1, "Note": "a"}),
		ups("Orders", "Order ID", "o2", nil),
		ups("Orders", "Order ID", "o1", map[string]any{"Amount": 2}),
		ups("Orders", "Email", "x@y", nil),
		ups("Orders", "Order ID", "o3", nil),
		ups("Shops", "Order ID", "o1", nil),
	}
	bs := Plan(ops)
	want := []string{"upsert/Orders:2", "upsert/Orders:1", "upsert/Orders:1", "upsert/Shops:1"}
	if got := shape(bs); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	first := bs[0]
	if first.Key != "Order ID" || first.Items[0].KeyValue != "o1" ||
		!reflect.DeepEqual(first.Items[0].Values, map[string]any{"Order ID": "o1", "Amount": 2, "Note": "a"}) ||
		!reflect.DeepEqual(first.Items[0].Ops, []int{0, 2}) {
		t.Fatalf("merged upsert = %+v", first)
	}
	if bs[1].Key != "Email" {
		t.Fatalf("second batch key = %q", bs[1].Key)
	}
}

func TestPlanGroupsLinksByColumn(t *testing.T) {
	link := func(row, col string, others ...string) seaflow.Op {
		return seaflow.Op{Kind: seaflow.KindLink, Base: "crm", Table: "Deals", RowID: row, LinkColumn: col, OtherRowIDs: others}
	}
	bs := Plan([]seaflow.Op{link("A", "Contact", "c1", "c2"), link("B", "Contact", "c1"), link("A", "Contact", "c2", "c3"), link("A", "Company", "x")})
	if got := shape(bs); !reflect.DeepEqual(got, []string{"link/Deals:2", "link/Deals:1"}) {
		t.Fatalf("plan = %v", got)
	}
	if got := bs[0].Items[0].OtherRowIDs; !reflect.DeepEqual(got, []string{"c1", "c2", "c3"}) {
		t.Fatalf("merged links = %v", got)
	}
	if bs[1].LinkColumn != "Company" {
		t.Fatalf("link column = %q", bs[1].LinkColumn)
	}
}

func TestPlanDedupesDeletesAndLocks(t *testing.T) {
	bs := Plan([]seaflow.Op{op(seaflow.KindDelete, "T", "A"), op(seaflow.KindDelete, "T", "A"), op(seaflow.KindDelete, "T", "B")})
	if len(bs) != 1 || bs[0].Rows() != 2 || !reflect.DeepEqual(bs[0].Items[0].Ops, []int{0, 1}) {
		t.Fatalf("plan = %+v", bs)
	}
}

// genOps decodes bytes into ops on a small base: two tables with rows
// r1..r4 and s1..s4, so that ops collide often. Four bytes make one op.
func genOps(data []byte) []seaflow.Op {
	var ops []seaflow.Op
	for ; len(data) >= 4; data = data[4:] {
		k, a, b, c := data[0], data[1], data[2], data[3]
		table, prefix, oprefix := "T1", "r", "s"
		if a&1 == 1 {
			table, prefix, oprefix = "T2", "s", "r"
		}
		row := fmt.Sprintf("%s%d", prefix, 1+(a>>1)%4)
		col := []string{"a", "b", "K"}[b%3]
		val := int(c % 3)
		o := seaflow.Op{Base: "crm", Table: table, Lane: seaflow.Normal, ID: fmt.Sprint(len(ops))}
		switch k % 11 {
		case 0, 1, 2:
			o.Kind, o.RowID, o.Values = seaflow.KindUpdate, row, map[string]any{col: val}
			if b&16 != 0 {
				o.Values["b"] = int(b % 5)
			}
		case 3:
			o.Kind, o.Values = seaflow.KindAppend, map[string]any{"K": fmt.Sprintf("k%d", c%6), "a": val}
		case 4:
			o.Kind, o.RowID = seaflow.KindDelete, row
		case 5:
			o.Kind, o.RowID = seaflow.KindLock, row
		case 6:
			o.Kind, o.RowID = seaflow.KindUnlock, row
		case 7, 8:
			o.Kind, o.Key = seaflow.KindUpsert, "K"
			if b&8 != 0 {
				o.Key = "a"
			}
			o.Values = map[string]any{"K": fmt.Sprintf("k%d", c%6), "b": int(b % 4)}
			if o.Key == "a" {
				o.Values["a"] = val
			}
		case 9:
			o.Kind, o.RowID, o.LinkColumn = seaflow.KindLink, row, []string{"L", "M"}[b%2]
			o.OtherRowIDs = []string{fmt.Sprintf("%s%d", oprefix, 1+c%4), fmt.Sprintf("%s%d", oprefix, 1+(c>>2)%4)}
		case 10:
			if c%3 != 0 {
				o.Kind, o.RowID, o.Values = seaflow.KindUpdate, row, map[string]any{col: val}
				break
			}
			// A statement on the op's table (a barrier for it), or one
			// that may touch others too (a barrier for the base).
			o.Kind, o.Statement = seaflow.KindSQL, "UPDATE "+o.Table+" SET x=? WHERE y=?"
			if c%2 == 0 {
				o.Statement = "UPDATE " + o.Table + ", Other SET x=? WHERE y=?"
			}
			o.Params = []any{"K", fmt.Sprintf("k%d", b%6), "a", int(c)}
		}
		ops = append(ops, o)
	}
	return ops
}

func seedModel() *model {
	m := newModel()
	for i := 1; i <= 4; i++ {
		m.put("T1", fmt.Sprintf("r%d", i), map[string]any{"K": fmt.Sprintf("k%d", i), "a": 0})
		m.put("T2", fmt.Sprintf("s%d", i), map[string]any{"K": fmt.Sprintf("k%d", i%2), "a": i % 3})
	}
	return m
}

// checkPlan checks that running the plan of ops batch by batch ends in the
// same base as running ops one by one, that every op is covered exactly
// once, and that batches are homogeneous and within the cap.
func checkPlan(t *testing.T, ops []seaflow.Op) {
	t.Helper()
	seq := seedModel()
	for _, o := range ops {
		seq.apply(o)
	}
	bs := Plan(ops)
	planned := seedModel()
	seen := make([]int, len(ops))
	for _, b := range bs {
		if b.Rows() == 0 || b.Rows() > MaxBatchRows {
			t.Fatalf("batch with %d rows", b.Rows())
		}
		for _, i := range b.Ops() {
			seen[i]++
			if o := ops[i]; o.Kind != b.Kind || o.Table != b.Table || o.Base != b.Base {
				t.Fatalf("op %d (%s %s) in batch %s %s", i, o.Kind, o.Table, b.Kind, b.Table)
			}
		}
		planned.applyBatch(ops, b)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("op %d covered %d times", i, n)
		}
	}
	if got, want := planned.String(), seq.String(); got != want {
		t.Fatalf("plan %v ends in\n%s\none by one ends in\n%s\nops: %+v", shape(bs), got, want, ops)
	}
}

func TestPlanMatchesOneByOne(t *testing.T) {
	for seed := range uint64(3000) {
		r := rand.New(rand.NewPCG(seed, 7))
		data := make([]byte, 4*(1+r.IntN(60)))
		for i := range data {
			data[i] = byte(r.UintN(256))
		}
		checkPlan(t, genOps(data))
	}
}

func FuzzPlan(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 1, 1})
	f.Add([]byte{7, 0, 0, 1, 3, 0, 0, 1, 7, 0, 0, 1, 0, 0, 2, 2})
	f.Add([]byte{9, 2, 0, 5, 4, 1, 0, 0, 10, 0, 1, 3, 5, 2, 0, 0, 0, 2, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPlan(t, genOps(data))
	})
}

func BenchmarkPlan(b *testing.B) {
	// 100,000 updates over 2,000 rows, a few columns each: one fetch's
	// worth is 1,000 ops, but Plan also takes a whole backlog at once.
	r := rand.New(rand.NewPCG(1, 2))
	ops := make([]seaflow.Op, 100_000)
	for i := range ops {
		ops[i] = upd(fmt.Sprintf("row%04d", r.IntN(2000)), map[string]any{fmt.Sprintf("c%d", r.IntN(4)): i})
	}
	b.ReportAllocs()
	var calls, rows int
	for b.Loop() {
		bs := Plan(ops)
		calls, rows = 0, 0
		for _, x := range bs {
			calls += x.Calls()
			rows += x.Rows()
		}
	}
	b.ReportMetric(float64(len(ops))/float64(calls), "ops/call")
	b.ReportMetric(float64(rows)/float64(calls), "rows/call")
}

func TestReplaySafeTurnsRedeliveredAppendsIntoUpserts(t *testing.T) {
	t.Parallel()
	app := seaflow.Op{ID: "ev/r/0", Kind: seaflow.KindAppend, Table: "T", Values: map[string]any{"Name": "x", "Seaflow ID": "ev/r/0"}, DedupeColumn: "Seaflow ID"}
	if op := replaySafe(Delivery{Op: app}); op.Kind != seaflow.KindAppend {
		t.Errorf("first delivery sent as %s, want a plain append", op.Kind)
	}
	op := replaySafe(Delivery{Op: app, Redelivered: true})
	if op.Kind != seaflow.KindUpsert || op.Key != "Seaflow ID" || op.Values["Seaflow ID"] != "ev/r/0" {
		t.Errorf("redelivered append = %+v, want an upsert keyed on its dedupe column", op)
	}
	if app.Kind != seaflow.KindAppend {
		t.Errorf("replaySafe changed the delivery's op")
	}
	plain := seaflow.Op{ID: "ev/r/1", Kind: seaflow.KindAppend, Table: "T", Values: map[string]any{"Name": "y"}}
	if op := replaySafe(Delivery{Op: plain, Redelivered: true}); op.Kind != seaflow.KindAppend {
		t.Errorf("an append without a dedupe column became %s", op.Kind)
	}

	// On the model: the first delivery landed; the replay finds the row.
	m := newModel()
	m.apply(app)
	m.apply(replaySafe(Delivery{Op: app, Redelivered: true}))
	if n := len(m.table("T")); n != 1 {
		t.Errorf("table has %d rows after a replayed append, want 1", n)
	}
}

func TestReplaySafeReplayedOp(t *testing.T) {
	t.Parallel()
	op := seaflow.Op{ID: "e/r/0", Kind: seaflow.KindAppend, Table: "T", Values: map[string]any{"ID": "e/r/0"}, DedupeColumn: "ID", Replay: true}
	if got := replaySafe(Delivery{Op: op}); got.Kind != seaflow.KindUpsert || got.Key != "ID" {
		t.Errorf("an append from a redelivered event = %+v, want an upsert on its dedupe column", got)
	}
}
