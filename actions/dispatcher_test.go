package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/clocktest"
	"github.com/seaflow/seaflow/loopguard"
	"github.com/seaflow/seaflow/seatable"
)

type bundle struct {
	n       *notifier
	clock   *clocktest.Clock
	source  *fakeSource
	dead    *fakeDead
	budget  *fakeBudget
	rows    *fakeRows
	events  *eventLog
	reports *reportLog
	cfg     DispatcherConfig
	// cancel ends the context of the running dispatcher.
	cancel context.CancelFunc
	// disp is the dispatcher start runs.
	disp *Dispatcher
}

type reportLog struct {
	mu sync.Mutex
	r  []CallReport
}

func (l *reportLog) add(r CallReport) {
	l.mu.Lock()
	l.r = append(l.r, r)
	l.mu.Unlock()
}

func (l *reportLog) all() []CallReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.r)
}

// setup returns a dispatcher config on fakes: base "crm" with table T1
// (rows r0..r9, K = k0..k9) and table T2 (rows s0..s9).
func setup(t *testing.T) *bundle {
	t.Helper()
	n := &notifier{}
	events := &eventLog{}
	clock := clocktest.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	n.follow(t, clock)
	m := newModel()
	for i := range 10 {
		m.put("T1", fmt.Sprintf("r%d", i), map[string]any{"K": fmt.Sprintf("k%d", i)})
		m.put("T2", fmt.Sprintf("s%d", i), map[string]any{"K": fmt.Sprintf("k%d", i)})
	}
	b := &bundle{
		n:       n,
		clock:   clock,
		source:  newFakeSource(n),
		dead:    &fakeDead{n: n},
		budget:  &fakeBudget{n: n, clock: clock, laneNext: map[seaflow.Lane]time.Time{}, events: events},
		rows:    &fakeRows{n: n, m: m, events: events},
		events:  events,
		reports: &reportLog{},
	}
	b.cfg = DispatcherConfig{
		Bases:  map[string]Rows{"crm": b.rows},
		Source: b.source,
		Dead:   b.dead,
		Budget: b.budget,
		Clock:  clock,
		Logger: zerolog.Nop(),
		OnCall: b.reports.add,
		Rand:   func() float64 { return 0.5 },
	}
	return b
}

