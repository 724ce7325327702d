package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
)

func publishOps(t *testing.T, q *Queue, n int, prefix, base string, lane seaflow.Lane) {
	t.Helper()
	ops := make([]seaflow.Op, n)
	for i := range ops {
		ops[i] = testOp(fmt.Sprintf("%s%d", prefix, i), base, lane)
	}
	if err := q.PublishOps(t.Context(), ops); err != nil {
		t.Fatalf("publish ops: %v", err)
	}
}

func pending(t *testing.T, q *Queue, base string, lane seaflow.Lane) int {
	t.Helper()
	n, err := q.Pending(t.Context(), base, lane)
	if err != nil {
		t.Fatalf("pending %s/%s: %v", base, lane, err)
	}
	return n
}

func TestFetchTakesOnlyItsBaseAndLane(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	publishOps(t, q, 5, "cu", "crm", seaflow.Urgent)
	publishOps(t, q, 3, "cb", "crm", seaflow.Bulk)
	publishOps(t, q, 2, "hu", "hr base.2", seaflow.Urgent) // a name that needs encoding

	ds, err := q.Fetch(ctx, "crm", seaflow.Urgent, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("fetched %d ops, want at most max=3", len(ds))
	}
	for i, d := range ds {
		if d.Op.Base != "crm" || d.Op.Lane != seaflow.Urgent || d.Op.ID != fmt.Sprintf("cu%d", i) {
			t.Errorf("op %d = %s %s/%s, want cu%d crm/urgent", i, d.Op.ID, d.Op.Base, d.Op.Lane, i)
		}
	}
	// The rest of the lane, waiting a little for a batch that does not fill.
	rest, err := q.Fetch(ctx, "crm", seaflow.Urgent, 10, 20*time.Millisecond)
	if err != nil || len(rest) != 2 || rest[0].Op.ID != "cu3" || rest[1].Op.ID != "cu4" {
		t.Fatalf("second fetch = %v ops, %v; want cu3 cu4", len(rest), err)
	}
	hr, err := q.Fetch(ctx, "hr base.2", seaflow.Urgent, 10, 0)
	if err != nil || len(hr) != 2 || hr[0].Op.Base != "hr base.2" {
		t.Fatalf("fetch of an encoded base = %d ops, %v", len(hr), err)
	}
	none, err := q.Fetch(ctx, "crm", seaflow.Normal, 10, 0)
	if err != nil || len(none) != 0 {
		t.Fatalf("fetch of an empty lane = %d ops, %v", len(none), err)
	}
	if got := pending(t, q, "crm", seaflow.Bulk); got != 3 {
		t.Errorf("bulk pending = %d, want 3 (untouched)", got)
	}
}

