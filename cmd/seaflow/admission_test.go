package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/seatable/emulator"
	"github.com/seaflow/seaflow/triggers"
)

// tasksFixture is a base crm with a Deals row and n open Tasks, and, when
// shop is set, a second base shop with the API token shopToken.
func tasksFixture(n int, shop bool) *emulator.Fixture {
	tasks := make([]map[string]any, n)
	for i := range tasks {
		tasks[i] = map[string]any{"Name": fmt.Sprintf("task %05d", i), "Status": "Open"}
	}
	fx := &emulator.Fixture{Bases: []emulator.FixtureBase{{
		Name: "crm",
		Tables: []emulator.FixtureTable{
			{Name: "Deals", Columns: []emulator.FixtureColumn{{Name: "Name", Type: "text"}, {Name: "Note", Type: "text"}},
				Rows: []map[string]any{{"Name": "Acme"}}},
			{Name: "Tasks", Columns: []emulator.FixtureColumn{{Name: "Name", Type: "text"}, {Name: "Status", Type: "text"}}, Rows: tasks},
		},
	}}}
	if shop {
		fx.Bases = append(fx.Bases, emulator.FixtureBase{Name: "shop", APIToken: shopToken,
			Tables: []emulator.FixtureTable{{Name: "Orders", Columns: []emulator.FixtureColumn{{Name: "Name", Type: "text"}, {Name: "Note", Type: "text"}},
				Rows: []map[string]any{{"Name": "order 1"}}}}})
	}
	return fx
}

const shopToken = "5ab0c0ffee5ab0c0ffee5ab0c0ffee5ab0c0ffee"

const admissionConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
rules:
  - name: note
    on: { webhook: form }
    priority: urgent
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
  - name: close-tasks
    on: { cron: "0 3 * * *" }
    priority: normal
    for_each: { base: crm, sql: "SELECT _id FROM Tasks WHERE Status = 'Open'" }
    do:
      - update: { base: crm, table: Tasks, row: "=item._id", values: { Status: Done } }
`

// TestEveryCallIsAdmitted compares, call by call, what the emulator saw
// with what the budget recorded: every SQL page of a for_each, every
// write, every retry after an expired token and every token exchange is
// admitted before it is sent. Seen before: a for_each over 25,000 rows
// sent 3 SQL pages and charged 1; 401/403 retries and exchanges were not
// charged at all.
func TestEveryCallIsAdmitted(t *testing.T) {
	const tasks = 12_500 // two pages
	d, b := startTestDaemonOn(t, tasksFixture(tasks, false), admissionConfig, daemonOptions{})
	start := time.Now()
	ctx := context.Background()
	if _, err := d.q.StoreEvent(ctx, triggers.CronEvent("close-tasks", start.Truncate(time.Minute))); err != nil {
		t.Fatal(err)
	}
	waitAllTasks(t, b, "Done", tasks)
	row := b.firstRowID(t)
	for i := range 3 {
		if i == 1 {
			b.emu.ExpireTokens() // the next call gets 403 and retries with a fresh token
		}
		note := fmt.Sprintf("note %d", i)
		if code := b.post(t, "/hooks/form", "form-token", fmt.Sprintf(`{"row":%q,"note":%q}`, row, note)); code != http.StatusAccepted {
			t.Fatalf("HTTP %d", code)
		}
		b.waitForCell(t, "Deals", "Note", note)
	}
	waitQueueEmpty(t, d, "crm")

	var gateway, exchanges []time.Time
	var kinds []string
	for _, c := range b.emu.Stats().CallLog {
		switch {
		case c.Base != "crm":
		case c.Gateway:
			gateway = append(gateway, c.Time)
			kinds = append(kinds, c.Method+" "+c.Endpoint)
		default:
			exchanges = append(exchanges, c.Time)
		}
	}
	calls, err := d.keeper.CallsSince(ctx, "crm", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	exch, err := d.keeper.CallsSince(ctx, actions.ExchangeKey("crm"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	sqlCalls := 0
	for _, k := range kinds {
		if k == "POST /sql" {
			sqlCalls++
		}
	}
	t.Logf("emulator saw %d gateway calls (%d SQL) and %d exchanges; the budget recorded %d and %d", len(gateway), sqlCalls, len(exchanges), len(calls), len(exch))
	if sqlCalls < 2 || len(exchanges) < 2 {
		t.Fatalf("the run did not make the calls it is about: %d SQL pages, %d exchanges; calls %v", sqlCalls, len(exchanges), kinds)
	}
	admittedFirst(t, "gateway call", calls, gateway)
	admittedFirst(t, "token exchange", exch, exchanges)
}

// admittedFirst checks that the budget recorded exactly the calls the
// emulator saw, each no later than the emulator received it.
func admittedFirst(t *testing.T, what string, admitted, seen []time.Time) {
	t.Helper()
	slices.SortFunc(admitted, time.Time.Compare)
	slices.SortFunc(seen, time.Time.Compare)
	if len(admitted) != len(seen) {
		t.Fatalf("%s: the budget recorded %d, SeaTable saw %d", what, len(admitted), len(seen))
	}
	for i := range seen {
		if admitted[i].After(seen[i]) {
			t.Fatalf("%s %d: seen by SeaTable at %s, admitted only at %s", what, i, seen[i].Format(time.StampMicro), admitted[i].Format(time.StampMicro))
		}
	}
}

// waitAllTasks waits until n Tasks rows have status.
func waitAllTasks(t *testing.T, b *daemonBundle, status string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := 0
	err := b.emu.WaitFor(ctx, func() bool {
		rows, _ := b.emu.Rows(b.base.UUID, "Tasks")
		got = 0
		for _, r := range rows {
			if r["Status"] == status {
				got++
			}
		}
		return got == n
	})
	if err != nil {
		t.Fatalf("%d of %d tasks %s: %v\nlogs:\n%s", got, n, status, err, b.logs.String())
	}
}

const waitingConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm:
    url: "%[1]s"
    api_token: "%[2]s"
    limits: [{ window: 1m, calls: 4 }]
    urgent_reserve: 2
  shop: { url: "%[1]s", api_token: "` + shopToken + `" }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
  - { name: orders, path: /hooks/orders, token: "orders-token" }
rules:
  - name: note
    on: { webhook: form }
    priority: urgent
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
  - name: order-note
    on: { webhook: orders }
    do:
      - update: { base: shop, table: Orders, row: "=body.row", values: { Note: "=body.note" } }
  - name: close-tasks
    on: { cron: "0 3 * * *" }
    priority: bulk
    for_each: { base: crm, sql: "SELECT _id FROM Tasks WHERE Status = 'Open'" }
    do:
      - update: { base: crm, table: Tasks, row: "=item._id", values: { Status: Done } }
`

