package actions

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// TestCallShares: every call is attributed to the rules of the ops it
// carries, in shares by ops, also when a refused batch is split.
func TestCallShares(t *testing.T) {
	b := setup(t)
	e := NewExecutor(b.rows, nil)
	ruled := func(rule, row string, values map[string]any) seaflow.Op {
		op := u(rule+"-"+row, "", row, values)
		op.Rule = rule
		return op
	}
	ops := []seaflow.Op{
		ruled("a", "r1", map[string]any{"n": 1}),
		ruled("a", "r2", map[string]any{"n": 2}),
		ruled("b", "r3", map[string]any{"m": "BAD"}),
		ruled("a", "r4", map[string]any{"n": 4}),
	}
	var calls []string
	call := func(ctx context.Context, name string, rows int, send func(context.Context) error) error {
		var parts []string
		for _, s := range seatable.SharesFrom(ctx) {
			parts = append(parts, fmt.Sprintf("%s=%.2f", s.Rule, s.Part))
		}
		calls = append(calls, fmt.Sprintf("%s:%d[%s]", name, rows, strings.Join(parts, " ")))
		return send(ctx)
	}
	var sent map[int]Sent
	for _, batch := range Plan(ops) {
		out := e.Execute(context.Background(), ops, batch, call)
		if out.Err != nil {
			t.Fatal(out.Err)
		}
		sent = out.Sent
	}
	// Each op that landed names the last call that carried it; the dead
	// one none.
	if want := map[int]Sent{0: {"update rows", 2}, 1: {"update rows", 2}, 3: {"update rows", 1}}; !reflect.DeepEqual(sent, want) {
		t.Errorf("sent = %+v, want %+v", sent, want)
	}
	want := []string{
		"metadata:0[a=0.75 b=0.25]",
		"update rows:4[a=0.75 b=0.25]",
		// Split in halves to isolate the refused op of rule b.
		"update rows:2[a=1.00]",
		"update rows:2[b=0.50 a=0.50]",
		"update rows:1[b=1.00]",
		"update rows:1[a=1.00]",
	}
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if s := Shares(ops, nil); s != nil {
		t.Errorf("Shares of no items = %v", s)
	}
}
