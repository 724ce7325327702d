package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/statuspage"
	"github.com/seaflow/seaflow/triggers"
)

// TestRunProgress: a cron tick's for_each is a run whose ops queued, done
// and dead the status counts (its rows' ops too, read page by page), and
// a lane's backlog gets a finish time from the budget's plan, or the ops
// that carry over past the window's end.
func TestRunProgress(t *testing.T) {
	const tasks = 2500
	outcomes := make(chan struct{}, 1000)
	d, b := startTestDaemonOn(t, tasksFixture(tasks, false), admissionConfig, daemonOptions{onOutcome: func() {
		select {
		case outcomes <- struct{}{}:
		default:
		}
	}})
	ctx := context.Background()
	tick := triggers.CronEvent("close-tasks", time.Now().Truncate(time.Minute))
	if _, err := d.q.StoreEvent(ctx, tick); err != nil {
		t.Fatal(err)
	}
	waitAllTasks(t, b, "Done", tasks)
	run := func() (statuspage.RunStatus, bool) {
		for _, r := range d.status(ctx, 10).Runs {
			if r.EventID == tick.ID {
				return r, r.Done == tasks
			}
		}
		return statuspage.RunStatus{}, false
	}
	var r statuspage.RunStatus
	for ok := false; !ok; {
		if r, ok = run(); ok {
			break
		}
		select {
		case <-outcomes:
		case <-time.After(30 * time.Second):
			t.Fatalf("run not counted done: %+v; logs:\n%s", r, b.logs.String())
		}
	}
	if r.Name != "close-tasks" || r.Queued != tasks || r.Dead != 0 || r.Base != "crm" || r.Lane != "normal" || r.FinishAt != nil {
		t.Errorf("run = %+v, want close-tasks: %d queued, all done", r, tasks)
	}
	if out, _, code := runCLI(t, nil, "status", "--url", b.url); code != 0 || !strings.Contains(out, "close-tasks") || !strings.Contains(out, "finished") {
		t.Errorf("seaflow status:\n%s", out)
	}

	// A backlog the base cannot send now: frozen for an hour it finishes
	// after the freeze; frozen past the day's window it carries over.
	for _, c := range []struct {
		freeze time.Duration
		want   string
	}{
		{time.Hour, "finishes at"},
		{25 * time.Hour, "carries over: 1500 ops left at the window's end"},
	} {
		until := time.Now().Add(c.freeze)
		if err := d.keeper.Freeze(ctx, "crm", until); err != nil {
			t.Fatal(err)
		}
		if c.freeze == time.Hour {
			ops := make([]seaflow.Op, 1500)
			for i := range ops {
				ops[i] = seaflow.Op{ID: fmt.Sprintf("backlog-%d", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Tasks", Lane: seaflow.Bulk,
					RowID: "r", Values: map[string]any{"Status": "Open"}, CreatedAt: time.Now()}
			}
			if err := d.q.PublishOps(ctx, ops); err != nil {
				t.Fatal(err)
			}
		}
		st := d.status(ctx, 10)
		var bl *statuspage.BacklogStatus
		for i, x := range st.Bases[0].Backlog {
			if x.Lane == "bulk" {
				bl = &st.Bases[0].Backlog[i]
			}
		}
		switch {
		case bl == nil || bl.Ops != 1500 || bl.Calls != 2:
			t.Errorf("freeze %v: bulk backlog %+v", c.freeze, bl)
		case c.freeze == time.Hour && (bl.FinishAt == nil || bl.FinishAt.Before(until)):
			t.Errorf("freeze %v: backlog %+v, want it finished after the freeze", c.freeze, bl)
		case c.freeze > time.Hour && (bl.FinishAt != nil || bl.CarriesOver != 1500):
			t.Errorf("freeze %v: backlog %+v, want all carried over", c.freeze, bl)
		}
		if out, _, _ := runCLI(t, nil, "status", "--url", b.url); !strings.Contains(out, c.want) {
			t.Errorf("freeze %v: seaflow status lacks %q:\n%s", c.freeze, c.want, out)
		}
	}
}
