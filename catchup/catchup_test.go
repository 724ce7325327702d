package catchup

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// memStore is a Store with compare-and-set semantics.
type memStore struct {
	mu   sync.Mutex
	vals map[string][]byte
	revs map[string]uint64
	seq  uint64
}

func (m *memStore) Load(_ context.Context, key string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vals[key], m.revs[key], nil
}

func (m *memStore) Save(_ context.Context, key string, data []byte, rev uint64) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs[key] != rev {
		return 0, false, nil
	}
	m.seq++
	m.vals[key], m.revs[key] = data, m.seq
	return m.seq, true, nil
}

// sink records accepted events.
type sink struct {
	mu  sync.Mutex
	evs []seaflow.Event
}

func (s *sink) Accept(_ context.Context, ev seaflow.Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
	return false, nil
}

func (s *sink) events() []seaflow.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seaflow.Event(nil), s.evs...)
}

const fixture = `
bases:
  - name: crm
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Due, type: date }
        rows:
          - { Name: Acme, Stage: Lead }
          - { Name: Initech, Stage: Lead }
`

type bundle struct {
	emu       *emulator.Emulator
	clock     *fakeClock
	keeper    *budget.Keeper
	store     *memStore
	sink      *sink
	delivered []seaflow.Event // what the webhook "brought"
	rows      []map[string]any
}

func setup(t *testing.T) (*Poller, *bundle) {
	t.Helper()
	b := &bundle{clock: &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}, store: &memStore{vals: map[string][]byte{}, revs: map[string]uint64{}}, sink: &sink{}}
	b.emu = emulator.New(emulator.Options{Now: b.clock.Now})
	srv := httptest.NewServer(b.emu)
	t.Cleanup(srv.Close)
	b.emu.SetServerURL(srv.URL)
	fx, err := emulator.ParseFixture("f.yaml", []byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := b.emu.Load(fx)
	if err != nil {
		t.Fatal(err)
	}
	if b.rows, err = b.emu.Rows("crm", "Deals"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Second) // the fixture's rows are older than the first poll
	b.keeper = budget.NewKeeper(nil, nil, b.clock.Now)
	gate := actions.LaneGate(b.keeper, "crm", seaflow.Bulk, b.clock, 5*time.Minute)
	client := seatable.New(seatable.Config{ServerURL: srv.URL, APIToken: infos[0].APIToken, Now: b.clock.Now, Gate: gate})
	p := New(Config{Base: "crm", Webhook: "crm-changes", Tables: []string{"Deals"}, Every: 5 * time.Minute, Lag: time.Minute}, Deps{
		Base: client, Store: b.store, Sink: b.sink, Clock: b.clock, Logger: zerolog.Nop(),
		Delivered: func(context.Context, time.Time) ([]seaflow.Event, error) { return b.delivered, nil },
	})
	return p, b
}

func (b *bundle) edit(t *testing.T, row int, cells map[string]any) (string, time.Time) {
	t.Helper()
	id := b.rows[row]["_id"].(string)
	if _, err := b.emu.Edit(emulator.EditRequest{BaseUUID: "crm", TableName: "Deals", Op: "update", RowID: id, Row: cells}); err != nil {
		t.Fatal(err)
	}
	return id, b.clock.Now()
}

func (b *bundle) sqlCalls(t *testing.T) int {
	t.Helper()
	return b.emu.Stats().Bases["crm"].Calls
}

func poll(t *testing.T, p *Poller) Status {
	t.Helper()
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p.Status()
}

