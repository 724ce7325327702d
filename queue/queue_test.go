package queue

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// testLogger logs warnings and errors through t.
func testLogger(t *testing.T) zerolog.Logger {
	t.Helper()
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// setup opens an embedded queue in a fresh directory and closes it when the
// test ends.
func setup(t *testing.T) *Queue {
	t.Helper()
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return q
}

// startServer starts a standalone nats-server on a random loopback port.
func startServer(t *testing.T, jetStream bool) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true, JetStream: jetStream}
	if jetStream {
		opts.StoreDir = t.TempDir()
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func testOp(id, base string, lane seaflow.Lane) seaflow.Op {
	return seaflow.Op{
		ID: id, Kind: seaflow.KindUpdate, Base: base, Table: "Deals", Lane: lane, RowID: "r-" + id,
		Values: map[string]any{"Stage": "Won"}, Rule: "stamp", CreatedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
	}
}

func testEvent(id string) seaflow.Event {
	return seaflow.Event{ID: id, Source: seaflow.SourceWebhook, Name: "crm-changes", Time: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), Base: "crm", Table: "Deals", RowID: "r1", OpType: "modify_row"}
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

func TestOpenValidates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no dir", Options{}, "storage directory is required"},
		{"embedded replicas", Options{Dir: t.TempDir(), Replicas: 3}, "one replica"},
		{"bad listen", Options{Dir: t.TempDir(), Listen: "nope"}, "listen address"},
		{"max age below window", Options{Dir: t.TempDir(), EventsMaxAge: time.Minute}, "shorter than the duplicate window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestReopenKeepsDataAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	q, err := Open(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := q.PublishEvent(ctx, testEvent("e1")); err != nil {
		t.Fatalf("publish event: %v", err)
	}
	if err := q.PublishOps(ctx, []seaflow.Op{testOp("o1", "crm", seaflow.Normal), testOp("o2", "crm", seaflow.Normal)}); err != nil {
		t.Fatalf("publish ops: %v", err)
	}
	if _, err := q.State().Put(ctx, "cron."+Token("nightly"), []byte("2026-11-26T02:00:00Z")); err != nil {
		t.Fatalf("state put: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	// Reopen on the same directory with a changed option: the streams are
	// updated in place and keep their messages.
	q, err = Open(ctx, Options{Dir: dir, DuplicateWindow: 5 * time.Minute, EventsDedupeWindow: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	info, err := q.events.Info(ctx)
	if err != nil {
		t.Fatalf("events info: %v", err)
	}
	if info.Config.Duplicates != time.Hour {
		t.Errorf("events dedupe window after reopen = %s, want 1h", info.Config.Duplicates)
	}
	if oi, err := q.ops.Info(ctx); err != nil || oi.Config.Duplicates != 5*time.Minute {
		t.Errorf("ops duplicate window after reopen = %v, %v; want 5m", oi.Config.Duplicates, err)
	}
	if info.Config.MaxAge != DefaultEventsMaxAge || info.Config.Retention != jetstream.LimitsPolicy {
		t.Errorf("events config = %+v", info.Config)
	}
	if n, err := q.Pending(ctx, "crm", seaflow.Normal); err != nil || n != 2 {
		t.Fatalf("pending after reopen = %d, %v; want 2", n, err)
	}
	ds, err := q.Fetch(ctx, "crm", seaflow.Normal, 10, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("fetch after reopen = %d ops, %v; want 2", len(ds), err)
	}
	if ds[0].Op.ID != "o1" || ds[1].Op.ID != "o2" || ds[0].Op.Values["Stage"] != "Won" {
		t.Errorf("ops after reopen = %+v, %+v", ds[0].Op, ds[1].Op)
	}
	got := make(chan seaflow.Event, 1)
	stop, err := q.ConsumeEvents(ctx, "runner", func(_ context.Context, ev seaflow.Event) error { got <- ev; return nil })
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	defer stop()
	if ev := <-got; ev.ID != "e1" || ev.Table != "Deals" || !ev.Time.Equal(testEvent("e1").Time) {
		t.Errorf("event after reopen = %+v", ev)
	}
	e, err := q.State().Get(ctx, "cron.nightly")
	if err != nil || string(e.Value()) != "2026-11-26T02:00:00Z" {
		t.Errorf("state after reopen = %v, %v", e, err)
	}
}

func TestExternalServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := startServer(t, true)
	url := ns.ClientURL()

	a, err := Open(ctx, Options{URL: url, Replicas: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open external: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	// A second replica on the same cluster: setup is idempotent.
	b, err := Open(ctx, Options{URL: url, Replicas: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open external twice: %v", err)
	}
	t.Cleanup(func() { b.Close() })

	if err := a.PublishOps(ctx, []seaflow.Op{testOp("x1", "crm", seaflow.Urgent)}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	ds, err := b.Fetch(ctx, "crm", seaflow.Urgent, 10, 0)
	if err != nil || len(ds) != 1 || ds[0].Op.ID != "x1" {
		t.Fatalf("fetch on the other replica = %+v, %v", ds, err)
	}
	if err := ds[0].Ack(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if n, err := a.Pending(ctx, "crm", seaflow.Urgent); err != nil || n != 0 {
		t.Fatalf("pending after ack = %d, %v", n, err)
	}

	// By default a single server (no cluster) gets one replica.
	c, err := Open(ctx, Options{URL: url, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open a single server with default replicas: %v", err)
	}
	c.Close()
	// Three replicas cannot be met by one node: a clear error.
	if _, err := Open(ctx, Options{URL: url, Replicas: 3, Logger: testLogger(t)}); err == nil {
		t.Fatal("open with 3 replicas on a single node succeeded")
	}
}

func TestExternalServerWithoutJetStream(t *testing.T) {
	t.Parallel()
	ns := startServer(t, false)
	_, err := Open(t.Context(), Options{URL: ns.ClientURL(), Replicas: 1, Logger: testLogger(t)})
	if err == nil {
		t.Fatal("Open succeeded against a server without JetStream")
	}
	if !errors.Is(err, jetstream.ErrJetStreamNotEnabled) || !strings.Contains(err.Error(), "has no JetStream") {
		t.Fatalf("error = %v, want a clear JetStream-not-enabled error", err)
	}
}

func TestEmbeddedListen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, err := Open(ctx, Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	addr := q.ListenAddr()
	if addr == "" {
		t.Fatal("no listen address")
	}
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatalf("connect to the embedded server: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "seaflow.events.webhook", []byte(`{"id":"from-outside"}`)); err != nil {
		t.Fatalf("publish from a client: %v", err)
	}
	if n := streamMsgs(t, q.events); n != 1 {
		t.Fatalf("events = %d, want 1", n)
	}

	// Without Listen, no port is opened.
	if setup(t).ListenAddr() != "" {
		t.Error("embedded server without Listen reports an address")
	}
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	got := redactURLs("nats://user:secret@a:4222, nats://b:4222,tls://tok@c:4222,127.0.0.1:4222")
	if strings.Contains(got, "secret") || strings.Contains(got, "tok@") {
		t.Fatalf("redactURLs leaked credentials: %s", got)
	}
	if !strings.Contains(got, "nats://b:4222") || !strings.Contains(got, "127.0.0.1:4222") {
		t.Fatalf("redactURLs = %s", got)
	}
}

func TestOneEmbeddedServerPerDir(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	q, err := Open(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Dir: dir, Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open on a dir in use = %v, want an in-use error", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	q.Close()
}

func TestEmbeddedListenPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Open(t.Context(), Options{Dir: t.TempDir(), Listen: ln.Addr().String(), Logger: zerolog.Nop()})
	if err == nil {
		t.Fatal("Open succeeded on a port in use")
	}
	if !strings.Contains(err.Error(), "embedded nats") {
		t.Fatalf("error = %v", err)
	}
}

// TestWritableFollowsTheConnection: the queue says it cannot store while
// its NATS server is away, and can again once it is back.
func TestWritableFollowsTheConnection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := startServer(t, true)
	q, err := Open(ctx, Options{URL: ns.ClientURL(), Replicas: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Writable(); err != nil {
		t.Fatalf("connected: %v", err)
	}
	away := q.nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	ns.Shutdown()
	ns.WaitForShutdown()
	<-away // the client learns of it a moment after the server is gone
	if err := q.Writable(); err == nil {
		t.Fatal("the server is down, and the queue says it can store")
	}
}
