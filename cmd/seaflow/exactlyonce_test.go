package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/runner"
)

// waitQueueEmpty waits until no op of base is queued (the daemon's queue
// has no signal to wait on from here: it is polled).
func waitQueueEmpty(t *testing.T, d *daemon, base string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	guard := time.After(60 * time.Second)
	for d.queuedOps(base) != 0 {
		select {
		case <-tick.C:
		case <-guard:
			t.Fatalf("ops of %s still queued: %d", base, d.queuedOps(base))
		}
	}
}

// landThenHang serves the first n appends to the emulator (they land) and
// then never answers: the client's call times out after its write landed.
func landThenHang(b *daemonBundle, n int32) *atomic.Int32 {
	var hung atomic.Int32
	mw := func(w http.ResponseWriter, r *http.Request, emu http.Handler) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/rows/") && hung.Add(1) <= n {
			emu.ServeHTTP(httptest.NewRecorder(), r)
			<-r.Context().Done()
			return
		}
		emu.ServeHTTP(w, r)
	}
	b.middle.Store(&mw)
	return &hung
}

const appendConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - { name: leads, path: /hooks/leads, token: "leads-token-value" }
  - { name: plain, path: /hooks/plain, token: "plain-token-value" }
rules:
  - name: lead
    on: { webhook: leads }
    do:
      - append: { base: crm, table: Leads, values: { Name: "=body.name" }, dedupe_column: Seaflow ID }
  - name: plain
    on: { webhook: plain }
    do:
      - append: { base: crm, table: Leads, values: { Name: "=body.name" } }
`

// TestAppendsThatTimeOutDoNotDouble: an append that landed but whose
// answer timed out is sent again as an upsert on its dedupe_column, so it
// is not added twice (seen before: 10 events gave 30 rows). Without a
// dedupe_column it is at least once, and the metric counts it.
func TestAppendsThatTimeOutDoNotDouble(t *testing.T) {
	d, b := startTestDaemonWith(t, appendConfig, daemonOptions{CallTimeout: 300 * time.Millisecond})
	hung := landThenHang(b, 1)
	const events = 10
	for i := range events {
		if code := b.post(t, "/hooks/leads", "leads-token-value", fmt.Sprintf(`{"name":"lead-%d"}`, i)); code != http.StatusAccepted {
			t.Fatalf("HTTP %d", code)
		}
	}
	for i := range events {
		b.waitForCell(t, "Leads", "Name", fmt.Sprintf("lead-%d", i))
	}
	waitQueueEmpty(t, d, "crm")
	rows, _ := b.emu.Rows(b.base.UUID, "Leads")
	seen := map[string]int{}
	for _, r := range rows {
		seen[r["Name"].(string)]++
	}
	for i := range events {
		if n := seen[fmt.Sprintf("lead-%d", i)]; n != 1 {
			t.Errorf("lead-%d stored %d times, want once (%d append calls hung after landing)", i, n, hung.Load())
		}
	}
	if hung.Load() < 1 {
		t.Fatalf("only %d calls hung: the test did not provoke the case", hung.Load())
	}

	// Without a dedupe column: at least once, and counted.
	landThenHang(b, 1)
	if code := b.post(t, "/hooks/plain", "plain-token-value", `{"name":"plain-1"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	b.waitForCell(t, "Leads", "Name", "plain-1")
	waitQueueEmpty(t, d, "crm")
	rows, _ = b.emu.Rows(b.base.UUID, "Leads")
	n := 0
	for _, r := range rows {
		if r["Name"] == "plain-1" {
			n++
		}
	}
	if n < 1 || counter(t, d, "seaflow_appends_unknown_outcome_total") < 1 {
		t.Fatalf("plain append: %d rows, counted %v; want at least one, counted", n, counter(t, d, "seaflow_appends_unknown_outcome_total"))
	}
}

// counter sums a counter of the daemon's /metrics registry.
func counter(t *testing.T, d *daemon, name string) float64 {
	t.Helper()
	fams, err := d.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestDryRunLeavesQueuedWork: --dry-run on a data dir with queued ops
// leaves them all there (seen before: it acked and dropped them), while it
// runs its own events through the rules and plans their calls.
func TestDryRunLeavesQueuedWork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ops []seaflow.Op
	for i := range 4 {
		ops = append(ops, seaflow.Op{ID: fmt.Sprint("queued-", i), Kind: seaflow.KindAppend, Base: "crm", Table: "Leads", Lane: seaflow.Urgent, Values: map[string]any{"Name": fmt.Sprint("q", i)}})
	}
	if err := q.PublishOps(ctx, ops); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	traces := make(chan runner.Trace, 4)
	d, b := startTestDaemonWith(t, appendConfig, daemonOptions{DryRun: true, DataDir: dir, onTrace: func(tr runner.Trace) { traces <- tr }})
	if code := b.post(t, "/hooks/leads", "leads-token-value", `{"name":"dry"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	select {
	case tr := <-traces:
		if len(tr.Rules) != 1 || tr.Rules[0].Ops != 1 {
			t.Fatalf("dry-run trace %+v, want the lead rule's op", tr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dry run handled no event")
	}
	waitQueueEmpty(t, d, "crm") // the dry run's own op, planned and dropped
	if err := d.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if rows, _ := b.emu.Rows(b.base.UUID, "Leads"); len(rows) != 0 {
		t.Fatalf("the dry run wrote %d rows", len(rows))
	}
	q, err = queue.Open(ctx, queue.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n, err := q.Pending(ctx, "crm", seaflow.Urgent); err != nil || n != 4 {
		t.Fatalf("queued ops after the dry run = %d, %v; want all 4", n, err)
	}
}
