package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow/clocktest"
	"github.com/seaflow/seaflow/internal/proctest"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// The reactions of issue 12, run the way users run seaflow: the real
// binary, the emulator's SeaTable webhooks, people editing rows seconds
// after seaflow wrote them, late echoes, restarts and two replicas.

// edit changes cells of a row as a person in SeaTable's UI does.
func (e *env) edit(table, row string, cells map[string]any) {
	e.t.Helper()
	if _, err := e.emu.Edit(emulator.EditRequest{BaseUUID: e.base.UUID, TableName: table, Op: "update", RowID: row, Row: cells}); err != nil {
		e.t.Fatal(err)
	}
}

// updatedRows sums the rows of the update calls seaflow made.
func (e *env) updatedRows() int {
	n := 0
	for _, c := range e.calls(http.MethodPut, "/rows/") {
		n += c.Rows
	}
	return n
}

// handledEvents counts the webhook events in the daemon's traces.
func (e *env) handledEvents() int {
	st, err := e.status()
	if err != nil {
		return -1
	}
	n := 0
	for _, tr := range st.Traces {
		if tr.Source == "webhook" {
			n++
		}
	}
	return n
}

// TestUserEditRightAfterSeaflowWrite: a form appends a deal, a person sets
// it to Won a moment later, and un-wins it a moment after seaflow stamped
// and locked it: every edit is the person's and fires its rule (before,
// 20 of 20 such edits within two minutes of seaflow's write fired nothing,
// and the deals stayed locked).
func TestUserEditRightAfterSeaflowWrite(t *testing.T) {
	t.Parallel()
	e := setup(t, "webhook_events: per-row\n"+dealsFixture, configHead+`
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${E2E_SECRET}" } }
  - { name: leads, path: /hooks/leads, token: "${E2E_HOOK_TOKEN}" }
rules:
  - name: web-lead
    on: { webhook: leads }
    do:
      - append: { base: crm, table: Deals, values: { Name: "=body.name", Stage: Lead } }
  - name: stamp-won
    on: { webhook: crm-changes }
    when: event.op_type == "modify_row" && event.table == "Deals" && row.Stage == "Won" && old.Stage != "Won"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { "Won At": "=now()" } }
      - lock: { base: crm, table: Deals, row: "=event.row_id" }
  - name: reopen
    on: { webhook: crm-changes }
    when: event.op_type == "modify_row" && event.table == "Deals" && old.Stage == "Won" && row.Stage != "Won"
    do:
      - unlock: { base: crm, table: Deals, row: "=event.row_id" }
`, nil)
	e.start()
	const deals = 5
	for i := range deals {
		name := fmt.Sprintf("Lead %d", i)
		if code, err := e.postJSON("/hooks/leads", hookToken, fmt.Appendf(nil, `{"name":%q}`, name), nil); err != nil || code != http.StatusAccepted {
			t.Fatalf("form post: %d %v", code, err)
		}
		e.waitFor(30*time.Second, name+" appended", func() bool { return rowByName(e.rows("Deals"), name) != nil })
		id := rowByName(e.rows("Deals"), name)["_id"].(string)
		e.edit("Deals", id, map[string]any{"Stage": "Won"})
		e.waitFor(30*time.Second, name+" stamped and locked", func() bool {
			r := rowByName(e.rows("Deals"), name)
			return r["Won At"] != nil && r["_locked"] == true
		})
		e.edit("Deals", id, map[string]any{"Stage": "Lead"})
		e.waitFor(30*time.Second, name+" unlocked", func() bool { return rowByName(e.rows("Deals"), name)["_locked"] != true })
	}
}

// delayedSetup is setup with the emulator on a fake clock and every
// webhook delivery delayed by delay on it: a lagging SeaTable queue.
func delayedSetup(t *testing.T, delay time.Duration, fixture, config string, extra map[string]string) (*env, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	e := setupWith(t, fixture, config, extra, func(o *emulator.Options) {
		o.Now, o.After, o.WebhookDelay = clock.Now, clock.After, delay
	})
	return e, clock
}