func TestAckRemovesReleaseRedelivers(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	publishOps(t, q, 4, "o", "crm", seaflow.Normal)
	if got := pending(t, q, "crm", seaflow.Normal); got != 4 {
		t.Fatalf("pending = %d, want 4", got)
	}
	ds, err := q.Fetch(ctx, "crm", seaflow.Normal, 4, 0)
	if err != nil || len(ds) != 4 {
		t.Fatalf("fetch = %d, %v", len(ds), err)
	}
	// Fetched but unsettled ops still count as pending.
	if got := pending(t, q, "crm", seaflow.Normal); got != 4 {
		t.Fatalf("pending while held = %d, want 4", got)
	}
	for _, d := range ds[:2] {
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if err := ds[2].Extend(ctx); err != nil {
		t.Fatalf("extend: %v", err)
	}
	if err := ds[3].Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got := pending(t, q, "crm", seaflow.Normal); got != 2 {
		t.Fatalf("pending after 2 acks = %d, want 2", got)
	}
	if n := streamMsgs(t, q.ops); n != 2 {
		t.Fatalf("ops stream holds %d messages after 2 acks, want 2 (work queue)", n)
	}
	// The released op comes back at once; the extended one stays held.
	again, err := q.Fetch(ctx, "crm", seaflow.Normal, 10, 0)
	if err != nil || len(again) != 1 || again[0].Op.ID != "o3" {
		t.Fatalf("fetch after release = %+v, %v; want o3 only", again, err)
	}
	if ds[0].Redelivered || !again[0].Redelivered {
		t.Errorf("Redelivered: first delivery %v, second %v; want false, true", ds[0].Redelivered, again[0].Redelivered)
	}
	for _, d := range []actions.Delivery{ds[2], again[0]} {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := pending(t, q, "crm", seaflow.Normal); got != 0 {
		t.Fatalf("pending after all acks = %d", got)
	}
}

func TestFetchWaitsForWork(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	// Create the consumer first so the fetch below is waiting when the op lands.
	if _, err := q.Fetch(ctx, "crm", seaflow.Urgent, 1, 0); err != nil {
		t.Fatal(err)
	}
	type result struct {
		ds  []actions.Delivery
		err error
	}
	done := make(chan result, 1)
	go func() {
		ds, err := q.Fetch(ctx, "crm", seaflow.Urgent, 1, time.Minute)
		done <- result{ds, err}
	}()
	publishOps(t, q, 1, "late", "crm", seaflow.Urgent)
	r := <-done
	if r.err != nil || len(r.ds) != 1 || r.ds[0].Op.ID != "late0" {
		t.Fatalf("waiting fetch = %+v, %v", r.ds, r.err)
	}
}

func TestFetchEndsWithContext(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := q.Fetch(ctx, "crm", seaflow.Bulk, 10, time.Hour)
		done <- err
	}()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("fetch after cancel = %v, want context.Canceled", err)
	}
}

func TestPublishOpsDedupeAndValidation(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	op := testOp("dup", "crm", seaflow.Bulk)
	for range 3 {
		if err := q.PublishOps(ctx, []seaflow.Op{op, op}); err != nil {
			t.Fatal(err)
		}
	}
	if got := pending(t, q, "crm", seaflow.Bulk); got != 1 {
		t.Fatalf("pending after publishing one id 6 times = %d, want 1", got)
	}
	for name, bad := range map[string]seaflow.Op{
		"no id":   {Base: "crm", Lane: seaflow.Bulk},
		"no base": {ID: "x", Lane: seaflow.Bulk},
		"no lane": {ID: "x", Base: "crm"},
		"bad":     {ID: "x", Base: "crm", Lane: "later"},
	} {
		if err := q.PublishOps(ctx, []seaflow.Op{bad}); err == nil {
			t.Errorf("%s: PublishOps accepted %+v", name, bad)
		}
	}
	if _, err := q.Pending(ctx, "crm", "later"); err == nil {
		t.Error("Pending accepted an unknown lane")
	}
}

func TestPublishOpsLargeBatch(t *testing.T) {
	t.Parallel()
	q := setup(t)
	// More than the in-flight window, so the window turns over.
	publishOps(t, q, 3*publishWindow+7, "big", "crm", seaflow.Bulk)
	if got := pending(t, q, "crm", seaflow.Bulk); got != 3*publishWindow+7 {
		t.Fatalf("pending = %d", got)
	}
	ds, err := q.Fetch(t.Context(), "crm", seaflow.Bulk, 1000, 0)
	if err != nil || len(ds) != 1000 {
		t.Fatalf("fetch of a full batch = %d, %v", len(ds), err)
	}
}

