package runner

import (
	"bytes"
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
	"github.com/seaflow/seaflow/loopguard"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/triggers"
)

const testConfig = `
bases:
  crm: { url: "https://seatable.example.com", api_token: "tok" }
webhooks:
  - { name: shop, path: /hooks/shop, token: "t" }
rules:
  - name: stamp
    on: { webhook: shop }
    when: body.stage == "Won"
    do:
      - update: { base: crm, table: Deals, row: "=body.id", values: { Note: "=upper(body.note)" } }
  - name: echo
    on: { webhook: shop }
    on_self: true
    do:
      - update: { base: crm, table: Deals, row: "=body.id", values: { Seen: true } }
  - name: nightly
    on: { cron: "@daily" }
    for_each: { base: crm, sql: "SELECT _id FROM Tasks WHERE Status = ?", params: ["Open"] }
    when: item.Prio > 1
    do:
      - update: { base: crm, table: Tasks, row: "=item._id", values: { Status: Overdue } }
`

type recordingPublisher struct {
	mu   sync.Mutex
	ops  []seaflow.Op
	fail error
}

func (p *recordingPublisher) PublishOps(_ context.Context, ops []seaflow.Op) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.ops = append(p.ops, ops...)
	return nil
}

type bundle struct {
	pub    *recordingPublisher
	traces *Traces
	guard  *loopguard.Guard
	now    time.Time
}

func setup(t *testing.T) (*Runner, *bundle) {
	t.Helper()
	cfg, err := rules.Parse("test.yaml", []byte(testConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	b := &bundle{pub: &recordingPublisher{}, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	now := func() time.Time { return b.now }
	b.traces = NewTraces(10, time.Hour, now)
	b.guard = loopguard.New(loopguard.Options{Store: &loopguard.MemoryStore{}, Now: now})
	r := New(Config{Rules: cfg.RuleSet(), Publisher: b.pub, Guard: b.guard, Traces: b.traces, MaxDepth: 2, Now: now, Logger: zerolog.Nop(),
		Breaker: loopguard.NewBreaker(&loopguard.MemoryStore{}, 3, now)})
	return r, b
}

func webhookEvent(body map[string]any) seaflow.Event {
	return seaflow.Event{ID: "ev-1", Source: seaflow.SourceWebhook, Name: "shop", Time: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), Body: body}
}

func TestHandle(t *testing.T) {
	t.Parallel()

	t.Run("matching rules queue their ops", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		if err := r.Handle(context.Background(), webhookEvent(map[string]any{"stage": "Won", "id": "row1", "note": "big"})); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if len(b.pub.ops) != 2 {
			t.Fatalf("queued %d ops, want 2: %+v", len(b.pub.ops), b.pub.ops)
		}
		op := b.pub.ops[0]
		if op.Kind != seaflow.KindUpdate || op.RowID != "row1" || op.Values["Note"] != "BIG" || op.Lane != seaflow.Urgent {
			t.Errorf("op = %+v", op)
		}
		tr := b.traces.Recent(1)
		if len(tr) != 1 || len(tr[0].Rules) != 2 || !tr[0].Rules[0].When || tr[0].Rules[0].Ops != 1 {
			t.Errorf("trace = %+v", tr)
		}
	})

	t.Run("when false queues nothing for that rule", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		if err := r.Handle(context.Background(), webhookEvent(map[string]any{"stage": "Lead", "id": "row1"})); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if len(b.pub.ops) != 1 || b.pub.ops[0].Rule != "echo" {
			t.Fatalf("ops = %+v, want only the echo rule's", b.pub.ops)
		}
		if tr := b.traces.Recent(1)[0]; tr.Rules[0].When {
			t.Errorf("trace says when=true for stamp: %+v", tr)
		}
	})

	t.Run("an expression error is recorded and the other rules still run", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		// note is a number: upper() fails at run time for this event only.
		if err := r.Handle(context.Background(), webhookEvent(map[string]any{"stage": "Won", "id": "row1", "note": 5})); err != nil {
			t.Fatalf("Handle returned %v; an expression error must not fail the event", err)
		}
		tr := b.traces.Recent(1)[0]
		if tr.Rules[0].Error == "" {
			t.Errorf("stamp's error not traced: %+v", tr)
		}
		if len(b.pub.ops) != 1 || b.pub.ops[0].Rule != "echo" {
			t.Errorf("ops = %+v, want echo's op", b.pub.ops)
		}
	})

	t.Run("a publish failure fails the event so it is redelivered", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		b.pub.fail = errors.New("stream unavailable")
		err := r.Handle(context.Background(), webhookEvent(map[string]any{"stage": "Won", "id": "row1", "note": "x"}))
		if err == nil || !strings.Contains(err.Error(), "stream unavailable") {
			t.Fatalf("Handle = %v, want the publish error", err)
		}
		if tr := b.traces.Recent(1)[0]; tr.Error == "" {
			t.Errorf("trace has no error: %+v", tr)
		}
	})

	t.Run("a replayed event produces the same op ids", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t)
		ev := webhookEvent(map[string]any{"stage": "Won", "id": "row1", "note": "x"})
		for i := 0; i < 2; i++ {
			if err := r.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		}
		if b.pub.ops[0].ID != b.pub.ops[2].ID || b.pub.ops[1].ID != b.pub.ops[3].ID {
			t.Errorf("op ids differ between deliveries: %q %q", b.pub.ops[0].ID, b.pub.ops[2].ID)
		}
	})
}