// release lets the deliveries waiting on the emulator's clock go, once at
// least want of them wait, and waits until they are delivered.
func (e *env) release(clock *clocktest.Clock, delay time.Duration, want int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := clock.WaitSleepers(ctx, want); err != nil {
		e.t.Fatalf("waiting for %d delayed deliveries: %v", want, err)
	}
	clock.Advance(delay)
	e.waitWebhooks()
}

// bumpRule touches the row it reacts to: without the loop guard, its own
// write would fire it again, forever.
const bumpRule = `
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${E2E_SECRET}" } }
rules:
  - name: bump
    on: { webhook: crm-changes }
    when: event.op_type == "modify_row" && event.table == "Deals"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Bumps: "=(row.Bumps ?? 0) + 1" } }
`

// TestDelayedEchoesNeverLoop: with every webhook ten minutes late, each
// person's edit causes exactly one write, and its echo fires nothing
// (before, with webhooks 130 s late, 5 edits turned into 110 writes and
// counting).
func TestDelayedEchoesNeverLoop(t *testing.T) {
	t.Parallel()
	const delay = 10 * time.Minute
	e, clock := delayedSetup(t, delay, "webhook_events: per-row\n"+dealsFixture, configHead+bumpRule, nil)
	e.start()
	acme := rowByName(e.rows("Deals"), "Acme")["_id"].(string)
	const edits = 3
	for i := range edits {
		e.edit("Deals", acme, map[string]any{"Bumps": 10 * (i + 1)})
		e.release(clock, delay, 1) // the person's edit reaches seaflow
		e.waitFor(30*time.Second, "seaflow's write", func() bool { return e.updatedRows() == i+1 })
		e.release(clock, delay, 1) // its echo, ten minutes later
		e.waitStatus(30*time.Second, "the echo handled", func(statusDoc) bool { return e.handledEvents() == 2*(i+1) })
	}
	if n := e.updatedRows(); n != edits {
		t.Fatalf("%d writes for %d edits, want one each", n, edits)
	}
	if clock.Sleepers() != 0 {
		t.Fatalf("%d more deliveries queued after the echoes: a loop", clock.Sleepers())
	}
	if b, _ := rowByName(e.rows("Deals"), "Acme")["Bumps"].(float64); int(b) != 10*edits+1 {
		t.Fatalf("Acme Bumps = %v, want %d (the last edit's value, plus one)", b, 10*edits+1)
	}
}

// TestBreakerStopsALoopWithTheGuardOff: with the echo matching switched
// off, a self-touching rule is stopped by the breaker at its cap of writes
// per row and hour.
func TestBreakerStopsALoopWithTheGuardOff(t *testing.T) {
	t.Parallel()
	e := setup(t, "webhook_events: per-row\n"+dealsFixture, configHead+`
loop_guard: { echoes: false, max_writes_per_row_hour: 4 }
`+bumpRule, nil)
	e.expectWarn = []string{"loop breaker stopped rule for a row"}
	e.start()
	acme := rowByName(e.rows("Deals"), "Acme")["_id"].(string)
	e.edit("Deals", acme, map[string]any{"Stage": "Won"})
	e.waitStatus(60*time.Second, "the breaker stopping rule bump", func(s statusDoc) bool {
		for _, tr := range s.Traces {
			for _, r := range tr.Rules {
				if strings.Contains(r.Stopped, "loop breaker") {
					return true
				}
			}
		}
		return false
	})
	e.waitWebhooks()
	if n := e.updatedRows(); n != 4 {
		t.Fatalf("%d writes, want the breaker's cap of 4", n)
	}
}

// TestRestartBetweenWriteAndEcho: the daemon stops after its write and
// before the write's echo comes; the restarted daemon still knows the echo
// (the pending echoes live in the spine) and fires nothing.
func TestRestartBetweenWriteAndEcho(t *testing.T) {
	t.Parallel()
	const delay = 5 * time.Minute
	e, clock := delayedSetup(t, delay, "webhook_events: per-row\n"+dealsFixture, configHead+bumpRule, nil)
	d := e.start()
	acme := rowByName(e.rows("Deals"), "Acme")["_id"].(string)
	e.edit("Deals", acme, map[string]any{"Stage": "Won"})
	e.release(clock, delay, 1)
	e.waitFor(30*time.Second, "seaflow's write", func() bool { return e.updatedRows() == 1 })
	e.stop(d)
	e.start()
	e.release(clock, delay, 1) // the echo reaches the new process
	e.waitStatus(30*time.Second, "the echo handled", func(statusDoc) bool { return e.handledEvents() >= 1 })
	e.waitWebhooks()
	if n := e.updatedRows(); n != 1 || clock.Sleepers() != 0 {
		t.Fatalf("%d writes (%d deliveries queued) after a restart between write and echo, want 1 (0)", n, clock.Sleepers())
	}
}