// start runs a dispatcher until the test ends, and checks that it drained.
func (b *bundle) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	done := make(chan error, 1)
	d := NewDispatcher(b.cfg)
	b.disp = d
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		b.source.mu.Lock()
		defer b.source.mu.Unlock()
		for _, p := range b.source.problems {
			t.Error(p)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (b *bundle) cell(table, row, col string) any {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	r := b.rows.m.tables[table][row]
	if r == nil {
		return nil
	}
	return r.cells[col]
}

func u(id string, lane seaflow.Lane, row string, values map[string]any) seaflow.Op {
	return seaflow.Op{ID: id, Kind: seaflow.KindUpdate, Base: "crm", Table: "T1", Lane: lane, RowID: row, Values: values}
}

func TestDispatcherIsolatesInvalidOps(t *testing.T) {
	b := setup(t)
	var ops []seaflow.Op
	for i := range 10 {
		v := any(i)
		if i == 3 || i == 8 {
			v = "BAD"
		}
		ops = append(ops, u(fmt.Sprint("op", i), seaflow.Normal, fmt.Sprintf("r%d", i), map[string]any{"n": v}))
	}
	b.source.push(ops...)
	b.start(t)
	waitUntil(t, b.n, "all ops settled", func() bool { return b.source.ackedCount() == 10 })

	dead := b.dead.all()
	if len(dead) != 2 || dead["op3"] != "bad value" || dead["op8"] != "bad value" {
		t.Fatalf("dead letters = %v, want op3 and op8 with SeaTable's message", dead)
	}
	for i := range 10 {
		got := b.cell("T1", fmt.Sprintf("r%d", i), "n")
		if i == 3 || i == 8 {
			if got != nil {
				t.Errorf("r%d: bad value landed: %v", i, got)
			}
		} else if got != i {
			t.Errorf("r%d: n = %v, want %d", i, got, i)
		}
	}
	// Every call, split or not, went through the budget, and before the send.
	events := b.events.all()
	for i, e := range events {
		if strings.HasPrefix(e, "send") && (i == 0 || events[i-1] != "reserve normal") {
			t.Fatalf("send without a reservation just before it: %v", events)
		}
	}
	// 10 rows, 2 bad: one full call, one metadata check, then halving
	// (7 calls per bad op here, 5 of them shared).
	if c := b.rows.callCount(); c > 16 {
		t.Fatalf("%d calls to isolate 2 bad ops of 10: %v", c, b.rows.callList())
	}
	if b.source.count(&b.source.released) != 0 {
		t.Fatalf("%d ops released", b.source.count(&b.source.released))
	}
}

func TestDispatcherDeadLettersWholeBatchOnMissingTable(t *testing.T) {
	b := setup(t)
	var ops []seaflow.Op
	for i := range 100 {
		ops = append(ops, seaflow.Op{ID: fmt.Sprint("op", i), Kind: seaflow.KindUpsert, Base: "crm", Table: "Nope", Lane: seaflow.Normal,
			Key: "K", Values: map[string]any{"K": i}})
	}
	b.source.push(ops...)
	b.start(t)
	waitUntil(t, b.n, "all ops settled", func() bool { return b.source.ackedCount() == 100 })
	if d := b.dead.all(); len(d) != 100 || d["op7"] != `table "Nope" not found` {
		t.Fatalf("dead letters: %d, op7: %q", len(d), d["op7"])
	}
	// The column check's metadata shows the table is missing: no lookup.
	if got := b.rows.callList(); !slices.Equal(got, []string{"metadata"}) {
		t.Fatalf("calls = %v, want one metadata check", got)
	}
}

func TestDispatcherFreezesBaseOn429(t *testing.T) {
	b := setup(t)
	reset := b.clock.Now().Add(30 * time.Second)
	first := true
	b.rows.fault = func(string) error {
		if first {
			first = false
			return &seatable.Error{Kind: seatable.KindRateLimited, Op: "update rows", Status: 429, ResetAt: reset}
		}
		return nil
	}
	b.source.push(u("op1", seaflow.Urgent, "r1", map[string]any{"n": 1}), u("op2", seaflow.Urgent, "r2", map[string]any{"n": 2}))
	b.start(t)

	waitUntil(t, b.n, "the lane waits for the reset", func() bool {
		at, ok := b.clock.Next()
		return ok && !at.Before(reset)
	})
	if c := b.rows.callCount(); c != 1 {
		t.Fatalf("%d calls before the reset, want 1", c)
	}
	if len(b.budget.freezes) != 1 || !b.budget.freezes[0].Equal(reset) {
		t.Fatalf("freezes = %v, want one until %v", b.budget.freezes, reset)
	}
	if b.source.count(&b.source.released) != 2 || b.source.queued("crm", seaflow.Urgent) != 2 {
		t.Fatalf("released %d, queued %d: the ops must go back to the queue", b.source.count(&b.source.released), b.source.queued("crm", seaflow.Urgent))
	}
	b.clock.Advance(30 * time.Second)
	waitUntil(t, b.n, "ops landed", func() bool { return b.source.ackedCount() == 2 })
	if c := b.rows.callCount(); c != 2 {
		t.Fatalf("%d calls, want 2", c)
	}
	if b.cell("T1", "r2", "n") != 2 {
		t.Fatal("r2 not updated")
	}
}

func TestDispatcherFreezesForDefaultWhenResetUnknown(t *testing.T) {
	b := setup(t)
	b.rows.fault = func(string) error {
		return &seatable.Error{Kind: seatable.KindRateLimited, Op: "update rows", Status: 429}
	}
	b.source.push(u("op1", seaflow.Bulk, "r1", map[string]any{"n": 1}))
	b.start(t)
	want := b.clock.Now().Add(DefaultFreeze)
	waitUntil(t, b.n, "the lane waits for the default freeze", func() bool {
		at, ok := b.clock.Next()
		return ok && !at.Before(want)
	})
	if len(b.budget.freezes) != 1 || !b.budget.freezes[0].Equal(want) {
		t.Fatalf("freezes = %v, want %v", b.budget.freezes, want)
	}
	if c := b.rows.callCount(); c != 1 {
		t.Fatalf("%d calls while frozen", c)
	}
}

func TestDispatcherRetriesTransientErrors(t *testing.T) {
	b := setup(t)
	fails := 2
	b.rows.fault = func(string) error {
		if fails > 0 {
			fails--
			return &seatable.Error{Kind: seatable.KindTransient, Op: "update rows", Status: 503}
		}
		return nil
	}
	b.source.push(u("op1", seaflow.Urgent, "r1", map[string]any{"n": 1}))
	b.start(t)
	start := b.clock.Now()
	for b.source.ackedCount() == 0 {
		waitUntil(t, b.n, "a backoff or the ack", func() bool {
			_, ok := b.clock.Next()
			return ok || b.source.ackedCount() == 1
		})
		if at, ok := b.clock.Next(); ok && b.source.ackedCount() == 0 {
			b.clock.Advance(at.Sub(b.clock.Now()))
		}
	}
	if c := b.rows.callCount(); c != 3 {
		t.Fatalf("%d calls, want 3", c)
	}
	// Backoffs of 1 s and 2 s, jittered to 75 %.
	if waited := b.clock.Now().Sub(start); waited != 750*time.Millisecond+1500*time.Millisecond {
		t.Fatalf("waited %v in backoff", waited)
	}
	if b.source.count(&b.source.released) != 0 || b.source.count(&b.source.extended) < 2 {
		t.Fatalf("released %d, extended %d: ops must stay fetched through a short backoff", b.source.count(&b.source.released), b.source.count(&b.source.extended))
	}
	if b.source.fetchCount(seaflow.Urgent) != 1 {
		t.Fatalf("%d fetches, want 1", b.source.fetchCount(seaflow.Urgent))
	}
}

func TestDispatcherReleasesAfterRepeatedTransientErrors(t *testing.T) {
	b := setup(t)
	b.rows.fault = func(string) error {
		return &seatable.Error{Kind: seatable.KindTransient, Op: "update rows", Status: 502}
	}
	b.source.push(u("op1", seaflow.Urgent, "r1", map[string]any{"n": 1}))
	b.start(t)
	for b.source.count(&b.source.released) == 0 {
		waitUntil(t, b.n, "a backoff", func() bool { _, ok := b.clock.Next(); return ok })
		at, _ := b.clock.Next()
		b.clock.Advance(at.Sub(b.clock.Now()))
	}
	if c := b.rows.callCount(); c != maxHeldAttempts {
		t.Fatalf("%d calls before release, want %d", c, maxHeldAttempts)
	}
}

func TestDispatcherWaitsForBudgetBeforeSending(t *testing.T) {
	b := setup(t)
	b.budget.denyNext, b.budget.denyFor = 1, 25*time.Second
	b.source.push(u("op1", seaflow.Normal, "r1", map[string]any{"n": 1}))
	b.start(t)
	for b.source.ackedCount() == 0 {
		waitUntil(t, b.n, "a wait or the ack", func() bool {
			_, ok := b.clock.Next()
			return ok || b.source.ackedCount() == 1
		})
		if at, ok := b.clock.Next(); ok && b.source.ackedCount() == 0 {
			if b.rows.callCount() != 0 {
				t.Fatal("call sent while the budget refused")
			}
			b.clock.Advance(at.Sub(b.clock.Now()))
		}
	}
	// The first write of a base fetches its metadata (the column check),
	// through the budget like every call.
	if got := b.events.all(); !slices.Equal(got, []string{"deny normal", "reserve normal", "send metadata", "reserve normal", "send update rows"}) {
		t.Fatalf("events = %v", got)
	}
	// 25 s of waiting, extended at least at the start and every 10 s.
	if b.source.count(&b.source.extended) < 3 || b.source.count(&b.source.released) != 0 {
		t.Fatalf("extended %d, released %d", b.source.count(&b.source.extended), b.source.count(&b.source.released))
	}
}

func TestDispatcherSendsUrgentWhileBulkWaits(t *testing.T) {
	b := setup(t)
	// Bulk is paced: its next slot is an hour away.
	b.budget.laneNext[seaflow.Bulk] = b.clock.Now().Add(time.Hour)
	var bulk []seaflow.Op
	for i := range 5000 {
		bulk = append(bulk, seaflow.Op{ID: fmt.Sprint("bulk", i), Kind: seaflow.KindAppend, Base: "crm", Table: "T2", Lane: seaflow.Bulk,
			Values: map[string]any{"i": i}})
	}
	b.source.push(bulk...)
	b.source.push(u("urgent", seaflow.Urgent, "r1", map[string]any{"won": true}))
	b.start(t)
	waitUntil(t, b.n, "urgent op acked", func() bool { return b.source.ackedCount() == 1 })
	if b.cell("T1", "r1", "won") != true {
		t.Fatal("urgent op did not land")
	}
	if q := b.source.queued("crm", seaflow.Bulk); q != 5000 {
		t.Fatalf("bulk fetched %d ops before its slot", 5000-q)
	}
	for _, r := range b.reports.all() {
		if r.Lane != seaflow.Urgent {
			t.Fatalf("call of lane %s before the bulk slot", r.Lane)
		}
	}
	b.clock.Advance(time.Hour)
	waitUntil(t, b.n, "bulk drained", func() bool { return b.source.ackedCount() == 5001 })
	var bulkCalls int
	for _, r := range b.reports.all() {
		if r.Lane == seaflow.Bulk {
			bulkCalls++
			if r.Rows != MaxBatchRows || r.Status != "ok" || r.Call != "append rows" {
				t.Fatalf("bulk call %+v", r)
			}
		}
	}
	if bulkCalls != 5 {
		t.Fatalf("%d bulk calls for 5000 appends, want 5", bulkCalls)
	}
}

func TestDispatcherDryRunSendsNothing(t *testing.T) {
	b := setup(t)
	b.cfg.DryRun = true
	b.cfg.Budget = nil
	b.source.push(u("a", seaflow.Normal, "r1", map[string]any{"n": 1}), u("b", seaflow.Normal, "r1", map[string]any{"m": 1}),
		seaflow.Op{ID: "c", Kind: seaflow.KindUpsert, Base: "crm", Table: "T1", Lane: seaflow.Normal, Key: "K", Values: map[string]any{"K": "x"}})
	b.start(t)
	waitUntil(t, b.n, "ops acked", func() bool { return b.source.ackedCount() == 3 })
	if c := b.rows.callCount(); c != 0 {
		t.Fatalf("dry run made %d calls", c)
	}
	reports := b.reports.all()
	if len(reports) != 2 || reports[0].Status != "dry_run" || reports[0].Rows != 1 {
		t.Fatalf("reports = %+v", reports)
	}
}

func TestDispatcherDrainsOnStop(t *testing.T) {
	b := setup(t)
	b.rows.block = make(chan struct{})
	// Two batches: the update is in flight when the dispatcher stops; the
	// delete after it is not sent and goes back to the queue.
	b.source.push(u("op1", seaflow.Normal, "r1", map[string]any{"n": 1}),
		seaflow.Op{ID: "op2", Kind: seaflow.KindDelete, Base: "crm", Table: "T1", Lane: seaflow.Normal, RowID: "r2"})
	stop := b.start(t)
	waitUntil(t, b.n, "the call in flight", func() bool { return b.rows.heldCount() == 1 })
	b.cancel()
	close(b.rows.block)
	stop()
	if b.source.ackedCount() != 1 || b.source.acked[0].ID != "op1" {
		t.Fatalf("acked %v, want op1 (in flight at stop)", b.source.acked)
	}
	if b.source.count(&b.source.released) != 1 || b.source.queued("crm", seaflow.Normal) != 1 {
		t.Fatalf("released %d: the unsent op must go back", b.source.count(&b.source.released))
	}
}

func TestDispatcherRefusesIncompleteConfig(t *testing.T) {
	b := setup(t)
	for name, mutate := range map[string]func(*DispatcherConfig){
		"no source":       func(c *DispatcherConfig) { c.Source = nil },
		"no budget":       func(c *DispatcherConfig) { c.Budget = nil },
		"no dead letters": func(c *DispatcherConfig) { c.Dead = nil },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := b.cfg
			mutate(&cfg)
			err := NewDispatcher(cfg).Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Run = %v, want an error saying %q", err, name)
			}
		})
	}
}

