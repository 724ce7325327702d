package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// startNATS runs an in-process NATS server with JetStream on a random
// loopback port and returns its URL.
func startNATS(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(waitGuard) {
		t.Fatal("nats server not ready")
	}
	return srv.ClientURL()
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testNATSDecode stands in for NATSEvent: JSON payloads only, ids as sent.
func testNATSDecode(subject, id string, data []byte, received time.Time) (seaflow.Event, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return seaflow.Event{}, fmt.Errorf("payload is not JSON: %w", err)
	}
	return seaflow.Event{ID: id, Source: seaflow.SourceNATS, Name: subject, Time: received, Msg: v}, nil
}

// runNATS runs n until the test ends and waits until it has subscribed.
func runNATS(t *testing.T, n *NATS) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(waitGuard):
		t.Fatal("NATS trigger not ready")
	}
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
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(waitGuard):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func natsRequest(t *testing.T, nc *nats.Conn, subject string, data []byte) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitGuard)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var m map[string]string
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		t.Fatalf("reply %q: %v", msg.Data, err)
	}
	return m
}

func TestNATSCoreMessages(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	pub := connect(t, url)
	sink, clock := newMemSink(), newFakeClock(utc(received0))
	n := NewNATS(connect(t, url), []string{"orders.*", "audit.log", "orders.*"}, "", testNATSDecode, sink, clock, zerolog.Nop())
	runNATS(t, n)

	n.mu.Lock()
	subs := len(n.subs)
	n.mu.Unlock()
	if subs != 2 {
		t.Fatalf("%d subscriptions, want 2 (duplicates subscribed once)", subs)
	}

	t.Run("Nats-Msg-Id is the id", func(t *testing.T) {
		msg := nats.NewMsg("orders.created")
		msg.Header.Set(nats.MsgIdHdr, "order-7")
		msg.Data = []byte(`{"id": 7}`)
		if err := pub.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
		ev := sink.next(t)
		if ev.ID != "order-7" || ev.Name != "orders.created" || ev.Source != seaflow.SourceNATS || !ev.Time.Equal(utc(received0)) {
			t.Fatalf("event = %+v", ev)
		}
		if m, _ := ev.Msg.(map[string]any); m["id"] != float64(7) {
			t.Fatalf("msg = %#v", ev.Msg)
		}
	})
	t.Run("random id without header", func(t *testing.T) {
		_ = pub.Publish("audit.log", []byte(`{"a": 1}`))
		_ = pub.Publish("audit.log", []byte(`{"a": 1}`))
		a, b := sink.next(t), sink.next(t)
		if a.ID == b.ID || !strings.HasPrefix(a.ID, "nats/") || a.Name != "audit.log" {
			t.Fatalf("ids %q and %q for two identical messages", a.ID, b.ID)
		}
	})
	t.Run("request learns the stored id", func(t *testing.T) {
		reply := natsRequest(t, pub, "orders.paid", []byte(`{"id": 8}`))
		ev := sink.next(t)
		if reply["id"] == "" || reply["id"] != ev.ID {
			t.Fatalf("reply %v for event %s", reply, ev.ID)
		}
	})
	t.Run("undecodable request gets an error", func(t *testing.T) {
		before := len(sink.all())
		reply := natsRequest(t, pub, "orders.paid", []byte(`not json`))
		if !strings.Contains(reply["error"], "decode message") {
			t.Fatalf("reply = %v", reply)
		}
		if len(sink.all()) != before {
			t.Fatal("undecodable message stored")
		}
	})
	t.Run("refused write gets an error", func(t *testing.T) {
		sink.mu.Lock()
		sink.fail = 1
		sink.mu.Unlock()
		reply := natsRequest(t, pub, "orders.paid", []byte(`{"id": 9}`))
		if !strings.Contains(reply["error"], "could not be stored") {
			t.Fatalf("reply = %v", reply)
		}
	})
}

func TestNATSQueueGroupSharesMessages(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	sink := newMemSink()
	clock := newFakeClock(utc(received0))
	a := NewNATS(connect(t, url), []string{"jobs.>"}, "seaflow", testNATSDecode, sink, clock, zerolog.Nop())
	b := NewNATS(connect(t, url), []string{"jobs.>"}, "seaflow", testNATSDecode, sink, clock, zerolog.Nop())
	stopA, stopB := runNATS(t, a), runNATS(t, b)

	pub := connect(t, url)
	const total = 50
	for i := range total {
		msg := nats.NewMsg(fmt.Sprintf("jobs.q%d.run", i%3))
		msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("job-%d", i))
		msg.Data = []byte(fmt.Sprintf(`{"n": %d}`, i))
		if err := pub.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[string]bool)
	for range total {
		ev := sink.next(t)
		if seen[ev.ID] {
			t.Fatalf("%s delivered twice", ev.ID)
		}
		seen[ev.ID] = true
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	stopA()
	stopB()
	if got := len(sink.all()); got != total {
		t.Fatalf("stored %d events, want %d", got, total)
	}
}