// TestTwoReplicasOneWritePerEdit: two replicas on one NATS take
// SeaTable's webhooks in turn; each person's edit causes exactly one
// write, whichever replica wrote and whichever gets the echo (before: 40
// edits gave 60 writes).
func TestTwoReplicasOneWritePerEdit(t *testing.T) {
	t.Parallel()
	const rows = 20
	var fixture strings.Builder
	fixture.WriteString(`webhook_events: per-row
bases:
  - name: crm
    webhooks:
      - { url: "http://$LISTEN/hooks/crm", secret: "$SECRET" }
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Bumps, type: number }
        rows:
`)
	for i := range rows {
		fmt.Fprintf(&fixture, "          - { Name: D%02d, Stage: Lead }\n", i)
	}
	nats := proctest.StartJetStream(t)
	e := setup(t, fixture.String(), `
server: { listen: "${E2E_LISTEN}", auth: none }
storage: { nats_url: "${E2E_NATS}" }
bases:
  crm: { url: "${E2E_EMU_URL}", api_token: "${E2E_TOKEN}" }
`+bumpRule, map[string]string{"E2E_NATS": nats.URL()})
	// A load balancer on the webhook address sends the deliveries to the
	// replicas in turn.
	a, b := proctest.FreeAddr(t), proctest.FreeAddr(t)
	e.startAt(a, t.TempDir())
	e.startAt(b, t.TempDir())
	var turn atomic.Int32
	proxies := []*httputil.ReverseProxy{
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: a}),
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: b}),
	}
	lb := &http.Server{Addr: e.addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[turn.Add(1)%2].ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	go lb.Serve(ln)
	t.Cleanup(func() { lb.Close() })

	for _, r := range e.rows("Deals") {
		e.edit("Deals", r["_id"].(string), map[string]any{"Stage": "Won"})
	}
	e.waitFor(60*time.Second, "a write per edit", func() bool { return e.updatedRows() >= rows })
	e.waitWebhooks() // the echoes
	e.waitWebhooks() // anything they caused
	for _, r := range e.rows("Deals") {
		if b, _ := r["Bumps"].(float64); b != 1 {
			t.Errorf("%s Bumps = %v, want 1", r["Name"], r["Bumps"])
		}
	}
	if n := e.updatedRows(); n != rows {
		t.Fatalf("%d writes for %d edits over two replicas, want one each", n, rows)
	}
}

// TestWrongBaseWebhookRefused: another base's webhook pointed at this
// URL, signed with the same secret, is refused and changes nothing (before,
// it wrote a kick-off task into the wrong base).
func TestWrongBaseWebhookRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, dealsFixture+`
  - name: other
    webhooks:
      - { url: "http://$LISTEN/hooks/crm", secret: "$SECRET" }
    tables:
      - name: Deals
        columns: [ { name: Name, type: text }, { name: Stage, type: single-select, options: [Lead, Won] }, { name: Bumps, type: number } ]
        rows: [ { Name: Initech, Stage: Lead } ]
`, configHead+bumpRule, nil)
	e.start()
	// seaflow learns crm's uuid when the first body comes (a token
	// exchange), and the body of the other base is told apart.
	var other emulator.BaseInfo
	for _, b := range e.emu.Bases() {
		if b.Name == "other" {
			other = b
		}
	}
	rows, _ := e.emu.Rows(other.UUID, "Deals")
	if _, err := e.emu.Edit(emulator.EditRequest{BaseUUID: other.UUID, TableName: "Deals", Op: "update", RowID: rows[0]["_id"].(string), Row: map[string]any{"Stage": "Won"}}); err != nil {
		t.Fatal(err)
	}
	e.waitWebhooks()
	hooks := e.emu.Stats().Bases["other"].Webhooks
	if len(hooks) != 1 || hooks[0].Failed != 1 {
		t.Fatalf("other base's delivery: %+v, want one refused", hooks)
	}
	if n := e.handledEvents(); n != 0 || e.updatedRows() != 0 {
		t.Fatalf("%d events handled, %d rows written; want nothing", n, e.updatedRows())
	}
}

