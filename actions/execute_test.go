package actions

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// execAll plans ops and executes every batch in order with a CallFunc
// that only counts calls, returning the merged outcome.
func execAll(t *testing.T, e *Executor, ops []seaflow.Op) (Outcome, []string) {
	t.Helper()
	var calls []string
	call := func(ctx context.Context, name string, rows int, send func(context.Context) error) error {
		calls = append(calls, fmt.Sprintf("%s:%d", name, rows))
		return send(ctx)
	}
	var all Outcome
	for _, b := range Plan(ops) {
		out := e.Execute(context.Background(), ops, b, call)
		all.Done = append(all.Done, out.Done...)
		all.Dead = append(all.Dead, out.Dead...)
		all.Pending = append(all.Pending, out.Pending...)
		if out.Err != nil {
			all.Err = out.Err
			break
		}
	}
	slices.Sort(all.Done)
	return all, calls
}

func TestExecuteUpsert(t *testing.T) {
	b := setup(t)
	echoes := &fakeEchoes{}
	e := NewExecutor(b.rows, echoes)
	ups := func(key string, values map[string]any) seaflow.Op {
		values["K"] = key
		return seaflow.Op{Kind: seaflow.KindUpsert, Base: "crm", Table: "T1", Key: "K", Values: values}
	}
	ops := []seaflow.Op{
		ups("k1", map[string]any{"n": 1}),
		ups("new1", map[string]any{"n": 2}),
		ups("k2", map[string]any{"n": 3}),
		ups("new1", map[string]any{"m": 4}),
		ups("new2", map[string]any{"n": 5}),
	}
	ops[4].Depth = 3
	out, calls := execAll(t, e, ops)
	if out.Err != nil || len(out.Dead) != 0 || !reflect.DeepEqual(out.Done, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("outcome %+v", out)
	}
	if want := []string{"metadata:0", "upsert key lookup:4", "update rows:2", "append rows:2"}; !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	if b.cell("T1", "r1", "n") != 1 || b.cell("T1", "r2", "n") != 3 {
		t.Fatal("existing rows not updated")
	}
	ids := b.rows.m.lookup("T1", "K", "new1")
	if len(ids) != 1 || b.cell("T1", ids[0], "n") != 2 || b.cell("T1", ids[0], "m") != 4 {
		t.Fatalf("new1 rows %v: want one row with n=2 and m=4", ids)
	}
	news := b.rows.m.lookup("T1", "K", "new2")
	if len(news) != 1 {
		t.Fatal("new2 not appended")
	}
	// The loop guard learns the found rows before the update, the
	// appends (by their cells) before the append, and the new rows after.
	expected, appended := echoes.all()
	if want := []string{"update/T1/r1/0", "update/T1/r2/0", "append/T1//0", "append/T1//3"}; !slices.Equal(expected, want) {
		t.Fatalf("expected echoes %v, want %v", expected, want)
	}
	if want := []string{"T1/" + ids[0], "T1/" + news[0]}; !slices.Equal(appended, want) {
		t.Fatalf("appended %v, want %v", appended, want)
	}
}

func TestExecuteLinksResolvesColumnOnce(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	link := func(row string, others ...string) seaflow.Op {
		return seaflow.Op{Kind: seaflow.KindLink, Base: "crm", Table: "T1", RowID: row, LinkColumn: "L", OtherRowIDs: others}
	}
	out, calls := execAll(t, e, []seaflow.Op{link("r1", "s1"), link("r2", "s2", "s3"), link("r1", "s4")})
	if out.Err != nil || len(out.Dead) != 0 {
		t.Fatalf("outcome %+v", out)
	}
	if want := []string{"metadata:0", "create links:2"}; !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	// The metadata is cached for the next batch.
	_, calls = execAll(t, e, []seaflow.Op{link("r3", "s1")})
	if want := []string{"create links:1"}; !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	if got := b.rows.m.tables["T1"]["r1"].links["L"]; !slices.Equal(got, []string{"s1", "s4"}) {
		t.Fatalf("r1 links = %v", got)
	}
}