func TestLoopGuard(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	ctx := context.Background()
	edit := func(id, note string) seaflow.Event {
		return seaflow.Event{ID: id, Source: seaflow.SourceWebhook, Name: "shop", Base: "crm", OpType: "modify_row", Table: "Deals", RowID: "row1",
			Row: map[string]any{"Note": note}, Body: map[string]any{"stage": "Won", "id": "row1", "note": "x"}}
	}
	expect := func(note string, depth int) {
		t.Helper()
		err := b.guard.Expect(ctx, []loopguard.Write{{Base: "crm", Table: "Deals", RowID: "row1", Kind: seaflow.KindUpdate, Values: map[string]any{"Note": note}, Depth: depth, Op: note}})
		if err != nil {
			t.Fatal(err)
		}
	}

	// seaflow wrote Note = X to row1 at depth 1: the webhook coming back
	// with that cell is self, and only on_self rules see it.
	expect("X", 1)
	if err := r.Handle(ctx, edit("e1", "X")); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(b.pub.ops) != 1 || b.pub.ops[0].Rule != "echo" || b.pub.ops[0].Depth != 2 {
		t.Fatalf("ops = %+v, want echo's op at depth 2", b.pub.ops)
	}

	// Its write comes back at depth 2 = MaxDepth: the chain stops.
	expect("Y", 2)
	if err := r.Handle(ctx, edit("e2", "Y")); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(b.pub.ops) != 1 {
		t.Fatalf("the chain went on past the depth limit: %+v", b.pub.ops)
	}
	tr := b.traces.Recent(1)[0]
	if len(tr.Rules) != 1 || !strings.Contains(tr.Rules[0].Stopped, "loop guard") || !tr.Self {
		t.Errorf("trace does not say the loop guard stopped the rule: %+v", tr)
	}

	// A person's edit of the same row a moment later is theirs: the echo
	// was consumed, and a value seaflow never wrote is never self.
	b.pub.ops = nil
	if err := r.Handle(ctx, edit("e3", "X")); err != nil {
		t.Fatal(err)
	}
	if len(b.pub.ops) != 2 || b.pub.ops[0].Rule != "stamp" || b.pub.ops[0].Depth != 1 {
		t.Fatalf("a user's edit: ops %+v, want the stamp rule's (and the on_self rule's) at depth 1", b.pub.ops)
	}
}

