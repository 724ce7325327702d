package bench

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
)

// minFetchWait mirrors the queue package: a shorter fetch wait does not
// wait at all.
const minFetchWait = 10 * time.Millisecond

// simQueue is an in-memory work queue per lane that the dispatcher fetches
// from, waiting on the virtual clock. It behaves as the JetStream work
// queue does for the dispatcher: Fetch returns once max ops are there or
// the wait has passed, Pending counts queued and fetched-but-unsettled ops,
// and a released op is delivered again before newer ones.
type simQueue struct {
	clock *Clock
	// acked is called with every op acked, on the acking goroutine.
	acked func(op seaflow.Op)

	mu    sync.Mutex
	seq   uint64
	lanes map[seaflow.Lane]*laneQueue
	dead  []deadOp
}

var (
	_ actions.Source      = (*simQueue)(nil)
	_ actions.DeadLetters = (*simQueue)(nil)
)

type laneQueue struct {
	// items are in queue order (seq ascending).
	items    []queued
	inflight int
	// waiter is a Fetch waiting for want ops.
	waiter *Waiter
	want   int
}

// queued is an op with its position in the queue.
type queued struct {
	seq uint64
	op  seaflow.Op
}

type deadOp struct {
	op     seaflow.Op
	reason string
}

func newSimQueue(clock *Clock, acked func(seaflow.Op)) *simQueue {
	return &simQueue{clock: clock, acked: acked, lanes: map[seaflow.Lane]*laneQueue{}}
}

func (q *simQueue) lane(l seaflow.Lane) *laneQueue {
	lq, ok := q.lanes[l]
	if !ok {
		lq = &laneQueue{}
		q.lanes[l] = lq
	}
	return lq
}

// push queues ops in order, each in its lane.
func (q *simQueue) push(ops []seaflow.Op) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, op := range ops {
		q.seq++
		lq := q.lane(op.Lane)
		lq.items = append(lq.items, queued{seq: q.seq, op: op})
	}
	for _, lq := range q.lanes {
		if lq.waiter != nil && len(lq.items) >= lq.want {
			q.clock.Wake(lq.waiter)
		}
	}
}

// Fetch returns up to max ops of lane, waiting on the virtual clock at most
// wait for max of them to be queued.
func (q *simQueue) Fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]actions.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	lq := q.lane(lane)
	if len(lq.items) < max && wait >= minFetchWait {
		w := q.clock.Wait(q.clock.Now().Add(wait))
		lq.waiter, lq.want = w, max
		q.mu.Unlock()
		select {
		case <-w.C():
		case <-ctx.Done():
			q.mu.Lock()
			lq.waiter = nil
			q.mu.Unlock()
			return nil, ctx.Err()
		}
		q.mu.Lock()
		lq.waiter = nil
	}
	defer q.mu.Unlock()
	n := min(max, len(lq.items))
	out := make([]actions.Delivery, n)
	for i, it := range lq.items[:n] {
		out[i] = q.delivery(lane, it)
	}
	lq.items = lq.items[n:]
	lq.inflight += n
	return out, nil
}

// delivery returns the handles of a fetched op; Release puts it back in
// its place in queue order.
func (q *simQueue) delivery(lane seaflow.Lane, it queued) actions.Delivery {
	op := it.op
	return actions.Delivery{
		Op: op,
		Ack: func(context.Context) error {
			q.mu.Lock()
			q.lane(lane).inflight--
			q.mu.Unlock()
			q.acked(op)
			return nil
		},
		Release: func(context.Context) error {
			q.mu.Lock()
			defer q.mu.Unlock()
			lq := q.lane(lane)
			lq.inflight--
			i := sort.Search(len(lq.items), func(i int) bool { return lq.items[i].seq > it.seq })
			lq.items = slices.Insert(lq.items, i, it)
			return nil
		},
		Extend: func(context.Context) error { return nil },
	}
}

// Pending returns the ops of lane queued or fetched and not yet settled.
func (q *simQueue) Pending(ctx context.Context, base string, lane seaflow.Lane) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lq := q.lane(lane)
	return len(lq.items) + lq.inflight, nil
}

// DeadLetter keeps an op SeaTable refused.
func (q *simQueue) DeadLetter(ctx context.Context, op seaflow.Op, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dead = append(q.dead, deadOp{op: op, reason: reason})
	return nil
}

// deadCount returns how many ops went to the dead letters.
func (q *simQueue) deadCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.dead)
}
