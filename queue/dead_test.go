package queue

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	q := setup(t)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	q.now = func() time.Time { return now }
	ctx := t.Context()

	if dead, err := q.ListDead(ctx); err != nil || len(dead) != 0 {
		t.Fatalf("empty dead list = %v, %v", dead, err)
	}
	// The op went through the work queue first: its id is in the OPS
	// duplicate window when it is retried.
	bad := testOp("bad", "crm", seaflow.Urgent)
	if err := q.PublishOps(ctx, []seaflow.Op{bad}); err != nil {
		t.Fatal(err)
	}
	ds, err := q.Fetch(ctx, "crm", seaflow.Urgent, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatal(err)
	}
	if err := q.DeadLetter(ctx, ds[0].Op, "invalid column Stage"); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if err := ds[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	other := testOp("other", "hr.base", seaflow.Bulk)
	if err := q.DeadLetter(ctx, other, "row not found"); err != nil {
		t.Fatal(err)
	}

	dead, err := q.ListDead(ctx)
	if err != nil || len(dead) != 2 {
		t.Fatalf("dead list = %+v, %v", dead, err)
	}
	if dead[0].Op.ID != "bad" || dead[0].Reason != "invalid column Stage" || !dead[0].Time.Equal(now) || dead[0].Op.Values["Stage"] != "Won" {
		t.Errorf("dead[0] = %+v", dead[0])
	}
	if dead[1].Op.ID != "other" || dead[1].Op.Base != "hr.base" || dead[1].Seq <= dead[0].Seq {
		t.Errorf("dead[1] = %+v", dead[1])
	}

	if err := q.RetryDead(ctx, dead[0].Seq); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := pending(t, q, "crm", seaflow.Urgent); got != 1 {
		t.Fatalf("pending after retry = %d, want 1 (not dropped as a duplicate)", got)
	}
	again, err := q.Fetch(ctx, "crm", seaflow.Urgent, 1, 0)
	if err != nil || len(again) != 1 || again[0].Op.ID != "bad" {
		t.Fatalf("retried op = %+v, %v", again, err)
	}
	if err := q.RetryDead(ctx, dead[0].Seq); err == nil {
		t.Error("retrying a dead letter twice succeeded")
	}

	if err := q.DropDead(ctx, dead[1].Seq); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if err := q.DropDead(ctx, dead[1].Seq); err == nil {
		t.Error("dropping a dead letter twice succeeded")
	}
	if left, err := q.ListDead(ctx); err != nil || len(left) != 0 {
		t.Fatalf("dead list after retry and drop = %+v, %v", left, err)
	}
}

func TestFindDead(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	for i, spec := range []struct{ base, rule string }{{"crm", "a"}, {"crm", "b"}, {"hr.base", "a"}, {"crm", "a"}} {
		op := testOp(fmt.Sprintf("op-%d", i), spec.base, seaflow.Normal)
		op.Rule = spec.rule
		if err := q.DeadLetter(ctx, op, "invalid"); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(ds []DeadOp) string {
		var s []string
		for _, d := range ds {
			s = append(s, d.Op.ID)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		f    DeadFilter
		want string
	}{
		{"all", DeadFilter{}, "op-0 op-1 op-2 op-3"},
		{"base", DeadFilter{Base: "crm"}, "op-0 op-1 op-3"},
		{"base with a dot", DeadFilter{Base: "hr.base"}, "op-2"},
		{"rule", DeadFilter{Rule: "a"}, "op-0 op-2 op-3"},
		{"base and rule", DeadFilter{Base: "crm", Rule: "b"}, "op-1"},
		{"none", DeadFilter{Rule: "nope"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := q.FindDead(ctx, tc.f)
			if err != nil || ids(got) != tc.want {
				t.Errorf("FindDead(%+v) = %q, %v; want %q", tc.f, ids(got), err, tc.want)
			}
		})
	}
	t.Run("get", func(t *testing.T) {
		d, err := q.GetDead(ctx, 3)
		if err != nil || d.Op.ID != "op-2" || d.Op.Base != "hr.base" || d.Reason != "invalid" || d.Seq != 3 {
			t.Errorf("GetDead(3) = %+v, %v", d, err)
		}
		if _, err := q.GetDead(ctx, 99); err == nil {
			t.Error("GetDead of an unknown seq succeeded")
		}
	})
}