// TestDispatcherTellsTheLoopGuardBeforeSending: every write reaches the
// loop guard before its call is sent (SeaTable may deliver the webhook
// before the answer), an append's row after; a write the guard cannot
// record is not sent.
func TestDispatcherTellsTheLoopGuardBeforeSending(t *testing.T) {
	b := setup(t)
	writtenBefore := map[string]bool{}
	echoes := &fakeEchoes{before: func(w loopguard.Write) {
		if w.RowID != "" {
			writtenBefore[w.RowID] = b.cell("T1", w.RowID, "n") != nil
		}
	}}
	b.cfg.Echoes = echoes
	op1 := u("op1", seaflow.Urgent, "r1", map[string]any{"n": 1})
	op1.Depth = 2
	b.source.push(op1, seaflow.Op{ID: "op2", Kind: seaflow.KindAppend, Base: "crm", Table: "T1", Lane: seaflow.Urgent, Values: map[string]any{"n": 2}})
	b.start(t)
	waitUntil(t, b.n, "both ops settled", func() bool { return b.source.ackedCount() == 2 })
	expected, appended := echoes.all()
	slices.Sort(expected)
	if want := []string{"append/T1//0", "update/T1/r1/2"}; !slices.Equal(expected, want) {
		t.Errorf("expected echoes %v, want %v", expected, want)
	}
	if writtenBefore["r1"] {
		t.Error("the loop guard heard of the update after it landed")
	}
	if len(appended) != 1 {
		t.Errorf("appended %v, want the new row", appended)
	}
}