func TestOldestOp(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	if _, ok, err := q.OldestOp(ctx, "crm", seaflow.Urgent); err != nil || ok {
		t.Fatalf("oldest of an empty lane: ok=%v err=%v", ok, err)
	}
	publishOps(t, q, 1, "first", "crm", seaflow.Urgent)
	publishOps(t, q, 1, "other", "crm", seaflow.Bulk)
	publishOps(t, q, 1, "second", "crm", seaflow.Urgent)
	first, err := q.ops.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := q.OldestOp(ctx, "crm", seaflow.Urgent)
	if err != nil || !ok || !got.Equal(first.Time) {
		t.Fatalf("oldest = %v %v %v, want %v", got, ok, err, first.Time)
	}
	ds, err := q.Fetch(ctx, "crm", seaflow.Urgent, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatal(err)
	}
	if err := ds[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	third, err := q.ops.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err = q.OldestOp(ctx, "crm", seaflow.Urgent)
	if err != nil || !ok || !got.Equal(third.Time) {
		t.Fatalf("oldest after ack = %v %v %v, want %v", got, ok, err, third.Time)
	}
}

func TestFetchDropsUndecodableOps(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	if _, err := q.js.Publish(ctx, "seaflow.ops.crm.urgent", []byte("{broken")); err != nil {
		t.Fatal(err)
	}
	publishOps(t, q, 1, "good", "crm", seaflow.Urgent)
	ds, err := q.Fetch(ctx, "crm", seaflow.Urgent, 10, 0)
	if err != nil || len(ds) != 1 || ds[0].Op.ID != "good0" {
		t.Fatalf("fetch = %+v, %v; want only good0", ds, err)
	}
	if err := ds[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, q, "crm", seaflow.Urgent); got != 0 {
		t.Fatalf("pending = %d, want 0 (the broken op is removed)", got)
	}
}

// An op stored before this process opened the queue may have been sent by
// the process before it (a kill -9 can lose the delivery count): it is
// handed out as possibly seen.
func TestOpsFromAnEarlierProcessCountAsRedelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	publishOps(t, q, 1, "old", "crm", seaflow.Urgent)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(t.Context(), Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	publishOps(t, q, 1, "new", "crm", seaflow.Urgent)
	ds, err := q.Fetch(t.Context(), "crm", seaflow.Urgent, 10, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("fetch = %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if want := d.Op.ID == "old0"; d.Redelivered != want {
			t.Errorf("%s: Redelivered = %v, want %v", d.Op.ID, d.Redelivered, want)
		}
	}
}

// TestExtendAfterAck: extending an op already acked (a lane extends what it
// holds while a later batch waits) is no error and no warning.
func TestExtendAfterAck(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: zerolog.New(&logs).Level(zerolog.InfoLevel), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	publishOps(t, q, 1, "x", "crm", seaflow.Urgent)
	ds, err := q.Fetch(t.Context(), "crm", seaflow.Urgent, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("fetch: %v %v", ds, err)
	}
	if err := ds[0].Ack(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ds[0].Extend(t.Context()); err != nil {
		t.Errorf("extend after ack: %v", err)
	}
	if strings.Contains(logs.String(), "already") {
		t.Errorf("logged at info or above: %s", logs.String())
	}
}

// TestIdleConsumerIsDeletedAndMadeAgain: the server deletes a lane's
// consumer that has not fetched for the idle threshold (a thousand bases'
// consumers held 35 MB and 4,000 goroutines after one webhook each), and
// the lane's next fetch makes it again and gets the ops queued meanwhile.
func TestIdleConsumerIsDeletedAndMadeAgain(t *testing.T) {
	t.Parallel()
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: testLogger(t), idleConsumer: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := t.Context()
	name := opsConsumer("crm", seaflow.Bulk)
	deleted, err := q.nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.DELETED." + OpsStream + "." + name)
	if err != nil {
		t.Fatal(err)
	}
	publishOps(t, q, 2, "first", "crm", seaflow.Bulk)
	ds, err := q.Fetch(ctx, "crm", seaflow.Bulk, 10, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("fetch: %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := deleted.NextMsgWithContext(ctx); err != nil {
		t.Fatalf("waiting for the idle consumer's deletion: %v", err)
	}
	if _, err := q.ops.Consumer(ctx, name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer after the advisory: %v", err)
	}
	publishOps(t, q, 3, "later", "crm", seaflow.Bulk)
	ds, err = q.Fetch(ctx, "crm", seaflow.Bulk, 10, 0)
	if err != nil || len(ds) != 3 || ds[0].Op.ID != "later0" {
		t.Fatalf("fetch after the deletion: %d, %v", len(ds), err)
	}
}
