package actions_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/clocktest"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// These tests run the dispatcher against the real pieces: the SeaTable
// emulator over loopback HTTP, the seatable client, an embedded JetStream
// queue and budget.Keeper on the queue's KV store. Time is virtual: the
// emulator, the client, the budget and the dispatcher share a clock that
// moves only when the test (or its driver) advances it.

const (
	baseUUID  = "650d8a0d-7d4c-4c4e-9f2b-0123456789ab"
	baseToken = "0123456789abcdef0123456789abcdef01234567"
)

// virtualStart is where the virtual clock of every test starts.
var virtualStart = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// gatedBudget wraps the budget so the time driver knows when a call is
// between its reservation and its answer: time must not jump then, or
// the emulator would see the call later than the budget recorded it.
type gatedBudget struct {
	actions.Budget
	st *stack
}

func (g gatedBudget) Reserve(ctx context.Context, base string, lane seaflow.Lane) (budget.Grant, error) {
	g.st.mu.Lock()
	defer g.st.mu.Unlock()
	gr, err := g.Budget.Reserve(ctx, base, lane)
	if gr.OK && err == nil {
		g.st.inFlight++
	}
	return gr, err
}

// ackingSource wraps the queue to count acks, so tests can wait for them.
type ackingSource struct {
	*queue.Queue
	st *stack
}

func (a ackingSource) Fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]actions.Delivery, error) {
	ds, err := a.Queue.Fetch(ctx, base, lane, max, wait)
	for i := range ds {
		ack := ds[i].Ack
		ds[i].Ack = func(ctx context.Context) error {
			err := ack(ctx)
			a.st.mu.Lock()
			a.st.acked++
			a.st.mu.Unlock()
			a.st.bump()
			return err
		}
	}
	return ds, err
}

// stack is the emulator, queue and clock shared by the dispatchers of a test.
type stack struct {
	clock  *clocktest.Clock
	emu    *emulator.Emulator
	url    string
	q      *queue.Queue
	limits budget.Limits
	// apiToken is the dispatchers' API token; "" = baseToken.
	apiToken string

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when a call ends or an op is acked
	inFlight int
	acked    int
	reports  []actions.CallReport
	// byReplica counts the calls of each dispatcher.
	byReplica []int
}

// readOnlyToken is the base's read-only (r) API token.
const readOnlyToken = "r0000000000000000000000000000000000000r0"

