package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestPublishEventDedupe(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	for range 2 {
		if err := q.PublishEvent(ctx, testEvent("same")); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	if err := q.PublishEvents(ctx, []seaflow.Event{testEvent("same"), testEvent("b1"), testEvent("b2"), testEvent("b1")}); err != nil {
		t.Fatalf("publish batch: %v", err)
	}
	if n := streamMsgs(t, q.events); n != 3 {
		t.Fatalf("events stored = %d, want 3 (duplicates dropped by id)", n)
	}
	if err := q.PublishEvent(ctx, seaflow.Event{Source: seaflow.SourceCron}); err == nil {
		t.Fatal("an event without id was accepted")
	}
	// The subject carries the source.
	m, err := q.events.GetLastMsgForSubject(ctx, "seaflow.events.webhook")
	if err != nil || m.Header.Get("Nats-Msg-Id") != "b2" {
		t.Fatalf("last webhook event = %v, %v", m, err)
	}
}

func TestConsumeEventsAcksAfterHandle(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	if err := q.PublishEvent(ctx, testEvent("e1")); err != nil {
		t.Fatal(err)
	}
	inHandler := make(chan seaflow.Event)
	release := make(chan struct{})
	handled := make(chan struct{})
	stop, err := q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error {
		inHandler <- ev
		<-release
		close(handled)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ev := <-inHandler
	if ev.ID != "e1" {
		t.Fatalf("event = %+v", ev)
	}
	cons, err := q.events.Consumer(ctx, "runner")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 {
		t.Fatalf("while the handler runs, ack pending = %d, want 1", info.NumAckPending)
	}
	close(release)
	<-handled
	stop() // waits for the ack of the handled event
	info, err = cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 || info.AckFloor.Stream != 1 {
		t.Fatalf("after the handler returned nil: ack pending %d, pending %d, ack floor %d", info.NumAckPending, info.NumPending, info.AckFloor.Stream)
	}
}

func TestConsumeEventsRedeliversOnError(t *testing.T) {
	t.Parallel()
	q := setup(t)
	q.retry = backoff{min: time.Millisecond, max: time.Millisecond}
	ctx := t.Context()
	// An undecodable message first: it is dropped, and does not block the rest.
	if _, err := q.js.Publish(ctx, "seaflow.events.webhook", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := q.PublishEvents(ctx, []seaflow.Event{testEvent("fails-once"), testEvent("ok")}); err != nil {
		t.Fatal(err)
	}
	calls := make(chan string, 10)
	failed := false
	stop, err := q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error {
		calls <- ev.ID
		if ev.ID == "fails-once" && !failed {
			failed = true
			return errors.New("seatable down")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for seen["fails-once"] < 2 || seen["ok"] < 1 {
		seen[<-calls]++
	}
	stop()
	if seen["fails-once"] != 2 || seen["ok"] != 1 {
		t.Fatalf("handler calls = %v, want fails-once twice and ok once", seen)
	}
	cons, err := q.events.Consumer(ctx, "runner")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Fatalf("after all handled: ack pending %d, pending %d", info.NumAckPending, info.NumPending)
	}
}

func TestConsumeEventsStopCancelsHandlerAndRedelivers(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	if err := q.PublishEvents(ctx, []seaflow.Event{testEvent("a"), testEvent("b")}); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 4)
	stop, err := q.ConsumeEvents(ctx, "runner", func(hctx context.Context, ev seaflow.Event) error {
		started <- ev.ID
		<-hctx.Done() // a handler stuck until the consumer stops
		return hctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if id := <-started; id != "a" {
		t.Fatalf("first event = %s", id)
	}
	stop()

	// Both events come back at once to the next consumer, in order.
	got := make(chan string, 4)
	stop, err = q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error { got <- ev.ID; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	seen := map[string]bool{}
	for !seen["a"] || !seen["b"] {
		seen[<-got] = true
	}
}

func TestReplayEvents(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	var all []seaflow.Event
	for i := range 5 {
		all = append(all, testEvent(fmt.Sprintf("e%d", i)))
	}
	if err := q.PublishEvents(ctx, all); err != nil {
		t.Fatal(err)
	}
	replay := func(since time.Time) []string {
		t.Helper()
		var ids []string
		if err := q.ReplayEvents(ctx, since, func(ev seaflow.Event) error { ids = append(ids, ev.ID); return nil }); err != nil {
			t.Fatalf("replay: %v", err)
		}
		return ids
	}
	if ids := replay(time.Time{}); fmt.Sprint(ids) != "[e0 e1 e2 e3 e4]" {
		t.Fatalf("replay all = %v", ids)
	}
	third, err := q.events.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	ids := replay(third.Time)
	if len(ids) < 3 || ids[len(ids)-1] != "e4" || ids[len(ids)-3] != "e2" {
		t.Fatalf("replay since the third event = %v, want it to end with e2 e3 e4", ids)
	}
	last, err := q.events.GetMsg(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if ids := replay(last.Time.Add(time.Nanosecond)); len(ids) != 0 {
		t.Fatalf("replay after the last event = %v, want nothing", ids)
	}
	// fn's error stops the replay.
	boom := errors.New("boom")
	n := 0
	err = q.ReplayEvents(ctx, time.Time{}, func(seaflow.Event) error { n++; return boom })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("replay with failing fn = %v after %d calls", err, n)
	}
	// An empty stream replays nothing and returns.
	if err := setup(t).ReplayEvents(ctx, time.Time{}, func(seaflow.Event) error { return boom }); err != nil {
		t.Fatalf("replay of an empty stream: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := backoff{min: time.Second, max: time.Minute}
	for attempt, want := range map[uint64]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: time.Minute, 1000: time.Minute} {
		if got := b.delay(attempt); got != want {
			t.Errorf("delay(%d) = %s, want %s", attempt, got, want)
		}
	}
}

func TestCloseWhileConsuming(t *testing.T) {
	t.Parallel()
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := q.ConsumeEvents(t.Context(), "runner", func(context.Context, seaflow.Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	stop() // returns: the consumer ends with the connection
}

// TestStoreEventDedupesAcrossRestarts: an event id stored once is a
// duplicate when it comes again, also after the store was closed and
// reopened (the server rebuilds the ids of the dedupe window from the
// stream), and the window is the configured 7 days, not NATS's default 2
// minutes.
func TestStoreEventDedupesAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	q, err := Open(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ev := testEvent("webhook/shop/order-42")
	if dup, err := q.StoreEvent(ctx, ev); err != nil || dup {
		t.Fatalf("first store: dup %v, %v", dup, err)
	}
	if dup, err := q.StoreEvent(ctx, ev); err != nil || !dup {
		t.Fatalf("second store: dup %v, %v; want a duplicate", dup, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if dup, err := q.StoreEvent(ctx, ev); err != nil || !dup {
		t.Fatalf("store after a restart: dup %v, %v; want a duplicate", dup, err)
	}
	info, err := q.events.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != DefaultEventsDedupeWindow || info.State.Msgs != 1 {
		t.Fatalf("events: window %s, %d messages; want 168h and 1", info.Config.Duplicates, info.State.Msgs)
	}
}

// TestLargeEvent: an event larger than the server's max_payload (a
// SeaTable webhook with a 3 MiB long-text cell against a server left at
// NATS's 1 MiB default) is stored and read back whole, once.
func TestLargeEvent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := startServer(t, true)
	q, err := Open(ctx, Options{URL: ns.ClientURL(), Replicas: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ev := testEvent("big")
	ev.Row = map[string]any{"Notes": strings.Repeat("n", 3<<20)}
	if dup, err := q.StoreEvent(ctx, ev); err != nil || dup {
		t.Fatalf("store: %v %v", dup, err)
	}
	if dup, err := q.StoreEvent(ctx, ev); err != nil || !dup {
		t.Fatalf("store again: %v %v, want a duplicate", dup, err)
	}
	got := make(chan seaflow.Event, 1)
	stop, err := q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error { got <- ev; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if ev := <-got; ev.ID != "big" || len(ev.Row["Notes"].(string)) != 3<<20 {
		t.Fatalf("read back %s with %d bytes of notes", ev.ID, len(ev.Row["Notes"].(string)))
	}
}

// TestStoredWebhookBodyIsDecodedForEveryReader: a SeaTable row event that
// intake stored with its body undecoded (Event.Raw) reaches the consumer
// and a replay as the event rules see, its cells decoded, its raw body
// gone.
func TestStoredWebhookBodyIsDecodedForEveryReader(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := setup(t)
	// Stored as it came, whitespace and all.
	body := `{"event": "update",` + "\n  " + `"data":{"dtable_uuid":"u1","row_id":"R1","op_type":"modify_row","op_time":1795000000,"table_id":"0001","table_name":"Deals",` +
		`"row_data":[{"column_key":"n","column_name":"Note","column_type":"text","value":"new","old_value":"old"}]}}`
	stored := seaflow.Event{ID: "raw1", Source: seaflow.SourceWebhook, Name: "crm", Base: "crm", Time: time.Unix(1795000000, 0).UTC(), Raw: json.RawMessage(body)}
	if _, err := q.StoreEvent(ctx, stored); err != nil {
		t.Fatal(err)
	}
	check := func(how string, ev seaflow.Event) {
		t.Helper()
		if ev.ID != "raw1" || ev.Raw != nil || ev.Table != "Deals" || ev.RowID != "R1" || ev.OpType != "modify_row" ||
			ev.Row["Note"] != "new" || ev.Old["Note"] != "old" || ev.Base != "crm" {
			t.Errorf("%s: %+v", how, ev)
		}
	}
	if err := q.ReplayEvents(ctx, time.Time{}, func(ev seaflow.Event) error { check("replayed", ev); return nil }); err != nil {
		t.Fatal(err)
	}
	got := make(chan seaflow.Event, 1)
	stop, err := q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error { got <- ev; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	check("consumed", <-got)
}

// TestWaitingEventsAreTakenInBatchesAndLateOnesHandedBack: events that
// wait are taken several per pull and handled in order; one not begun
// within a third of the ack wait of its pull (the handler before it was
// slow) is handed back and handled on its redelivery, once.
func TestWaitingEventsAreTakenInBatchesAndLateOnesHandedBack(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: testLogger(t), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := t.Context()
	var want []string
	for i := range 10 {
		id := fmt.Sprintf("e%d", i)
		want = append(want, id)
		if err := q.PublishEvent(ctx, testEvent(id)); err != nil {
			t.Fatal(err)
		}
	}
	type handled struct {
		id          string
		redelivered bool
	}
	got := make(chan handled, 20)
	stop, err := q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error {
		if ev.ID == "e1" {
			// e1 came in one pull with e2…e9 (e0's delivery said they
			// wait); a slow handler makes them late.
			mu.Lock()
			now = now.Add(eventsAckWait/3 + time.Second)
			mu.Unlock()
		}
		got <- handled{ev.ID, ev.Redelivered}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var ids []string
	for range want {
		h := <-got
		ids = append(ids, h.id)
		if late := h.id != "e0" && h.id != "e1"; h.redelivered != late {
			t.Errorf("%s: redelivered %v, want %v", h.id, h.redelivered, late)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("handled %v, want %v in order", ids, want)
	}
	select {
	case h := <-got:
		t.Errorf("%s handled twice", h.id)
	default:
	}
}
