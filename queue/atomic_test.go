package queue

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow"
)

// manyOps returns n ops named prefix0..prefixN-1, alternating between two
// bases, so one publish spans several subjects.
func manyOps(n int, prefix string) []seaflow.Op {
	ops := make([]seaflow.Op, n)
	for i := range ops {
		ops[i] = testOp(fmt.Sprintf("%s%d", prefix, i), []string{"crm", "hr"}[i%2], seaflow.Bulk)
	}
	return ops
}

// storedIDs counts the stored OPS messages that carry a Nats-Msg-Id.
func storedIDs(t *testing.T, q *Queue) (msgs, withID int) {
	t.Helper()
	info, err := q.ops.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := q.ops.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		msgs++
		if m.Header.Get(jetstream.MsgIDHeader) != "" {
			withID++
		}
	}
	return msgs, withID
}

// TestLargePublishStoresOneIDPerBatch: 2,500 ops in one publish are stored
// as three atomic batches, so the server's duplicate table holds three ids,
// not 2,500 (the million-op backlog's memory was that table). The same ops
// published again (an event retried) are dropped whole, and the queue hands
// them out in the order they were published.
func TestLargePublishStoresOneIDPerBatch(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ops := manyOps(2500, "page-op")
	if err := q.PublishOps(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	if msgs, withID := storedIDs(t, q); msgs != 2500 || withID != 3 {
		t.Fatalf("stored %d messages, %d with an id; want 2500 and 3", msgs, withID)
	}
	if err := q.PublishOps(t.Context(), ops); err != nil {
		t.Fatalf("publish again: %v", err)
	}
	if crm, hr := pending(t, q, "crm", seaflow.Bulk), pending(t, q, "hr", seaflow.Bulk); crm != 1250 || hr != 1250 {
		t.Fatalf("pending after the same publish again: crm %d, hr %d; want 1250 each", crm, hr)
	}
	ds, err := q.Fetch(t.Context(), "crm", seaflow.Bulk, 1000, 0)
	if err != nil || len(ds) != 1000 {
		t.Fatalf("fetch: %d, %v", len(ds), err)
	}
	for i, d := range ds {
		if want := "page-op" + strconv.Itoa(2*i); d.Op.ID != want {
			t.Fatalf("op %d is %s, want %s", i, d.Op.ID, want)
		}
	}
}

// TestSmallPublishKeepsAnIDPerOp: a webhook's few ops each keep their own
// id, so a retried event whose rules now produce a different set still
// queues each op once.
func TestSmallPublishKeepsAnIDPerOp(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ops := manyOps(atomicMinOps-1, "webhook-op")
	if err := q.PublishOps(t.Context(), ops[:10]); err != nil {
		t.Fatal(err)
	}
	if err := q.PublishOps(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	if msgs, withID := storedIDs(t, q); msgs != len(ops) || withID != len(ops) {
		t.Fatalf("stored %d messages, %d with an id; want %d each", msgs, withID, len(ops))
	}
}

// TestPublishWithoutAtomicBatches: against a server without atomic batches
// (older than 2.12) every op carries its id, and a publish again is still
// dropped.
func TestPublishWithoutAtomicBatches(t *testing.T) {
	t.Parallel()
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: testLogger(t), noAtomic: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ops := manyOps(1200, "op")
	for range 2 {
		if err := q.PublishOps(t.Context(), ops); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, withID := storedIDs(t, q); msgs != 1200 || withID != 1200 {
		t.Fatalf("stored %d messages, %d with an id; want 1200 each", msgs, withID)
	}
}

// TestCutBatchStoresNothing: a process that dies while sending a batch
// (here: its connection closes before the commit) leaves none of the
// batch's ops in the queue, and the publish it retries at restart stores
// every op once.
func TestCutBatchStoresNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ops := manyOps(100, "op")
	for i, op := range ops[:60] {
		subj, data, err := opPayload(op)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(subj)
		m.Data = data
		m.Header.Set(batchIDHeader, "cut")
		m.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		if err := q.nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, q, "crm", seaflow.Bulk) + pending(t, q, "hr", seaflow.Bulk); n != 0 {
		t.Fatalf("%d ops of an uncommitted batch are queued", n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(t.Context(), Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n := pending(t, q, "crm", seaflow.Bulk) + pending(t, q, "hr", seaflow.Bulk); n != 0 {
		t.Fatalf("%d ops of an uncommitted batch are queued after a restart", n)
	}
	if err := q.PublishOps(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := storedIDs(t, q); msgs != 100 {
		t.Fatalf("%d ops stored, want 100", msgs)
	}
}