func TestExecuteUnknownLinkColumnIsDead(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	ops := []seaflow.Op{{Kind: seaflow.KindLink, Base: "crm", Table: "T1", RowID: "r1", LinkColumn: "Nope", OtherRowIDs: []string{"s1"}}}
	for run := range 2 {
		out, calls := execAll(t, e, ops)
		if len(out.Dead) != 1 || out.Dead[0].Reason != `table "T1" has no link column "Nope"` {
			t.Fatalf("outcome %+v", out)
		}
		// The first run fetches the metadata; the second refreshes its
		// cached copy once in case the column is new. No link call.
		if want := []string{"metadata:0"}; !slices.Equal(calls, want) {
			t.Fatalf("run %d: calls = %v, want %v", run, calls, want)
		}
	}
}

func TestExecuteUnmergesARefusedMergedUpdate(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	ops := []seaflow.Op{
		u("a", "", "r1", map[string]any{"n": 1}),
		u("b", "", "r1", map[string]any{"m": "BAD"}),
		u("c", "", "r1", map[string]any{"o": 3}),
	}
	out, calls := execAll(t, e, ops)
	if out.Err != nil || !reflect.DeepEqual(out.Done, []int{0, 2}) || len(out.Dead) != 1 || out.Dead[0].Index != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if want := []string{"metadata:0", "update rows:1", "update rows:1", "update rows:1", "update rows:1"}; !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	if b.cell("T1", "r1", "n") != 1 || b.cell("T1", "r1", "o") != 3 || b.cell("T1", "r1", "m") != nil {
		t.Fatal("the good ops of the merged update did not land alone")
	}
}

func TestExecuteStopsAtTransientError(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	n := 0
	b.rows.fault = func(string) error {
		n++
		if n == 2 {
			return &seatable.Error{Kind: seatable.KindTransient, Op: "x", Status: 500}
		}
		return nil
	}
	// One bad op forces a split; the transient error hits the second call.
	ops := []seaflow.Op{
		u("a", "", "r1", map[string]any{"n": "BAD"}),
		u("b", "", "r2", map[string]any{"n": 2}),
		u("c", "", "r3", map[string]any{"n": 3}),
	}
	out, _ := execAll(t, e, ops)
	if seatable.KindOf(out.Err) != seatable.KindTransient {
		t.Fatalf("err = %v", out.Err)
	}
	if len(out.Done)+len(out.Dead)+len(out.Pending) != 3 || len(out.Pending) == 0 {
		t.Fatalf("outcome %+v: every op must be done, dead or pending", out)
	}
}

func TestExecuteRefusesUnsendableOpsWithoutACall(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	ops := []seaflow.Op{
		{Kind: seaflow.KindUpsert, Base: "crm", Table: "T1", Key: "K", Values: map[string]any{"n": 1}},
		{Kind: seaflow.KindUpdate, Base: "crm", Table: "T1", Values: map[string]any{"n": 1}},
		{Kind: seaflow.KindSQL, Base: "crm"},
	}
	out, calls := execAll(t, e, ops)
	if len(out.Dead) != 3 || len(calls) != 0 {
		t.Fatalf("outcome %+v, calls %v", out, calls)
	}
	if out.Dead[0].Reason != `upsert without a value for key column "K"` {
		t.Fatalf("reason %q", out.Dead[0].Reason)
	}
}

func TestExecutePermissionErrorKillsTheCallWithoutSplitting(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	b.rows.fault = func(string) error {
		return &seatable.Error{Kind: seatable.KindPermission, Op: "update rows", Status: 403, Message: "Permission denied."}
	}
	ops := []seaflow.Op{
		u("a", "", "r1", map[string]any{"n": 1}),
		u("b", "", "r2", map[string]any{"n": 2}),
		u("c", "", "r3", map[string]any{"n": 3}),
	}
	out, calls := execAll(t, e, ops)
	if out.Err != nil || len(out.Dead) != 3 || len(out.Done) != 0 {
		t.Fatalf("outcome %+v", out)
	}
	if want := "permission denied (is the API token read-only?): Permission denied."; out.Dead[0].Reason != want {
		t.Errorf("reason %q, want %q", out.Dead[0].Reason, want)
	}
	if want := []string{"metadata:0", "update rows:3"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v (no split)", calls, want)
	}
}