func newStack(t *testing.T, limits budget.Limits) *stack {
	t.Helper()
	st := &stack{clock: clocktest.New(virtualStart), limits: limits, changed: make(chan struct{})}
	var emuLimits []emulator.Limit
	for _, w := range limits.Windows {
		emuLimits = append(emuLimits, emulator.Limit{Window: w.Span, Calls: w.Calls})
	}
	st.emu = emulator.New(emulator.Options{Limits: emuLimits, Now: st.clock.Now, Logger: zerolog.Nop()})
	var y strings.Builder
	fmt.Fprintf(&y, "bases:\n  - name: crm\n    uuid: %q\n    api_token: %q\n", baseUUID, baseToken)
	fmt.Fprintf(&y, "    api_tokens: [ { token: %q, permission: r } ]\n    tables:\n", readOnlyToken)
	y.WriteString("      - name: Items\n        columns:\n          - { name: Name, type: text }\n          - { name: N, type: number }\n          - { name: Tag, type: link, table: Tags }\n        rows:\n")
	for i := range 2000 {
		fmt.Fprintf(&y, "          - { Name: row-%d, N: 0 }\n", i)
	}
	y.WriteString("      - name: Tags\n        columns:\n          - { name: Title, type: text }\n        rows:\n          - { Title: red }\n          - { Title: blue }\n")
	fx, err := emulator.ParseFixture("items.yaml", []byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.emu.Load(fx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(st.emu)
	t.Cleanup(srv.Close)
	st.url = srv.URL
	st.emu.SetServerURL(srv.URL)

	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{Dir: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	st.q = q
	return st
}

// rowIDs returns the ids of the fixture rows, in order.
func (st *stack) rowIDs(t *testing.T) []string {
	t.Helper()
	rows, err := st.emu.Rows(baseUUID, "Items")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r["_id"].(string)
	}
	return ids
}

func (st *stack) publish(t *testing.T, ops []seaflow.Op) {
	t.Helper()
	for start := 0; start < len(ops); start += 10_000 {
		if err := st.q.PublishOps(context.Background(), ops[start:min(start+10_000, len(ops))]); err != nil {
			t.Fatal(err)
		}
	}
}

// startDispatcher runs one dispatcher (one replica) with its own client and
// budget keeper, sharing the queue and the budget's KV store.
func (st *stack) startDispatcher(t *testing.T) {
	t.Helper()
	token := st.apiToken
	if token == "" {
		token = baseToken
	}
	client := seatable.New(seatable.Config{ServerURL: st.url, APIToken: token, Now: st.clock.Now})
	keeper := budget.NewKeeper(st.q.BudgetStore(), func(string) budget.Limits { return st.limits }, st.clock.Now)
	st.mu.Lock()
	replica := len(st.byReplica)
	st.byReplica = append(st.byReplica, 0)
	st.mu.Unlock()
	d := actions.NewDispatcher(actions.DispatcherConfig{
		Bases:  map[string]actions.Rows{"crm": client},
		Source: ackingSource{Queue: st.q, st: st},
		Dead:   st.q,
		Budget: gatedBudget{Budget: keeper, st: st},
		Clock:  st.clock,
		Logger: zerolog.Nop(),
		Linger: map[seaflow.Lane]time.Duration{seaflow.Urgent: 5 * time.Millisecond, seaflow.Normal: 10 * time.Millisecond, seaflow.Bulk: 10 * time.Millisecond},
		OnCall: func(r actions.CallReport) {
			st.mu.Lock()
			st.inFlight--
			st.reports = append(st.reports, r)
			st.byReplica[replica]++
			st.mu.Unlock()
			st.bump()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// bump signals a change of the stack's state to drive and waitFor.
func (st *stack) bump() {
	st.mu.Lock()
	defer st.mu.Unlock()
	close(st.changed)
	st.changed = make(chan struct{})
}

// drive advances virtual time whenever somebody sleeps on the clock and no
// call is in flight, until the test ends.
func (st *stack) drive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ch := st.clock.Changed()
			st.mu.Lock()
			sch := st.changed
			if st.inFlight == 0 && st.clock.AdvanceToNext() {
				st.mu.Unlock()
				continue
			}
			st.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-ch:
			case <-sch:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor waits until cond holds on the call reports and the number of
// acked ops. The real-time guard only turns a hang into a failure: it is
// far above what the slowest run needs (100,000 ops under -race on a loaded
// 2-core machine), and nothing is timed.
func (st *stack) waitFor(t *testing.T, what string, cond func(reports []actions.CallReport, acked int) bool) {
	t.Helper()
	guard := time.After(10 * time.Minute)
	for {
		ch := st.clock.Changed()
		st.mu.Lock()
		sch := st.changed
		ok := cond(st.reports, st.acked)
		st.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-sch:
		case <-guard:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// landed counts the rows carried by successful calls of lane ("" = any).
func landed(reports []actions.CallReport, lane seaflow.Lane) int {
	n := 0
	for _, r := range reports {
		if r.Status == "ok" && (lane == "" || r.Lane == lane) {
			n += r.Rows
		}
	}
	return n
}

func TestIntegrationMergesUpdatesIntoFewCalls(t *testing.T) {
	st := newStack(t, budget.DefaultLimits())
	ids := st.rowIDs(t)
	want := map[string]map[string]any{}
	ops := make([]seaflow.Op, 100_000)
	x := uint32(12345)
	for i := range ops {
		x = x*1664525 + 1013904223 // a fixed pseudo-random walk over the rows
		id := ids[int(x>>8)%len(ids)]
		values := map[string]any{"N": float64(i)}
		if i%3 == 0 {
			values = map[string]any{"Name": fmt.Sprint("v", i)}
		}
		ops[i] = seaflow.Op{ID: fmt.Sprint("u", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Items", Lane: seaflow.Normal, RowID: id, Values: values}
		if want[id] == nil {
			want[id] = map[string]any{}
		}
		for k, v := range values {
			want[id][k] = v
		}
	}
	st.publish(t, ops)
	st.startDispatcher(t)
	st.waitFor(t, "all updates acked", func(_ []actions.CallReport, acked int) bool { return acked == len(ops) })

	stats := st.emu.Stats().Bases["crm"]
	if stats.Calls > 101 {
		t.Errorf("%d calls for 100,000 updates over 2,000 rows, want at most 101", stats.Calls)
	}
	t.Logf("%d calls, rows per call %v", stats.Calls, stats.RowsPerCall)
	rows, _ := st.emu.Rows(baseUUID, "Items")
	for _, r := range rows {
		id := r["_id"].(string)
		for k, v := range want[id] {
			if r[k] != v {
				t.Fatalf("row %s: %s = %v, want %v", id, k, r[k], v)
			}
		}
	}
}

// alternating returns n ops on one row that can share no call: update,
// lock, update, unlock, ... The last update sets N to its index.
func alternating(prefix, row string, lane seaflow.Lane, n int) []seaflow.Op {
	ops := make([]seaflow.Op, n)
	for i := range ops {
		o := seaflow.Op{ID: fmt.Sprint(prefix, i), Base: "crm", Table: "Items", Lane: lane, RowID: row}
		switch i % 4 {
		case 0, 2:
			o.Kind, o.Values = seaflow.KindUpdate, map[string]any{"N": float64(i)}
		case 1:
			o.Kind = seaflow.KindLock
		case 3:
			o.Kind = seaflow.KindUnlock
		}
		ops[i] = o
	}
	return ops
}

func smallLimits() budget.Limits {
	return budget.Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 20}, {Span: 24 * time.Hour, Calls: 5000}}}
}

func TestIntegrationStaysWithinLimits(t *testing.T) {
	st := newStack(t, smallLimits())
	row := st.rowIDs(t)[7]
	st.publish(t, alternating("a", row, seaflow.Normal, 100))
	st.drive(t)
	st.startDispatcher(t)
	st.waitFor(t, "all ops acked", func(_ []actions.CallReport, acked int) bool { return acked == 100 })

	stats := st.emu.Stats().Bases["crm"]
	if stats.Sent429 != 0 {
		t.Errorf("%d 429s with the emulator's limits configured", stats.Sent429)
	}
	if m := st.emu.MaxInWindow(baseUUID, time.Minute); m > 20 {
		t.Errorf("%d calls in one minute, limit 20", m)
	}
	// 100 updates and the metadata the column check fetches once.
	if stats.Calls != 101 || stats.ByEndpoint["GET /metadata/"] != 1 {
		t.Errorf("%d calls (%v), want 100 updates and 1 metadata", stats.Calls, stats.ByEndpoint)
	}
	rows, _ := st.emu.Rows(baseUUID, "Items")
	if rows[7]["N"] != float64(98) {
		t.Errorf("N = %v, want 98 (the last update)", rows[7]["N"])
	}
}

func TestIntegrationUrgentOvertakesBulkBacklog(t *testing.T) {
	// 240 calls a day, 40 kept for urgent: bulk may spend 9 in the first hour.
	limits := budget.Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 300}, {Span: 24 * time.Hour, Calls: 240}}, UrgentReserve: 40}
	st := newStack(t, limits)
	ids := st.rowIDs(t)
	bulk := make([]seaflow.Op, 50_000)
	for i := range bulk {
		bulk[i] = seaflow.Op{ID: fmt.Sprint("b", i), Kind: seaflow.KindAppend, Base: "crm", Table: "Items", Lane: seaflow.Bulk,
			Values: map[string]any{"Name": fmt.Sprint("bulk-", i)}}
	}
	st.publish(t, bulk)
	st.startDispatcher(t)
	st.waitFor(t, "bulk under way", func(rs []actions.CallReport, _ int) bool { return landed(rs, seaflow.Bulk) > 0 })
	st.publish(t, []seaflow.Op{{ID: "urgent", Kind: seaflow.KindUpdate, Base: "crm", Table: "Items", Lane: seaflow.Urgent,
		RowID: ids[0], Values: map[string]any{"Name": "won"}}})
	st.waitFor(t, "urgent op sent", func(rs []actions.CallReport, _ int) bool { return landed(rs, seaflow.Urgent) == 1 })

	st.mu.Lock()
	bulkBefore := landed(st.reports, seaflow.Bulk)
	st.mu.Unlock()
	if bulkBefore >= len(bulk) || bulkBefore > 9*actions.MaxBatchRows {
		t.Fatalf("%d bulk rows sent before the urgent op", bulkBefore)
	}
	rows, _ := st.emu.Rows(baseUUID, "Items")
	if rows[0]["Name"] != "won" {
		t.Fatalf("urgent update missing: %v", rows[0]["Name"])
	}

	// Let virtual time run: the backlog drains along the bulk curve.
	st.drive(t)
	st.waitFor(t, "bulk drained", func(_ []actions.CallReport, acked int) bool { return acked == len(bulk)+1 })
	stats := st.emu.Stats().Bases["crm"]
	// 50 bulk appends, the urgent update and one metadata fetch.
	if stats.Sent429 != 0 || stats.Calls != 52 {
		t.Errorf("calls %d, 429s %d; want 52 calls, no 429", stats.Calls, stats.Sent429)
	}
	if elapsed := st.clock.Now().Sub(virtualStart); elapsed < 5*time.Hour {
		t.Errorf("bulk drained in %v of virtual time: not paced", elapsed)
	}
}

func TestIntegration429StormLosesNothing(t *testing.T) {
	st := newStack(t, budget.DefaultLimits())
	st.emu.SetFaults(emulator.Faults{Rate429: 0.3, Seed: 1})
	ids := st.rowIDs(t)
	var ops []seaflow.Op
	for i := range 10_000 {
		ops = append(ops, seaflow.Op{ID: fmt.Sprint("a", i), Kind: seaflow.KindAppend, Base: "crm", Table: "Items", Lane: seaflow.Normal,
			Values: map[string]any{"Name": fmt.Sprint("new-", i)}})
	}
	for i, id := range ids {
		ops = append(ops, seaflow.Op{ID: fmt.Sprint("u", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Items", Lane: seaflow.Normal,
			RowID: id, Values: map[string]any{"N": float64(i + 1)}})
	}
	st.publish(t, ops)
	st.drive(t)
	st.startDispatcher(t)
	st.waitFor(t, "every op acked", func(_ []actions.CallReport, acked int) bool { return acked == len(ops) })

	stats := st.emu.Stats()
	if stats.Bases["crm"].Sent429 == 0 {
		t.Fatal("no 429 injected")
	}
	// After every 429 the next call comes later in (virtual) time: the base
	// was frozen, not retried in a loop.
	var last *emulator.CallRecord
	for i := range stats.CallLog {
		c := &stats.CallLog[i]
		if !c.Gateway {
			continue
		}
		if last != nil && last.Status == 429 && !c.Time.After(last.Time) {
			t.Fatalf("call at %v right after a 429 at %v", c.Time, last.Time)
		}
		last = c
	}
	t.Logf("%d calls, %d 429s", stats.Bases["crm"].Calls, stats.Bases["crm"].Sent429)
	rows, _ := st.emu.Rows(baseUUID, "Items")
	names := map[string]int{}
	for i, r := range rows {
		if i < len(ids) && r["N"] != float64(i+1) {
			t.Fatalf("row %d: N = %v", i, r["N"])
		}
		names[fmt.Sprint(r["Name"])]++
	}
	for i := range 10_000 {
		if n := names[fmt.Sprint("new-", i)]; n != 1 {
			t.Fatalf("new-%d appended %d times", i, n)
		}
	}
}

func TestIntegrationTwoDispatchersShareTheBudget(t *testing.T) {
	st := newStack(t, smallLimits())
	ids := st.rowIDs(t)
	st.drive(t)
	st.startDispatcher(t)
	st.startDispatcher(t)
	total := 0
	for round := range 6 {
		// Each round: 20 calls' worth of ops on two rows, in two lanes.
		ops := alternating(fmt.Sprint("n", round, "-"), ids[round], seaflow.Normal, 10)
		ops = append(ops, alternating(fmt.Sprint("u", round, "-"), ids[100+round], seaflow.Urgent, 10)...)
		st.publish(t, ops)
		total += len(ops)
		st.waitFor(t, "round acked", func(_ []actions.CallReport, acked int) bool { return acked == total })
	}
	stats := st.emu.Stats().Bases["crm"]
	if m := st.emu.MaxInWindow(baseUUID, time.Minute); m > 20 {
		t.Errorf("%d calls in one minute from two dispatchers, limit 20", m)
	}
	if stats.Sent429 != 0 {
		t.Errorf("%d 429s", stats.Sent429)
	}
	// Each replica plans only what it fetched: ops of one row split between
	// them may merge differently, so the count is at most one row call per
	// op. The token exchanges and each replica's metadata read are calls
	// too, but carry no op.
	gateway := 0
	for _, c := range st.emu.Stats().CallLog {
		if c.Gateway && c.Rows > 0 {
			gateway++
		}
	}
	if gateway > total || gateway < total/2 {
		t.Errorf("%d row calls for %d ops", gateway, total)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("%d calls (%d row calls), by replica %v", stats.Calls, gateway, st.byReplica)
}

func TestIntegrationUpsertsAndLinks(t *testing.T) {
	st := newStack(t, budget.DefaultLimits())
	ids := st.rowIDs(t)
	tags, err := st.emu.Rows(baseUUID, "Tags")
	if err != nil {
		t.Fatal(err)
	}
	red, blue := tags[0]["_id"].(string), tags[1]["_id"].(string)
	ups := func(id, name string, n float64) seaflow.Op {
		return seaflow.Op{ID: id, Kind: seaflow.KindUpsert, Base: "crm", Table: "Items", Lane: seaflow.Normal, Key: "Name",
			Values: map[string]any{"Name": name, "N": n}}
	}
	link := func(id, row string, others ...string) seaflow.Op {
		return seaflow.Op{ID: id, Kind: seaflow.KindLink, Base: "crm", Table: "Items", Lane: seaflow.Normal, RowID: row,
			LinkColumn: "Tag", OtherRowIDs: others}
	}
	ops := []seaflow.Op{
		ups("u1", "row-5", 50), ups("u2", "brand-new", 1), ups("u3", "row-6", 60), ups("u4", "brand-new", 2),
		link("l1", ids[1], red), link("l2", ids[2], red, blue),
		{ID: "bad", Kind: seaflow.KindLink, Base: "crm", Table: "Items", Lane: seaflow.Normal, RowID: ids[3], LinkColumn: "Nope", OtherRowIDs: []string{red}},
	}
	st.publish(t, ops)
	st.startDispatcher(t)
	st.waitFor(t, "all ops acked", func(_ []actions.CallReport, acked int) bool { return acked == len(ops) })

	rows, _ := st.emu.Rows(baseUUID, "Items")
	byName := map[string][]map[string]any{}
	for _, r := range rows {
		byName[fmt.Sprint(r["Name"])] = append(byName[fmt.Sprint(r["Name"])], r)
	}
	if r := byName["row-5"]; len(r) != 1 || r[0]["N"] != float64(50) {
		t.Errorf("row-5 = %v", r)
	}
	if r := byName["row-6"]; len(r) != 1 || r[0]["N"] != float64(60) {
		t.Errorf("row-6 = %v", r)
	}
	if r := byName["brand-new"]; len(r) != 1 || r[0]["N"] != float64(2) {
		t.Errorf("brand-new = %v: want one appended row with the later value", r)
	}
	linked := func(r map[string]any) []string {
		var out []string
		links, _ := r["Tag"].([]any)
		for _, l := range links {
			if m, ok := l.(map[string]any); ok {
				out = append(out, fmt.Sprint(m["row_id"]))
			}
		}
		return out
	}
	if got := linked(rows[1]); len(got) != 1 || got[0] != red {
		t.Errorf("row 1 links = %v (%v)", got, rows[1]["Tag"])
	}
	if got := linked(rows[2]); len(got) != 2 {
		t.Errorf("row 2 links = %v (%v)", got, rows[2]["Tag"])
	}
	dead, err := st.q.ListDead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Op.ID != "bad" {
		t.Errorf("dead letters = %+v, want the op with the unknown link column", dead)
	}
	// One lookup, one update, one append; one metadata, one link call; one
	// metadata refresh for the unknown link column (it may be new).
	if c := st.emu.Stats().Bases["crm"].Calls; c != 6 {
		t.Errorf("%d calls, want 6: %v", c, st.emu.Stats().Bases["crm"].ByEndpoint)
	}
}

func TestIntegrationUnknownColumnIsDeadNotDropped(t *testing.T) {
	st := newStack(t, budget.DefaultLimits())
	ids := st.rowIDs(t)
	ops := []seaflow.Op{
		{ID: "good", Kind: seaflow.KindUpdate, Base: "crm", Table: "Items", Lane: seaflow.Normal, RowID: ids[0], Values: map[string]any{"N": 7.0}},
		// SeaTable (and the emulator) would answer 200 and drop "Nmae".
		{ID: "typo", Kind: seaflow.KindUpdate, Base: "crm", Table: "Items", Lane: seaflow.Normal, RowID: ids[1], Values: map[string]any{"Nmae": "x", "N": 8.0}},
	}
	st.publish(t, ops)
	st.startDispatcher(t)
	st.waitFor(t, "all ops acked", func(_ []actions.CallReport, acked int) bool { return acked == len(ops) })

	dead, err := st.q.ListDead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Op.ID != "typo" || !strings.Contains(dead[0].Reason, `no column "Nmae"`) {
		t.Fatalf("dead letters = %+v, want the op with the typo", dead)
	}
	rows, _ := st.emu.Rows(baseUUID, "Items")
	if rows[0]["N"] != 7.0 || rows[1]["N"] == 8.0 {
		t.Errorf("N = %v, %v: want the good op landed and the typo op never sent", rows[0]["N"], rows[1]["N"])
	}
	if rpc := st.emu.Stats().Bases["crm"].RowsPerCall; len(rpc) != 2 {
		t.Errorf("rows per call %v, want the metadata and one update of one row", rpc)
	}
}

func TestIntegrationReadOnlyTokenDeadLettersAndGoesOn(t *testing.T) {
	st := newStack(t, budget.DefaultLimits())
	st.apiToken = readOnlyToken
	ids := st.rowIDs(t)
	var ops []seaflow.Op
	for i := range 5 {
		ops = append(ops, seaflow.Op{ID: fmt.Sprint("u", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Items", Lane: seaflow.Normal,
			RowID: ids[i], Values: map[string]any{"N": float64(i + 1)}})
	}
	st.publish(t, ops)
	st.startDispatcher(t)
	st.waitFor(t, "first ops settled", func(_ []actions.CallReport, acked int) bool { return acked == len(ops) })
	// The lane goes on: later ops are tried (and refused) too.
	st.publish(t, []seaflow.Op{{ID: "later", Kind: seaflow.KindAppend, Base: "crm", Table: "Items", Lane: seaflow.Normal, Values: map[string]any{"Name": "x"}}})
	st.waitFor(t, "later op settled", func(_ []actions.CallReport, acked int) bool { return acked == len(ops)+1 })

	dead, err := st.q.ListDead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != len(ops)+1 || !strings.Contains(dead[0].Reason, "Permission denied.") {
		t.Fatalf("dead letters = %+v, want every op with the 403's reason", dead)
	}
	stats := st.emu.Stats().Bases["crm"]
	// One exchange, one more after the first 403; the refused token is
	// not exchanged again for the later op.
	if stats.TokenExchanges != 2 {
		t.Errorf("%d token exchanges, want 2", stats.TokenExchanges)
	}
	rows, _ := st.emu.Rows(baseUUID, "Items")
	if rows[0]["N"] != 0.0 {
		t.Errorf("N = %v: a read-only token wrote", rows[0]["N"])
	}
}

func TestIntegrationLinksFromTheOtherSide(t *testing.T) {
	st := newStack(t, budget.DefaultLimits())
	ids := st.rowIDs(t)
	tags, _ := st.emu.Rows(baseUUID, "Tags")
	red := tags[0]["_id"].(string)
	// Tags' column "Items" is the back side of Items.Tag: both keep the
	// link's own table ids, and findLink turns them around.
	st.publish(t, []seaflow.Op{{ID: "back", Kind: seaflow.KindLink, Base: "crm", Table: "Tags", Lane: seaflow.Normal,
		RowID: red, LinkColumn: "Items", OtherRowIDs: []string{ids[4]}}})
	st.startDispatcher(t)
	st.waitFor(t, "the op acked", func(_ []actions.CallReport, acked int) bool { return acked == 1 })
	if dead, _ := st.q.ListDead(context.Background()); len(dead) != 0 {
		t.Fatalf("dead letters %+v", dead)
	}
	rows, _ := st.emu.Rows(baseUUID, "Items")
	links, _ := rows[4]["Tag"].([]any)
	if len(links) != 1 || links[0].(map[string]any)["row_id"] != red {
		t.Errorf("Items row 4 Tag = %v, want the red tag", rows[4]["Tag"])
	}
}
