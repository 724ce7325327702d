package actions

import (
	"reflect"
	"slices"
	"testing"

	"github.com/seaflow/seaflow"
)

func TestExecuteDeadLettersUnknownColumns(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	ops := []seaflow.Op{
		u("a", "", "r1", map[string]any{"n": 1}),
		u("b", "", "r2", map[string]any{"Typo": 2, "n": 2}),
		// A column key is no write key: SeaTable would drop it too.
		u("c", "", "r3", map[string]any{"c004": 3}),
		{Kind: seaflow.KindAppend, Base: "crm", Table: "T1", Values: map[string]any{"K": "k", "Nope": 1, "Typo": 1}},
	}
	out, calls := execAll(t, e, ops)
	if out.Err != nil || !reflect.DeepEqual(out.Done, []int{0}) || len(out.Dead) != 3 {
		t.Fatalf("outcome %+v", out)
	}
	reasons := map[int]string{}
	for _, d := range out.Dead {
		reasons[d.Index] = d.Reason
	}
	want := map[int]string{
		1: `table "T1" has no column "Typo" (SeaTable would drop the value silently)`,
		2: `table "T1" has no column "c004" (SeaTable would drop the value silently)`,
		3: `table "T1" has no columns ["Nope" "Typo"] (SeaTable would drop the values silently)`,
	}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("reasons = %v, want %v", reasons, want)
	}
	// One metadata fetch per run at most (the first is fresh), and the
	// refused ops are never sent.
	if want := []string{"metadata:0", "update rows:1", "metadata:0"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	if b.cell("T1", "r2", "n") != nil || b.cell("T1", "r3", "c004") != nil {
		t.Error("an op with an unknown column was sent")
	}
}

func TestExecuteRefreshesMetadataForANewColumn(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	b.rows.columns = []string{"n"}
	if out, _ := execAll(t, e, []seaflow.Op{u("a", "", "r1", map[string]any{"n": 1})}); len(out.Done) != 1 {
		t.Fatalf("first write: %+v", out)
	}
	// The column is added in SeaTable; the cached metadata lacks it.
	b.rows.columns = []string{"n", "late"}
	out, calls := execAll(t, e, []seaflow.Op{u("b", "", "r1", map[string]any{"late": 2})})
	if len(out.Done) != 1 || len(out.Dead) != 0 {
		t.Fatalf("outcome %+v", out)
	}
	if want := []string{"metadata:0", "update rows:1"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want one refresh and the update", calls)
	}
	// Known columns cost no metadata call.
	if _, calls := execAll(t, e, []seaflow.Op{u("c", "", "r1", map[string]any{"late": 3})}); !slices.Equal(calls, []string{"update rows:1"}) {
		t.Errorf("calls = %v, want the update alone", calls)
	}
}

func TestExecuteChecksTheUpsertKeyColumn(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	op := seaflow.Op{Kind: seaflow.KindUpsert, Base: "crm", Table: "T1", Key: "Missing", Values: map[string]any{"Missing": "x", "n": 1}}
	out, calls := execAll(t, e, []seaflow.Op{op})
	if len(out.Dead) != 1 || out.Dead[0].Reason != `table "T1" has no column "Missing" (SeaTable would drop the value silently)` {
		t.Fatalf("outcome %+v", out)
	}
	if !slices.Equal(calls, []string{"metadata:0"}) {
		t.Errorf("calls = %v", calls)
	}
}