func TestCatchUp(t *testing.T) {
	t.Parallel()
	p, b := setup(t)
	ctx := context.Background()

	// The first poll starts the cursor and reads nothing.
	if st := poll(t, p); st.LikelyDisabled || b.sqlCalls(t) != 0 {
		t.Fatalf("first poll: %+v, %d calls", st, b.sqlCalls(t))
	}

	// A change the webhook brought: no event, the hook is fine.
	b.clock.Advance(time.Minute)
	id, at := b.edit(t, 0, map[string]any{"Stage": "Won"})
	b.delivered = append(b.delivered, seaflow.Event{Source: seaflow.SourceWebhook, Base: "crm", Table: "Deals", RowID: id, OpType: "modify_row", Time: at})
	b.clock.Advance(5 * time.Minute)
	st := poll(t, p)
	if n := len(b.sink.events()); n != 0 || st.LikelyDisabled || b.sqlCalls(t) != 1 {
		t.Fatalf("brought change: %d events, %+v, %d calls", n, st, b.sqlCalls(t))
	}
	if u, _ := b.keeper.Usage(ctx, "crm"); u[0].Used != 1 {
		t.Errorf("the poll's SQL call is not charged: %+v", u)
	}

	// Within the interval a poll is skipped: no call.
	poll(t, p)
	if b.sqlCalls(t) != 1 {
		t.Errorf("a poll within the interval made a call")
	}

	// The webhook is disabled: a change it never brings is caught up, once.
	b.clock.Advance(time.Minute)
	missedID, missedAt := b.edit(t, 1, map[string]any{"Stage": "Won", "Due": "2026-07-01"})
	b.clock.Advance(30 * time.Second)
	b.clock.Advance(4*time.Minute + 30*time.Second)
	st = poll(t, p)
	evs := b.sink.events()
	if len(evs) != 1 || !st.LikelyDisabled || st.MissedRows != 1 {
		t.Fatalf("missed change: %d events, status %+v", len(evs), st)
	}
	ev := evs[0]
	info, _ := p.d.Base.Info(ctx)
	if ev.ID != EventID(info.UUID, "Deals", missedID, missedAt) || ev.Source != seaflow.SourceWebhook || ev.Name != "crm-changes" ||
		ev.Base != "crm" || ev.Table != "Deals" || ev.RowID != missedID || ev.OpType != "modify_row" || !ev.CaughtUp || ev.Self ||
		!ev.Time.Equal(missedAt) || ev.Row["Stage"] != "Won" || ev.Row["Name"] != "Initech" || ev.Old != nil {
		t.Errorf("caught-up event %+v", ev)
	}
	if due, ok := ev.Row["Due"].(time.Time); !ok || due.Format("2006-01-02") != "2026-07-01" {
		t.Errorf("Due = %#v, want a time", ev.Row["Due"])
	}
	if _, ok := ev.Row["_mtime"]; ok {
		t.Errorf("system columns in row: %v", ev.Row)
	}

	// The next poll does not find it again; with no change the status stays.
	b.clock.Advance(5 * time.Minute)
	if st := poll(t, p); len(b.sink.events()) != 1 || !st.LikelyDisabled {
		t.Errorf("second poll: %d events, %+v", len(b.sink.events()), st)
	}

	// The hook works again: a brought change clears the flag.
	id, at = b.edit(t, 0, map[string]any{"Name": "Acme Corp"})
	b.delivered = append(b.delivered, seaflow.Event{Source: seaflow.SourceWebhook, Base: "crm", Table: "Deals", RowID: id, OpType: "modify_row", Time: at})
	b.clock.Advance(5 * time.Minute)
	if st := poll(t, p); st.LikelyDisabled || len(b.sink.events()) != 1 {
		t.Errorf("after the hook works again: %+v, %d events", st, len(b.sink.events()))
	}
}

func TestCatchUpReplicasShareTheRound(t *testing.T) {
	t.Parallel()
	p, b := setup(t)
	other := New(p.cfg, p.d) // a second replica on the same store
	poll(t, p)
	b.clock.Advance(time.Minute)
	b.edit(t, 0, map[string]any{"Stage": "Won"})
	b.clock.Advance(5 * time.Minute)
	poll(t, p)
	poll(t, other)
	if calls, n := b.sqlCalls(t), len(b.sink.events()); calls != 1 || n != 1 {
		t.Errorf("two replicas: %d calls, %d events; want 1 and 1", calls, n)
	}
	if !other.Status().LikelyDisabled {
		t.Error("the replica that skipped does not report what the other found")
	}
}

func TestCatchUpBatchEventsCount(t *testing.T) {
	t.Parallel()
	p, b := setup(t)
	poll(t, p)
	b.clock.Advance(time.Minute)
	_, at := b.edit(t, 0, map[string]any{"Stage": "Won"})
	b.edit(t, 1, map[string]any{"Stage": "Won"})
	// One modify_rows event naming the first row stands for both.
	b.delivered = []seaflow.Event{{Source: seaflow.SourceWebhook, Base: "crm", Table: "Deals", RowID: "other", Time: at,
		Body: map[string]any{"data": map[string]any{"op_type": "modify_rows", "table_name": "Deals", "row_id": "x", "op_time": float64(at.UnixMilli()) / 1000}}}}
	b.clock.Advance(5 * time.Minute)
	if st := poll(t, p); len(b.sink.events()) != 0 || st.LikelyDisabled {
		t.Errorf("batch event: %d events, %+v", len(b.sink.events()), st)
	}
}
