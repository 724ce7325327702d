package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

const floodConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "flood-test-secret" } }
  - { name: form, path: /hooks/form, token: "form-token" }
  - { name: burst, path: /hooks/burst, token: "burst-token", rate_limit: { events: 5, per: 1h } }
rules:
  - name: stamp
    on: { webhook: crm-changes }
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Note: "seatable" } }
  - name: note
    on: { webhook: form }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
  - name: burst-note
    on: { webhook: burst }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
`

// send posts body to path with the given headers and returns the status,
// the Retry-After header and the body.
func send(t *testing.T, url string, hdr map[string]string, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// storedEvents counts the events in the daemon's EVENTS stream.
func storedEvents(t *testing.T, d *daemon) int {
	t.Helper()
	n := 0
	if err := d.q.ReplayEvents(context.Background(), time.Time{}, func(seaflow.Event) error { n++; return nil }); err != nil {
		t.Fatalf("replay events: %v", err)
	}
	return n
}

// TestFloodUnauthenticatedCostsNothing: a flood without valid credentials
// is refused at intake (401), stores nothing and spends no SeaTable call.
func TestFloodUnauthenticatedCostsNothing(t *testing.T) {
	d, b := startTestDaemon(t, floodConfig)
	id := b.firstRowID(t)
	body := `{"row": "` + id + `", "note": "flood"}`
	seaTableBody := `{"event": "update", "data": {"dtable_uuid": "x", "row_id": "` + id + `", "op_type": "modify_row", "op_time": 1, "table_name": "Deals"}}`
	const each = 300
	for i := range each {
		for _, r := range []struct {
			path string
			hdr  map[string]string
			body string
		}{
			{"/hooks/form", nil, body},
			{"/hooks/form", map[string]string{"Authorization": "Bearer wrong-" + strconv.Itoa(i)}, body},
			{"/hooks/burst", map[string]string{"Authorization": "Bearer wrong"}, body},
			{"/hooks/crm", map[string]string{"X-SeaTable-Signature": fmt.Sprintf("sha256=%064x", i)}, seaTableBody},
			{"/hooks/crm", nil, seaTableBody},
		} {
			if code, _, _ := send(t, b.url+r.path, r.hdr, r.body); code != http.StatusUnauthorized {
				t.Fatalf("request %d to %s: HTTP %d, want 401", i, r.path, code)
			}
		}
	}
	if n := storedEvents(t, d); n != 0 {
		t.Errorf("%d events stored, want 0", n)
	}
	st := b.emu.Stats().Bases["crm"]
	if st.Calls != 0 || st.TokenExchanges != 0 {
		t.Errorf("the flood cost %d SeaTable calls and %d token exchanges, want 0", st.Calls, st.TokenExchanges)
	}
	// The rate-limited hook still has its whole quota: the flood spent none.
	for i := range 5 {
		if code, _, out := send(t, b.url+"/hooks/burst", map[string]string{"Authorization": "Bearer burst-token"}, `{"row": "`+id+`", "note": "ok`+strconv.Itoa(i)+`"}`); code != http.StatusAccepted {
			t.Fatalf("authenticated request %d after the flood: HTTP %d %s", i, code, out)
		}
	}
	t.Logf("%d unauthenticated requests: 0 events stored, %d SeaTable calls", 5*each, st.Calls)
}

// TestFloodRateLimitedHook: an authenticated flood on a generic hook with
// rate_limit gets 429 with Retry-After past the limit; only the admitted
// events are stored and cost calls.
func TestFloodRateLimitedHook(t *testing.T) {
	d, b := startTestDaemon(t, floodConfig)
	id := b.firstRowID(t)
	accepted, limited := 0, 0
	const flood = 200
	for i := range flood {
		code, retry, out := send(t, b.url+"/hooks/burst", map[string]string{"Authorization": "Bearer burst-token"},
			`{"row": "`+id+`", "note": "n`+strconv.Itoa(i)+`"}`)
		switch code {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			limited++
			secs, err := strconv.Atoi(retry)
			if err != nil || secs < 1 || secs > 3600 {
				t.Fatalf("429 with Retry-After %q, want 1..3600 seconds", retry)
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(out), &m); err != nil || !strings.Contains(m["error"], "rate limit") {
				t.Fatalf("429 body %q, want a JSON reason", out)
			}
		default:
			t.Fatalf("request %d: HTTP %d %s", i, code, out)
		}
	}
	if accepted != 5 || limited != flood-5 {
		t.Fatalf("%d accepted, %d limited; want 5 and %d", accepted, limited, flood-5)
	}
	b.waitForCell(t, "Deals", "Note", "n4")
	if n := storedEvents(t, d); n != 5 {
		t.Errorf("%d events stored, want 5", n)
	}
	// Other hooks are not limited by it.
	if code, _, _ := send(t, b.url+"/hooks/form", map[string]string{"Authorization": "Bearer form-token"}, `{"row": "`+id+`", "note": "form"}`); code != http.StatusAccepted {
		t.Fatalf("form hook: HTTP %d", code)
	}
	b.waitForCell(t, "Deals", "Note", "form")
	st := b.emu.Stats().Bases["crm"]
	if st.Calls > 6 {
		t.Errorf("%d SeaTable calls for 6 events, want at most 6", st.Calls)
	}
	t.Logf("flood of %d authenticated requests: %d accepted, %d answered 429; %d SeaTable calls in all", flood, accepted, limited, st.Calls)
}

const shareConfig = `
bases:
  crm: { url: "%s", api_token: "%s", limits: [ {window: 1h, calls: 100} ] }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