// TestForEachWaitingForBudgetHoldsNothingUp: a for_each over 50,000 rows
// that waits for budget is queued work in its own lane. Seen before: one
// event consumer served every base, and a for_each waiting for budget (up
// to 10 minutes) held up every event; urgent webhooks of a base with free
// budget landed 212 to 482 s late. Here the urgent webhook of the same
// base and a webhook of another base land while the for_each has not read
// a row, the urgent one with the only call it needs besides the
// metadata.
func TestForEachWaitingForBudgetHoldsNothingUp(t *testing.T) {
	d, b := startTestDaemonOn(t, tasksFixture(50_000, true), waitingConfig, daemonOptions{})
	ctx := context.Background()
	// Spend what normal and bulk may use of this minute.
	for range 2 {
		if g, err := d.keeper.Reserve(ctx, "crm", seaflow.Normal); err != nil || !g.OK {
			t.Fatalf("spend the budget: %+v %v", g, err)
		}
	}
	if _, err := d.q.StoreEvent(ctx, triggers.CronEvent("close-tasks", time.Now().Truncate(time.Minute))); err != nil {
		t.Fatal(err)
	}
	waitQueued(t, d, "crm", 1) // the for_each's first page waits in the bulk lane
	before := len(b.emu.Stats().CallLog)

	row := b.firstRowID(t)
	if code := b.post(t, "/hooks/form", "form-token", fmt.Sprintf(`{"row":%q,"note":"urgent"}`, row)); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	shopRows, _ := b.emu.Rows(b.emu.Bases()[1].UUID, "Orders")
	if code := b.post(t, "/hooks/orders", "orders-token", fmt.Sprintf(`{"row":%q,"note":"other base"}`, shopRows[0]["_id"])); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	b.waitForCell(t, "Deals", "Note", "urgent")
	waitCell(t, b.emu, b.emu.Bases()[1].UUID, "Orders", "Note", "other base", b.logs)

	var crmCalls []string
	for _, c := range b.emu.Stats().CallLog[before:] {
		if c.Base == "crm" && c.Gateway {
			crmCalls = append(crmCalls, c.Method+" "+c.Endpoint)
		}
		if c.Status == http.StatusTooManyRequests {
			t.Errorf("a 429: %+v", c)
		}
	}
	if want := []string{"GET /metadata/", "PUT /rows/"}; !slices.Equal(crmCalls, want) {
		t.Fatalf("calls on crm while the for_each waited: %v, want %v", crmCalls, want)
	}
	// The urgent op is acked once its call returns; the for_each's
	// query op still waits for the bulk lane's budget.
	waitQueued(t, d, "crm", 1)
}

// waitQueued waits until n ops of base are queued.
func waitQueued(t *testing.T, d *daemon, base string, n int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	guard := time.After(30 * time.Second)
	for d.queuedOps(base) != n {
		select {
		case <-tick.C:
		case <-guard:
			t.Fatalf("%d ops of %s queued, want %d", d.queuedOps(base), base, n)
		}
	}
}
