package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seaflow/seaflow/internal/proctest"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// dealsFixture is a CRM base whose SeaTable webhook points at the daemon.
const dealsFixture = `
bases:
  - name: crm
    webhooks:
      - { url: "http://$LISTEN/hooks/crm", secret: "$SECRET" }
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Won At, type: date }
          - { name: Bumps, type: number }
        rows:
          - { Name: Acme, Stage: Lead }
          - { Name: Globex, Stage: Lead }
`

// configHead is the part of every config before its webhooks and rules.
const configHead = `
server: { listen: "${E2E_LISTEN}", auth: none }
bases:
  crm: { url: "${E2E_EMU_URL}", api_token: "${E2E_TOKEN}" }
`

// rowByName returns the row whose Name cell is name.
func rowByName(rows []map[string]any, name string) map[string]any {
	for _, r := range rows {
		if r["Name"] == name {
			return r
		}
	}
	return nil
}

// forEachWebhookModel runs body under each of the emulator's webhook
// models (per-row events, or one *_rows event per multi-row API write),
// with the fixture line that selects it.
func forEachWebhookModel(t *testing.T, body func(t *testing.T, fixtureHead string)) {
	for _, m := range emulator.WebhookModels {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			body(t, "webhook_events: "+string(m)+"\n")
		})
	}
}

// TestWebhookEditStampsRow: a user edit (Stage → Won) fires SeaTable's
// signed webhook; the rule stamps "Won At" on that row with one update
// call, and the webhook of seaflow's own write (a modify_row, or a
// modify_rows in the batch model) fires no rule.
func TestWebhookEditStampsRow(t *testing.T) {
	t.Parallel()
	forEachWebhookModel(t, testWebhookEditStampsRow)
}