// jsSetup creates a stream over orders.> and a push consumer that delivers
// to seaflow.deliver.orders in queue group "seaflow"; the trigger subscribes
// to the deliver subject. acks receives what the trigger sends back.
func jsSetup(t *testing.T, url string) (js nats.JetStreamContext, acks *nats.Subscription) {
	t.Helper()
	nc := connect(t, url)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	if _, err := js.AddConsumer("ORDERS", &nats.ConsumerConfig{
		Durable:        "seaflow",
		DeliverSubject: "seaflow.deliver.orders",
		DeliverGroup:   "seaflow",
		AckPolicy:      nats.AckExplicitPolicy,
		AckWait:        10 * time.Minute, // no timeout redeliveries during the test
	}); err != nil {
		t.Fatalf("add consumer: %v", err)
	}
	acks, err = nc.SubscribeSync("$JS.ACK.ORDERS.seaflow.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return js, acks
}

func nextAck(t *testing.T, acks *nats.Subscription) string {
	t.Helper()
	msg, err := acks.NextMsg(waitGuard)
	if err != nil {
		t.Fatalf("waiting for an ack: %v", err)
	}
	return string(msg.Data)
}

func TestNATSJetStreamAckAfterStore(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	js, acks := jsSetup(t, url)
	sink := newMemSink()
	sink.block = true
	n := NewNATS(connect(t, url), []string{"seaflow.deliver.orders"}, "seaflow", testNATSDecode, sink, newFakeClock(utc(received0)), zerolog.Nop())
	n.nakWait = 10 * time.Millisecond
	runNATS(t, n)

	if _, err := js.Publish("orders.created", []byte(`{"id": 7}`), nats.MsgId("order-7")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	<-sink.entered
	// The write is pending: nothing acked, the message is outstanding.
	info, err := js.ConsumerInfo("ORDERS", "seaflow")
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 || info.AckFloor.Stream != 0 {
		t.Fatalf("while storing: ack pending %d, ack floor %d; want 1, 0", info.NumAckPending, info.AckFloor.Stream)
	}
	if p, _, _ := acks.Pending(); p != 0 {
		t.Fatalf("%d acks sent before the write finished", p)
	}

	// The write fails: nak with a delay, JetStream redelivers, the retry is
	// stored and only then acked.
	sink.mu.Lock()
	sink.fail = 1
	sink.mu.Unlock()
	close(sink.release)
	if got := nextAck(t, acks); !strings.HasPrefix(got, "-NAK") {
		t.Fatalf("after a failed write sent %q, want -NAK", got)
	}
	ev := sink.next(t)
	if got := nextAck(t, acks); got != "+ACK" {
		t.Fatalf("after the write sent %q, want +ACK", got)
	}
	if ev.ID != "order-7" {
		t.Fatalf("event id = %q", ev.ID)
	}
	if ev.Name != "seaflow.deliver.orders" {
		t.Fatalf("event name = %q, want the subscribed deliver subject", ev.Name)
	}
	sink.mu.Lock()
	tried := append([]string(nil), sink.tried...)
	sink.mu.Unlock()
	if len(tried) != 2 || tried[0] != tried[1] {
		t.Fatalf("attempts carried ids %v, want the same id twice", tried)
	}
	info, err = js.ConsumerInfo("ORDERS", "seaflow")
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.AckFloor.Stream != 1 {
		t.Fatalf("after ack: ack pending %d, ack floor %d; want 0, 1", info.NumAckPending, info.AckFloor.Stream)
	}
}

func TestNATSJetStreamIDs(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	js, acks := jsSetup(t, url)
	sink := newMemSink()
	sink.fail = 1
	n := NewNATS(connect(t, url), []string{"seaflow.deliver.orders"}, "seaflow", testNATSDecode, sink, newFakeClock(utc(received0)), zerolog.Nop())
	n.nakWait = 0 // plain Nak: immediate redelivery
	runNATS(t, n)

	// No Nats-Msg-Id: the id hashes subject, data and stream sequence, so a
	// redelivery keeps it and an identical second message gets another.
	for range 2 {
		if _, err := js.Publish("orders.created", []byte(`{"same": true}`)); err != nil {
			t.Fatal(err)
		}
	}
	if got := nextAck(t, acks); got != "-NAK" {
		t.Fatalf("sent %q, want -NAK", got)
	}
	a, b := sink.next(t), sink.next(t)
	sink.mu.Lock()
	tried := append([]string(nil), sink.tried...)
	sink.mu.Unlock()
	if !strings.HasPrefix(a.ID, "nats/") || a.ID == b.ID {
		t.Fatalf("ids %q and %q", a.ID, b.ID)
	}
	// tried: the refused first message, then both stored (in either order).
	if len(tried) != 3 || (tried[0] != a.ID && tried[0] != b.ID) {
		t.Fatalf("redelivery changed the id: tried %v, stored %s and %s", tried, a.ID, b.ID)
	}

	// A message that never decodes is terminated, not redelivered forever.
	if _, err := js.Publish("orders.created", []byte(`not json`)); err != nil {
		t.Fatal(err)
	}
	for {
		got := nextAck(t, acks)
		if got == "+ACK" {
			continue // the two good messages
		}
		if !strings.HasPrefix(got, "+TERM") {
			t.Fatalf("sent %q for an undecodable message, want +TERM", got)
		}
		break
	}
}

func TestNATSUpdate(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	pub := connect(t, url)
	sink := newMemSink()
	n := NewNATS(connect(t, url), []string{"a.one"}, "", testNATSDecode, sink, newFakeClock(utc(received0)), zerolog.Nop())
	runNATS(t, n)
	_ = natsRequest(t, pub, "a.one", []byte(`{}`))

	if err := n.Update([]string{"b.two"}); err != nil {
		t.Fatal(err)
	}
	if err := n.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitGuard)
	defer cancel()
	if _, err := pub.RequestWithContext(ctx, "a.one", []byte(`{}`)); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request to a dropped subject: %v, want no responders", err)
	}
	if reply := natsRequest(t, pub, "b.two", []byte(`{}`)); reply["id"] == "" {
		t.Fatalf("reply = %v", reply)
	}
	if err := n.Update([]string{"bad subject with spaces"}); err == nil {
		t.Fatal("Update accepted an invalid subject")
	}
	if got := len(sink.all()); got != 2 {
		t.Fatalf("stored %d events, want 2", got)
	}
}