// TestLargeLongTextEditsAccepted: an edit of a 350 kB long-text cell is
// accepted ten times and the webhook stays enabled (before: 503 every
// time, and after five SeaTable disabled the webhook for good).
func TestLargeLongTextEditsAccepted(t *testing.T) {
	t.Parallel()
	e := setup(t, `bases:
  - name: crm
    webhooks:
      - { url: "http://$LISTEN/hooks/crm", secret: "$SECRET" }
    tables:
      - name: Notes
        columns: [ { name: Name, type: text }, { name: Text, type: long-text } ]
        rows: [ { Name: n1 } ]
`, configHead+`
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${E2E_SECRET}" } }
rules:
  - name: size
    on: { webhook: crm-changes }
    when: event.table == "Notes" && len(row.Text ?? "") > 300000
    do:
      - update: { base: crm, table: Notes, row: "=event.row_id", values: { Name: big } }
`, nil)
	e.start()
	id := e.rows("Notes")[0]["_id"].(string)
	for i := range 10 {
		e.edit("Notes", id, map[string]any{"Text": fmt.Sprintf("%d%s", i, strings.Repeat("x", 350_000))})
		e.waitWebhooks()
	}
	hooks := e.stats().Webhooks
	if len(hooks) != 1 || hooks[0].Failed != 0 || hooks[0].Disabled || hooks[0].Sent < 10 {
		t.Fatalf("deliveries %+v, want 10 accepted and the hook enabled", hooks)
	}
	e.waitStatus(30*time.Second, "ten edits handled", func(statusDoc) bool { return e.handledEvents() >= 10 })
}

// TestReplayedRequestsStoredOnce: a signed request sent four times, and an
// Idempotency-Key sent again after a restart, are each one event, answered
// 200 with the original id (before: one HMAC signature gave 4 rows, a key
// re-sent 47 minutes later made a second row).
func TestReplayedRequestsStoredOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, dealsFixture, configHead+`
webhooks:
  - { name: hub, path: /hooks/hub, hmac: { header: X-Hub-Signature-256, secret: "hub-secret-value" } }
  - { name: leads, path: /hooks/leads, token: "${E2E_HOOK_TOKEN}" }
rules:
  - { name: hub, on: { webhook: hub }, do: [ { append: { base: crm, table: Deals, values: { Name: "=body.name" } } } ] }
  - { name: lead, on: { webhook: leads }, do: [ { append: { base: crm, table: Deals, values: { Name: "=body.name" } } } ] }
`, nil)
	d := e.start()
	body := []byte(`{"name":"signed"}`)
	sig := http.Header{"X-Hub-Signature-256": {"sha256=" + hexHMAC("hub-secret-value", body)}}
	for i, want := range []int{202, 200, 200, 200} {
		if code, err := e.postJSON("/hooks/hub", "", body, sig); err != nil || code != want {
			t.Fatalf("signed request %d: %d %v, want %d", i, code, err, want)
		}
	}
	key := http.Header{"Idempotency-Key": {"order-42"}}
	if code, _ := e.postJSON("/hooks/leads", hookToken, []byte(`{"name":"keyed"}`), key); code != 202 {
		t.Fatalf("keyed request: %d", code)
	}
	e.waitFor(30*time.Second, "both rows", func() bool {
		return rowByName(e.rows("Deals"), "signed") != nil && rowByName(e.rows("Deals"), "keyed") != nil
	})
	e.stop(d)
	e.start()
	if code, _ := e.postJSON("/hooks/leads", hookToken, []byte(`{"name":"keyed"}`), key); code != 200 {
		t.Fatalf("the key again after a restart: %d, want 200", code)
	}
	n := map[string]int{}
	for _, r := range e.rows("Deals") {
		n[fmt.Sprint(r["Name"])]++
	}
	if n["signed"] != 1 || n["keyed"] != 1 {
		t.Fatalf("rows %v, want one signed and one keyed", n)
	}
}

func hexHMAC(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