rules:
  - name: flood
    on: { webhook: form }
    budget_share: 0.1
    do:
      - sql: { base: crm, sql: "UPDATE Deals SET Note = ? WHERE Name = ?", params: ["=body.note", "Acme"] }
  - name: calm
    on: { webhook: form }
    budget_share: 1
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
`

// TestFloodRuleShareOnTheRealQueue runs the dispatcher with per-rule
// budgets from the config (rules.Config.RuleLimits) on the real JetStream
// work queue and the emulator: a rule with budget_share 0.1 of 100 calls
// an hour floods 20,000 sql ops (one call each) with another rule's ops
// behind its first 2,000; the flood spends 10 calls, the other rule's ops
// land, and every op not sent is still queued when the dispatcher stops.
func TestFloodRuleShareOnTheRealQueue(t *testing.T) {
	d, b := startTestDaemon(t, daemonConfig) // for the emulator and its base
	emuURL := d.config().Bases["crm"].URL
	dir := t.TempDir()
	cfgText := fmt.Sprintf(shareConfig, emuURL, b.base.APIToken)
	cfg, err := rules.Parse(filepath.Join(dir, "share.yaml"), []byte(cfgText), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(context.Background(), queue.Options{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	id := b.firstRowID(t)

	const floodOps, calmOps = 20000, 5
	now := time.Now()
	var ops []seaflow.Op
	flood := func(i int) seaflow.Op {
		return seaflow.Op{ID: fmt.Sprintf("flood-%d", i), Kind: seaflow.KindSQL, Base: "crm", Lane: seaflow.Urgent, Rule: "flood",
			Statement: "UPDATE Deals SET Stage = ? WHERE Name = ?", Params: []any{"Lead", "Acme"}, CreatedAt: now}
	}
	for i := range 2000 {
		ops = append(ops, flood(i))
	}
	for i := range calmOps {
		ops = append(ops, seaflow.Op{ID: fmt.Sprintf("calm-%d", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Deals", Lane: seaflow.Urgent,
			Rule: "calm", RowID: id, Values: map[string]any{"Note": fmt.Sprintf("calm-%d", i)}, CreatedAt: now})
	}
	for i := 2000; i < floodOps; i++ {
		ops = append(ops, flood(i))
	}
	if err := q.PublishOps(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
	client := seatable.New(seatable.Config{ServerURL: emuURL, APIToken: b.base.APIToken})
	keeper := budget.NewKeeper(q.BudgetStore(), func(base string) budget.Limits { return cfg.BaseBudget(base) }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	disp := actions.NewDispatcher(actions.DispatcherConfig{
		Bases: map[string]actions.Rows{"crm": client}, Source: q, Dead: q, Budget: keeper,
		RuleShare: cfg.RuleLimits, RuleStore: q.BudgetStore(),
	})
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dispatcher: %v", err)
			}
		}
	}
	t.Cleanup(stop)

	sqlCalls := func() int { return b.emu.Stats().Bases["crm"].ByEndpoint["POST /sql"] }
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	err = b.emu.WaitFor(wctx, func() bool {
		rows, _ := b.emu.Rows(b.base.UUID, "Deals")
		return sqlCalls() >= 10 && len(rows) > 0 && rows[0]["Note"] == fmt.Sprintf("calm-%d", calmOps-1)
	})
	if err != nil {
		t.Fatalf("flood made %d sql calls, calm ops not landed: %v; calls %v", sqlCalls(), err, b.emu.Stats().Bases["crm"].ByEndpoint)
	}
	stop()
	if got := sqlCalls(); got != 10 {
		t.Errorf("the flood made %d sql calls, want its cap: ceil(0.1 × 100) = 10", got)
	}
	pending, err := q.Pending(context.Background(), "crm", seaflow.Urgent)
	if err != nil {
		t.Fatal(err)
	}
	if pending != floodOps-10 {
		t.Errorf("%d ops still queued after stop, want %d (nothing dropped)", pending, floodOps-10)
	}
	if dead, _ := q.ListDead(context.Background()); len(dead) != 0 {
		t.Errorf("dead letters: %+v", dead)
	}
	t.Logf("flood rule: %d sql calls (cap 10 of 100/h); calm rule: %d ops landed; %d flood ops still queued", sqlCalls(), calmOps, pending)
}