func testWebhookEditStampsRow(t *testing.T, fixtureHead string) {
	e := setup(t, fixtureHead+dealsFixture, configHead+`
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${E2E_SECRET}" } }
rules:
  - name: stamp-won
    on: { webhook: crm-changes }
    when: event.op_type == "modify_row" && event.table == "Deals" && row.Stage == "Won" && old.Stage != "Won"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { "Won At": "=now()" } }
`, nil)
	e.start()
	acme := rowByName(e.rows("Deals"), "Acme")["_id"].(string)
	if _, err := e.emu.Edit(emulator.EditRequest{BaseUUID: e.base.UUID, TableName: "Deals", Op: "update", RowID: acme, Row: map[string]any{"Stage": "Won"}}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(30*time.Second, `"Won At" on Acme`, func() bool {
		r := rowByName(e.rows("Deals"), "Acme")
		return r != nil && r["Won At"] != nil && r["Won At"] != ""
	})
	// Two events: the user's edit and the echo of seaflow's own write.
	e.waitWebhooks()
	st := e.waitStatus(30*time.Second, "both webhook events handled", func(s statusDoc) bool { return len(s.Traces) >= 2 })

	rows := e.rows("Deals")
	if g := rowByName(rows, "Globex"); g["Won At"] != nil {
		t.Errorf("Globex got Won At = %v; only the edited row may change", g["Won At"])
	}
	if a := rowByName(rows, "Acme"); a["Stage"] != "Won" {
		t.Errorf("Acme Stage = %v, want Won", a["Stage"])
	}
	ups := e.calls(http.MethodPut, "/rows/")
	if len(ups) != 1 || ups[0].Rows != 1 {
		t.Errorf("update calls: %v rows each, want exactly one call of 1 row", rowsOf(ups))
	}
	if n := len(e.calls(http.MethodPost, "/rows/")); n != 0 {
		t.Errorf("%d append calls, want 0", n)
	}
	fired := 0
	for _, tr := range st.Traces {
		for _, r := range tr.Rules {
			if r.Rule == "stamp-won" && r.Ops > 0 {
				fired++
			}
		}
	}
	if fired != 1 {
		t.Errorf("stamp-won produced ops for %d events, want 1 (the echo of its own write must not fire it): %+v", fired, st.Traces)
	}
	if hs := e.stats().Webhooks; len(hs) != 1 || hs[0].Failed != 0 || hs[0].Sent != 2 {
		t.Errorf("webhook deliveries: %+v, want 2 sent, 0 failed", hs)
	}
}

// TestLoopGuardStopsSelfTrigger: a rule that opts in to its own writes
// (on_self) and updates the row that fired it would loop forever; the
// loop guard stops the chain at the depth limit and the daemon stays
// healthy. It runs with per-row events only: in the batch model the echo
// of the rule's write is a modify_rows, which its when: does not match,
// so there is no loop to stop (the loop guard's handling of batch and
// link events is issue 12's).
func TestLoopGuardStopsSelfTrigger(t *testing.T) {
	t.Parallel()
	e := setup(t, "webhook_events: per-row\n"+dealsFixture, configHead+`
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${E2E_SECRET}" } }
rules:
  - name: bump
    on: { webhook: crm-changes }
    on_self: true
    when: event.op_type == "modify_row" && event.table == "Deals"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Bumps: "=(row.Bumps ?? 0) + 1" } }
`, nil)
	e.expectWarn = []string{"loop guard stopped rule"} // what this test provokes
	d := e.start()
	acme := rowByName(e.rows("Deals"), "Acme")["_id"].(string)
	if _, err := e.emu.Edit(emulator.EditRequest{BaseUUID: e.base.UUID, TableName: "Deals", Op: "update", RowID: acme, Row: map[string]any{"Stage": "Won"}}); err != nil {
		t.Fatal(err)
	}
	st := e.waitStatus(60*time.Second, "the loop guard stopping rule bump", func(s statusDoc) bool {
		for _, tr := range s.Traces {
			for _, r := range tr.Rules {
				if r.Rule == "bump" && strings.Contains(r.Stopped, "loop guard") {
					return true
				}
			}
		}
		return false
	})
	e.waitWebhooks()

	ups := e.calls(http.MethodPut, "/rows/")
	if len(ups) == 0 || len(ups) > runner.DefaultMaxDepth {
		t.Errorf("%d update calls, want 1..%d (the loop-guard depth)", len(ups), runner.DefaultMaxDepth)
	}
	bumps, _ := rowByName(e.rows("Deals"), "Acme")["Bumps"].(float64)
	if int(bumps) != len(ups) {
		t.Errorf("Acme Bumps = %v after %d update calls; each call adds 1", bumps, len(ups))
	}
	if g := rowByName(e.rows("Deals"), "Globex"); g["Bumps"] != nil {
		t.Errorf("Globex Bumps = %v, want untouched", g["Bumps"])
	}
	if err := e.healthy(); err != nil {
		t.Errorf("daemon unhealthy after the loop: %v", err)
	}
	if !d.Running() {
		t.Errorf("daemon exited: %v", d.Err())
	}
	t.Logf("loop stopped after %d update calls (limit %d); %d traces", len(ups), runner.DefaultMaxDepth, len(st.Traces))
}

// TestCronForEachBatchUpdate: an `@every 2s` cron rule selects rows with
// for_each and updates each; the selected rows land in one batch update.
// The rule runs in the normal lane: the bulk lane (the cron default)
// lingers up to 5 s for a batch to fill, longer than the tick, so the next
// tick would select the same rows again before the first update lands.
func TestCronForEachBatchUpdate(t *testing.T) {
	t.Parallel()
	const open = 40
	var fx strings.Builder
	fx.WriteString(`
bases:
  - name: crm
    tables:
      - name: Tasks
        columns:
          - { name: Title, type: text }
          - { name: Status, type: single-select, options: [Open, Done, Overdue] }
        rows:
`)
	for i := range open {
		fmt.Fprintf(&fx, "          - { Title: task-%d, Status: Open }\n", i)
	}
	fx.WriteString("          - { Title: done-1, Status: Done }\n          - { Title: done-2, Status: Done }\n")
	e := setup(t, fx.String(), configHead+`
rules:
  - name: overdue
    on: { cron: "@every 2s" }
    priority: normal
    for_each: { base: crm, sql: "SELECT _id FROM Tasks WHERE Status = 'Open'" }
    do:
      - update: { base: crm, table: Tasks, row: "=item._id", values: { Status: Overdue } }
`, nil)
	d := e.start()
	countOverdue := func() (overdue, done int) {
		for _, r := range e.rows("Tasks") {
			switch r["Status"] {
			case "Overdue":
				overdue++
			case "Done":
				done++
			}
		}
		return
	}
	e.waitFor(60*time.Second, "every open task overdue", func() bool { o, _ := countOverdue(); return o == open })
	e.stop(d)

	if o, done := countOverdue(); o != open || done != 2 {
		t.Errorf("%d overdue, %d done; want %d and 2", o, done, open)
	}
	sqls := e.calls(http.MethodPost, "/sql")
	ups := e.calls(http.MethodPut, "/rows/")
	if len(ups) != 1 || ups[0].Rows != open {
		t.Errorf("update calls with %v rows, want one call of %d", rowsOf(ups), open)
	}
	// Each later tick selects nothing: exactly one SQL call returned rows.
	withRows := 0
	for _, c := range sqls {
		if c.Rows > 0 {
			withRows++
			if c.Rows != open {
				t.Errorf("SQL call returned %d rows, want %d", c.Rows, open)
			}
		}
	}
	if len(sqls) == 0 || withRows != 1 {
		t.Errorf("SQL calls with %v rows, want exactly one with %d", rowsOf(sqls), open)
	}
	// Besides: the metadata the column check fetches before the first
	// update.
	if n := e.stats().Calls - len(sqls) - len(ups); n != 1 || e.stats().ByEndpoint["GET /metadata/"] != 1 {
		t.Errorf("%d other gateway calls: %v, want the metadata alone", n, e.stats().ByEndpoint)
	}
	if t.Failed() {
		logCalls(t, e.emu.Stats().CallLog)
	}
}

// waitSubscribed waits until a client (the daemon, an external process)
// has subscribed to subject on the in-process NATS server.
func waitSubscribed(t *testing.T, ns *proctest.Node, subject string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := ns.WaitInterest(ctx, subject); err != nil {
		t.Fatalf("within %s: %v", within, err)
	}
}

// requestEvent publishes data on subject as a request and returns the
// event id seaflow answers once the event is stored.
func requestEvent(nc *nats.Conn, subject string, data []byte) (string, error) {
	reply, err := nc.Request(subject, data, 10*time.Second)
	if err != nil {
		return "", fmt.Errorf("request on %s: %w", subject, err)
	}
	var ack struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return "", fmt.Errorf("reply %q: %w", reply.Data, err)
	}
	if ack.ID == "" {
		return "", fmt.Errorf("event not stored: %s", ack.Error)
	}
	return ack.ID, nil
}

