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
	lanes map[seaflow.Lane]*laneQueue
	dead  []deadOp
}

var (
	_ actions.Source      = (*simQueue)(nil)
	_ actions.DeadLetters = (*simQueue)(nil)
)

type laneQueue struct {
	// items are ops made and waiting (released ones), in queue order
	// (seq ascending); runs are the arrivals' ops not made yet, in queue
	// order. Fetch takes the lowest seq of either first.
	items    []queued
	runs     []run
	inflight int
	// waiter is a Fetch waiting for want ops.
	waiter *Waiter
	want   int
}

// run is the ops of an arrival from its next-th on, not made yet.
type run struct {
	a    Arrival
	next int
}

// waiting counts the ops of lq waiting to be fetched.
func (lq *laneQueue) waiting() int {
	n := len(lq.items)
	for _, r := range lq.runs {
		n += r.a.N - r.next
	}
	return n
}

// take removes and returns the first op in queue order; lq must have one.
func (lq *laneQueue) take() queued {
	if len(lq.runs) > 0 {
		r := &lq.runs[0]
		seq := uint64(r.a.First + r.next)
		if len(lq.items) == 0 || seq < lq.items[0].seq {
			it := queued{seq: seq, op: r.a.Op(r.next)}
			if r.next++; r.next == r.a.N {
				lq.runs = lq.runs[1:]
			}
			return it
		}
	}
	it := lq.items[0]
	lq.items = lq.items[1:]
	return it
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

// push queues the ops of a, in order, in its lane. They are made only
// as they are fetched.
func (q *simQueue) push(a Arrival) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lq := q.lane(a.Lane)
	if a.N > 0 {
		lq.runs = append(lq.runs, run{a: a})
	}
	if lq.waiter != nil && lq.waiting() >= lq.want {
		q.clock.Wake(lq.waiter)
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
	if lq.waiting() < max && wait >= minFetchWait {
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
	n := min(max, lq.waiting())
	out := make([]actions.Delivery, n)
	for i := range out {
		out[i] = q.delivery(lane, lq.take())
	}
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
	return lq.waiting() + lq.inflight, nil
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