// TestLoopBreaker: a rule writing one row from webhook events is stopped
// for that row past the cap of writes per hour (3 here), and goes on an
// hour later; other rows are not affected.
func TestLoopBreaker(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	var logs bytes.Buffer
	r.log = zerolog.New(&logs)
	ctx := context.Background()
	user := func(id, row string) seaflow.Event {
		return seaflow.Event{ID: id, Source: seaflow.SourceWebhook, Name: "shop", Base: "crm", OpType: "modify_row", Table: "Deals", RowID: row,
			Row: map[string]any{"Stage": "Won"}, Body: map[string]any{"stage": "Won", "id": row, "note": "n"}}
	}
	for i := range 5 {
		if err := r.Handle(ctx, user(fmt.Sprint("u", i), "row1")); err != nil {
			t.Fatal(err)
		}
	}
	stamps := func() int {
		n := 0
		for _, op := range b.pub.ops {
			if op.Rule == "stamp" {
				n++
			}
		}
		return n
	}
	if stamps() != 3 {
		t.Fatalf("%d writes of the stamp rule to row1, want 3 (the cap)", stamps())
	}
	if tr := b.traces.Recent(1)[0]; len(tr.Rules) == 0 || !strings.Contains(tr.Rules[0].Stopped, "loop breaker") {
		t.Fatalf("trace %+v does not say the breaker stopped the rule", tr)
	}
	// Two stops, one warning: a flood on a row does not flood the log.
	warnings := func() int {
		return strings.Count(logs.String(), `"rule":"stamp","base":"crm","table":"Deals","row":"row1"`)
	}
	if n := warnings(); n != 1 {
		t.Errorf("%d breaker warnings for two stops of rule stamp on one row, want 1:\n%s", n, logs.String())
	}
	if err := r.Handle(ctx, user("other", "row2")); err != nil || stamps() != 4 {
		t.Fatalf("another row: %d stamps, %v", stamps(), err)
	}
	b.now = b.now.Add(time.Hour + time.Second)
	if err := r.Handle(ctx, user("later", "row1")); err != nil || stamps() != 5 {
		t.Fatalf("an hour later: %d stamps, %v", stamps(), err)
	}
	for i := range 4 {
		if err := r.Handle(ctx, user(fmt.Sprint("again", i), "row1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := warnings(); n != 2 {
		t.Errorf("%d breaker warnings after the row tripped again an hour later, want 2:\n%s", n, logs.String())
	}
}

// TestForEach: a for_each never waits for SeaTable in the runner. The cron
// event queues one query op in the rule's lane; the rows a page reads come
// back as page events, and their ops carry the ids they would have had if
// the rows had been read at once; a full page queues the next.
func TestForEach(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	ev := triggers.CronEvent("nightly", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if err := r.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(b.pub.ops) != 1 {
		t.Fatalf("queued %+v, want one query op", b.pub.ops)
	}
	q := b.pub.ops[0]
	if q.Kind != seaflow.KindQuery || q.Base != "crm" || q.Lane != seaflow.Bulk || !strings.HasPrefix(q.Statement, "SELECT _id FROM Tasks") ||
		len(q.Params) != 1 || q.Params[0] != "Open" || q.Event == nil || q.Event.ID != ev.ID || q.Offset != 0 {
		t.Fatalf("query op = %+v", q)
	}

	rows := []seatable.Row{{"_id": "a", "Prio": 3}, {"_id": "b", "Prio": 1}, {"_id": "c", "Prio": 2}}
	pages := PageEvents(q, rows)
	if len(pages) != 1 || pages[0].Source != seaflow.SourceQuery || pages[0].Page.Rule != "nightly" {
		t.Fatalf("page events = %+v", pages)
	}
	b.pub.ops = nil
	if err := r.Handle(context.Background(), pages[0]); err != nil {
		t.Fatalf("Handle page: %v", err)
	}
	var ids, got []string
	for _, op := range b.pub.ops {
		got = append(got, op.RowID)
		ids = append(ids, op.ID)
	}
	if strings.Join(got, ",") != "a,c" {
		t.Errorf("ops for rows %v, want a,c (the items where when is true)", got)
	}
	if want := ev.ID + "/nightly/0/a"; len(ids) == 0 || ids[0] != want {
		t.Errorf("op ids %v, want the first %q", ids, want)
	}

	t.Run("a page of 10,000 rows is ten events and queues the next page", func(t *testing.T) {
		many := make([]seatable.Row, seatable.MaxSQLRows)
		for i := range many {
			many[i] = seatable.Row{"_id": fmt.Sprintf("r%05d", i)}
		}
		parts := PageEvents(q, many)
		if len(parts) != 10 || parts[9].Page.Offset != 9000 || len(parts[9].Page.Rows) != 1000 || parts[3].ID != q.ID+"/3" {
			t.Fatalf("%d parts, last %+v", len(parts), parts[len(parts)-1].Page.Offset)
		}
		next := NextPage(q)
		if next.Offset != seatable.MaxSQLRows || next.ID != ev.ID+"/nightly/query/10000" || next.Kind != seaflow.KindQuery {
			t.Fatalf("next page = %+v", next)
		}
		if p := PageEvents(next, many[:1]); p[0].Page.Offset != 10000 {
			t.Fatalf("rows of the second page start at %d", p[0].Page.Offset)
		}
	})

	t.Run("a replayed query keeps the replay's prefix on its ops", func(t *testing.T) {
		rq := q
		rq.ID = "replay/x/" + q.ID
		p := PageEvents(rq, rows[:1])
		b.pub.ops = nil
		if err := r.Handle(context.Background(), p[0]); err != nil || len(b.pub.ops) != 1 || b.pub.ops[0].ID != "replay/x/"+ev.ID+"/nightly/0/a" {
			t.Fatalf("ops %+v, %v", b.pub.ops, err)
		}
	})

	t.Run("the page queue stores the next page before the rows", func(t *testing.T) {
		var order []string
		pq := PageQueue{
			Events: storeFunc(func(ev seaflow.Event) { order = append(order, "rows "+ev.ID) }),
			Ops:    publishFunc(func(ops []seaflow.Op) { order = append(order, "op "+ops[0].ID) }),
		}
		if err := pq.Page(context.Background(), q, rows, true); err != nil {
			t.Fatal(err)
		}
		if want := []string{"op " + ev.ID + "/nightly/query/10000", "rows " + q.ID + "/0"}; !slices.Equal(order, want) {
			t.Fatalf("order %v, want %v", order, want)
		}
	})
}

type storeFunc func(seaflow.Event)

func (f storeFunc) StoreEvent(_ context.Context, ev seaflow.Event) (bool, error) {
	f(ev)
	return false, nil
}

type publishFunc func([]seaflow.Op)

func (f publishFunc) PublishOps(_ context.Context, ops []seaflow.Op) error { f(ops); return nil }

func TestTracesBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := NewTraces(3, time.Hour, func() time.Time { return now })
	for i := 0; i < 5; i++ {
		tr.Add(Trace{EventID: string(rune('a' + i)), Time: now.Add(time.Duration(i) * time.Minute)})
	}
	got := tr.Recent(10)
	if len(got) != 3 || got[0].EventID != "e" || got[2].EventID != "c" {
		t.Fatalf("Recent = %+v, want e,d,c", got)
	}
	now = now.Add(time.Hour + 3*time.Minute + 30*time.Second)
	if got := tr.Recent(10); len(got) != 1 || got[0].EventID != "e" {
		t.Errorf("after aging Recent = %+v, want only e", got)
	}
}

func TestRedeliveredEventMarksOpsAsReplay(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	ev := webhookEvent(map[string]any{"stage": "Won", "id": "row1", "note": "x"})
	if err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ev.Redelivered = true
	if err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if b.pub.ops[0].Replay || !b.pub.ops[2].Replay {
		t.Errorf("Replay: first delivery %v, redelivery %v; want false, true", b.pub.ops[0].Replay, b.pub.ops[2].Replay)
	}
	// Its trace says so too: the history replaces the earlier record.
	if got := b.traces.Recent(2); len(got) != 2 || !got[0].Redelivered || got[1].Redelivered {
		t.Errorf("traces %+v, want the redelivery's marked and the first's not", got)
	}
}