// TestNATSUpsert: a NATS message upserts a row by key; a second message
// with the same key updates that row instead of adding one.
func TestNATSUpsert(t *testing.T) {
	t.Parallel()
	ns := proctest.StartNATS(t)
	e := setup(t, `
bases:
  - name: crm
    tables:
      - name: Orders
        columns:
          - { name: Order ID, type: text }
          - { name: Amount, type: number }
        rows:
          - { Order ID: A-1, Amount: 1 }
`, configHead+`
nats: { url: "${E2E_NATS_URL}" }
rules:
  - name: orders
    on: { nats: shop.orders.created }
    do:
      - upsert: { base: crm, table: Orders, key: "Order ID", values: { "Order ID": "=msg.id", Amount: "=msg.total" } }
`, map[string]string{"E2E_NATS_URL": ns.URL()})
	e.start()
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitSubscribed(t, ns, "shop.orders.created", 30*time.Second)

	amountOf := func(id string) (amount any, n int) {
		for _, r := range e.rows("Orders") {
			if r["Order ID"] == id {
				amount, n = r["Amount"], n+1
			}
		}
		return
	}
	if _, err := requestEvent(nc, "shop.orders.created", []byte(`{"id":"B-7","total":120.5}`)); err != nil {
		t.Fatal(err)
	}
	e.waitFor(30*time.Second, "order B-7", func() bool { a, _ := amountOf("B-7"); return a == 120.5 })
	if _, err := requestEvent(nc, "shop.orders.created", []byte(`{"id":"B-7","total":99}`)); err != nil {
		t.Fatal(err)
	}
	e.waitFor(30*time.Second, "order B-7 updated", func() bool { a, _ := amountOf("B-7"); return a == 99.0 })

	if _, n := amountOf("B-7"); n != 1 {
		t.Errorf("%d rows with Order ID B-7, want 1", n)
	}
	if a, n := amountOf("A-1"); n != 1 || a != 1.0 {
		t.Errorf("A-1: %d rows, amount %v; want untouched", n, a)
	}
	if n := len(e.rows("Orders")); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
	// First message: key lookup + append; second: key lookup + update.
	sqls, adds, ups := e.calls(http.MethodPost, "/sql"), e.calls(http.MethodPost, "/rows/"), e.calls(http.MethodPut, "/rows/")
	if len(sqls) != 2 || len(adds) != 1 || len(ups) != 1 {
		t.Errorf("calls: %d SQL lookups, %d appends, %d updates; want 2, 1, 1 (%v)", len(sqls), len(adds), len(ups), e.stats().ByEndpoint)
	}
}