// TestDispatcherHoldsWritesTheGuardCannotRecord: when the loop guard's
// store is down, the call is not sent (its echo would pass for a user's
// edit) and the op stays queued.
func TestDispatcherHoldsWritesTheGuardCannotRecord(t *testing.T) {
	b := setup(t)
	b.cfg.Echoes = &fakeEchoes{fail: errors.New("echo store down")}
	b.source.push(u("op1", seaflow.Urgent, "r1", map[string]any{"n": 1}))
	b.start(t)
	waitUntil(t, b.n, "a failed round", func() bool {
		b.source.mu.Lock()
		defer b.source.mu.Unlock()
		return b.source.released > 0 || b.source.extended > 0
	})
	if b.cell("T1", "r1", "n") != nil || b.source.ackedCount() != 0 {
		t.Fatal("the write was sent though the guard could not record it")
	}
}

// TestDispatcherAddsAndRemovesBases: a base added while the dispatcher
// runs (a reload) gets its loops and its queued ops land; a removed base
// stops taking ops, which stay queued.
func TestDispatcherAddsAndRemovesBases(t *testing.T) {
	b := setup(t)
	m := newModel()
	m.put("T1", "x1", map[string]any{})
	shop := &fakeRows{n: b.n, m: m, events: b.events}
	d := NewDispatcher(b.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	shopOp := func(id string) seaflow.Op {
		return seaflow.Op{ID: id, Kind: seaflow.KindUpdate, Base: "shop", Table: "T1", Lane: seaflow.Urgent, RowID: "x1", Values: map[string]any{"n": id}}
	}
	b.source.push(shopOp("s1"), u("c1", seaflow.Urgent, "r1", map[string]any{"n": 1}))
	waitUntil(t, b.n, "crm op acked", func() bool { return b.source.ackedCount() == 1 })
	if q := b.source.queued("shop", seaflow.Urgent); q != 1 {
		t.Fatalf("%d shop ops queued before the base was added, want 1", q)
	}
	d.SetBase("shop", shop)
	waitUntil(t, b.n, "shop op acked", func() bool { return b.source.ackedCount() == 2 })
	shop.mu.Lock()
	got := shop.m.tables["T1"]["x1"].cells["n"]
	shop.mu.Unlock()
	if got != "s1" {
		t.Fatalf("shop row n = %v, want s1", got)
	}
	d.RemoveBase("shop")
	b.source.push(shopOp("s2"), u("c2", seaflow.Urgent, "r2", map[string]any{"n": 2}))
	waitUntil(t, b.n, "crm op acked", func() bool { return b.source.ackedCount() == 3 })
	if q := b.source.queued("shop", seaflow.Urgent); q != 1 {
		t.Fatalf("%d shop ops queued after the base was removed, want 1 (kept)", q)
	}
}
