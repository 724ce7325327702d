package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/runner"
)

// quotaConfig has two bases (on the one emulated base) sharing a monthly
// quota of four calls: each base's first write costs a metadata read and
// the write.
const quotaConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm:  { url: "%[1]s", api_token: "%[2]s" }
  crm2: { url: "%[1]s", api_token: "%[2]s" }
quotas:
  team: { bases: [crm, crm2], limits: [ { window: month, calls: 4 } ], urgent_reserve: 0 }
webhooks:
  - { name: one, path: /hooks/one, token: "form-token" }
  - { name: two, path: /hooks/two, token: "form-token" }
rules:
  - name: one
    on: { webhook: one }
    do: [ { update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } } } ]
  - name: two
    on: { webhook: two }
    do: [ { update: { base: crm2, table: Deals, row: "=body.row", values: { Note: "=body.note" } } } ]
`

// TestDaemonQuota: once the bases of a quota have spent it together, the
// call of either is refused until the month ends, and the status says so.
func TestDaemonQuota(t *testing.T) {
	t.Parallel()
	traces := make(chan runner.Trace, 16)
	d, b := startTestDaemonWith(t, quotaConfig, daemonOptions{onTrace: func(tr runner.Trace) { traces <- tr }})
	id := b.firstRowID(t)
	post := func(hook, note string) {
		t.Helper()
		if code := b.post(t, "/hooks/"+hook, "form-token", `{"row":"`+id+`","note":"`+note+`"}`); code != 202 {
			t.Fatalf("POST /hooks/%s: %d", hook, code)
		}
	}
	post("one", "first")
	b.waitForCell(t, "Deals", "Note", "first")
	post("two", "second")
	b.waitForCell(t, "Deals", "Note", "second")

	ctx := context.Background()
	now := d.opts.Clock.Now().UTC()
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	for _, base := range []string{"crm", "crm2"} {
		if next, err := d.budget.Next(ctx, base, seaflow.Urgent); err != nil || !next.Equal(nextMonth) {
			t.Errorf("%s: next call %v %v, want %v (the quota is spent)", base, next, err, nextMonth)
		}
	}
	// A third write waits in its queue: the lane does not fetch it.
	for len(traces) > 0 {
		<-traces
	}
	post("one", "third")
	select {
	case <-traces:
	case <-time.After(20 * time.Second):
		t.Fatal("the third event was not handled")
	}
	if n, err := d.q.Pending(ctx, "crm", seaflow.Urgent); err != nil || n != 1 {
		t.Errorf("crm urgent pending %d %v, want the op waiting", n, err)
	}
	st := d.status(ctx, 10)
	if len(st.Quotas) != 1 || st.Quotas[0].Name != "team" || len(st.Quotas[0].Windows) != 1 ||
		st.Quotas[0].Windows[0].Used != 4 || st.Quotas[0].Windows[0].Remaining != 0 {
		t.Fatalf("status quotas %+v", st.Quotas)
	}
	out, _, code := runCLI(t, nil, "status", "--url", b.url)
	if code != 0 || !strings.Contains(out, "quota team (crm, crm2)") {
		t.Errorf("seaflow status:\n%s", out)
	}
}