// TestThousandWebhooksFewAppends: 1,000 generic webhook events, each
// appending a row, land as 1,000 rows in two batch calls. The first append
// is held by the emulator until every event is queued, so the test checks
// what the design guarantees (ops queued while a call is in flight go out
// together in the next call of up to 1,000 rows), not how fast this machine
// runs the daemon.
func TestThousandWebhooksFewAppends(t *testing.T) {
	t.Parallel()
	const events = 1000
	e := setup(t, `
bases:
  - name: crm
    tables:
      - name: Leads
        columns:
          - { name: Name, type: text }
          - { name: Seq, type: number }
`, configHead+`
webhooks:
  - { name: leads, path: /hooks/leads, token: "${E2E_HOOK_TOKEN}" }
rules:
  - name: lead
    on: { webhook: leads }
    do:
      - append: { base: crm, table: Leads, values: { Name: "=body.name", Seq: "=body.seq" } }
`, nil)
	held, open := e.holdCalls(http.MethodPost, "/rows/")
	e.start()
	codes := postMany(t, e, events, 16, func(i int) (string, []byte) {
		return "/hooks/leads", fmt.Appendf(nil, `{"name":"lead-%04d","seq":%d}`, i, i)
	})
	for code, n := range codes {
		if code != http.StatusAccepted {
			t.Fatalf("%d webhooks answered %d, want all 202: %v", n, code, codes)
		}
	}
	<-held // the first append is in flight, with whatever was queued then
	e.waitStatus(60*time.Second, "all 1,000 ops queued", func(st statusDoc) bool {
		n := 0
		for _, b := range st.Bases {
			for _, l := range b.Lanes {
				n += l.Pending
			}
		}
		return n == events
	})
	open()
	e.waitFor(60*time.Second, "1,000 leads", func() bool { return len(e.rows("Leads")) >= events })

	seen := map[string]int{}
	for _, r := range e.rows("Leads") {
		seen[r["Name"].(string)]++
	}
	for i := range events {
		if n := seen[fmt.Sprintf("lead-%04d", i)]; n != 1 {
			t.Errorf("lead-%04d appears %d times, want 1", i, n)
		}
	}
	adds := e.calls(http.MethodPost, "/rows/")
	total := 0
	for _, c := range adds {
		total += c.Rows
	}
	if len(adds) > 2 || total != events {
		t.Errorf("%d append calls carrying %v rows (total %d); want the held call and one for the backlog, %d rows", len(adds), rowsOf(adds), total, events)
	}
	t.Logf("1,000 appends in %d calls: %v", len(adds), rowsOf(adds))
}

// postMany posts n generic-webhook bodies (with the bearer token) from
// workers goroutines; it returns how many got each status code (0 = a
// transport error).
func postMany(t *testing.T, e *env, n, workers int, body func(i int) (string, []byte)) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				path, b := body(i)
				code, err := e.postJSON(path, hookToken, b, nil)
				if err != nil {
					code = 0
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return codes
}

// logCalls logs a call log, one call a line.
func logCalls(t *testing.T, log []emulator.CallRecord) {
	t.Helper()
	for _, c := range log {
		t.Logf("call %s %s %s rows=%d status=%d", c.Time.Format("15:04:05.000"), c.Method, c.Endpoint, c.Rows, c.Status)
	}
}
