package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// TokenBucket configures the token-bucket baseline.
type TokenBucket struct {
	// Capacity is the most tokens the bucket holds (the burst).
	Capacity float64
	// Calls per Per is the refill rate.
	Calls int
	Per   time.Duration
}

// DefaultTokenBucket is a bucket at the daily rate: 5,000 tokens per 24
// hours, 300 at most (the minute limit), starting full.
func DefaultTokenBucket() TokenBucket {
	return TokenBucket{Capacity: 300, Calls: 5000, Per: 24 * time.Hour}
}

// RunTokenBucket runs w through one worker that spends a token of tb per
// call and sends one op per call (no coalescing, no rolling-window model),
// urgent ops before bulk ones, each lane in queue order. After a 429 it
// waits until the reset the response announced (or backs off 1 s doubling
// to 60 s when there is none) and retries the same op, with a new token.
func RunTokenBucket(w Workload, tb TokenBucket) (Result, error) {
	startWall := time.Now()
	s, err := newSim(w, emulator.DefaultLimits)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := s.client(nil)
	rate := float64(tb.Calls) / tb.Per.Seconds() // tokens per second

	var (
		mu      sync.Mutex
		lanes   = map[seaflow.Lane]*arrivalQueue{}
		arrival *Waiter
	)
	next := func() (seaflow.Op, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range seaflow.Lanes {
			if q := lanes[l]; q != nil && q.len() > 0 {
				return q.peek(), true
			}
		}
		return seaflow.Op{}, false
	}
	pop := func(l seaflow.Lane) {
		mu.Lock()
		defer mu.Unlock()
		lanes[l].pop()
	}
	worker := func() {
		tokens, last := tb.Capacity, s.clock.Now()
		backoff := MinRetryBackoff
		for ctx.Err() == nil {
			op, ok := next()
			if !ok {
				mu.Lock()
				arrival = s.clock.Wait(time.Time{})
				w := arrival
				mu.Unlock()
				select {
				case <-w.C():
				case <-ctx.Done():
					return
				}
				continue
			}
			now := s.clock.Now()
			tokens = min(tb.Capacity, tokens+now.Sub(last).Seconds()*rate)
			last = now
			if tokens < 1 {
				wait := time.Duration((1 - tokens) / rate * float64(time.Second))
				if !s.clock.Sleep(ctx, max(wait, time.Nanosecond)) {
					return
				}
				continue
			}
			tokens--
			err := updateOne(ctx, client, op)
			if err == nil {
				s.applied(op)
				pop(op.Lane)
				backoff = MinRetryBackoff
				continue
			}
			wait := backoff
			var se *seatable.Error
			if errors.As(err, &se) && se.Kind == seatable.KindRateLimited && se.ResetAt.After(now) {
				wait = se.ResetAt.Sub(now)
			} else {
				backoff = min(2*backoff, MaxRetryBackoff)
			}
			if !s.clock.Sleep(ctx, wait) {
				return
			}
		}
	}
	stopped := make(chan struct{})
	s.clock.Go(func() {
		defer close(stopped)
		worker()
	})
	s.run(func(a Arrival) {
		mu.Lock()
		defer mu.Unlock()
		if lanes[a.Lane] == nil {
			lanes[a.Lane] = &arrivalQueue{}
		}
		lanes[a.Lane].push(a)
		if arrival != nil {
			s.clock.Wake(arrival)
			arrival = nil
		}
	})
	r, err := s.result("token bucket, 1 op per call")
	s.clock.Stop()
	cancel()
	<-stopped
	r.Wall = time.Since(startWall)
	return r, err
}

// arrivalQueue is a FIFO of the ops of arrivals, made one at a time as
// they reach its head.
type arrivalQueue struct {
	arrivals []Arrival
	next     int // index in arrivals[0] of the head op
	head     *seaflow.Op
}

func (q *arrivalQueue) push(a Arrival) {
	if a.N > 0 {
		q.arrivals = append(q.arrivals, a)
	}
}

func (q *arrivalQueue) len() int {
	n := -q.next
	for _, a := range q.arrivals {
		n += a.N
	}
	return n
}

// peek returns the head op; the queue must not be empty.
func (q *arrivalQueue) peek() seaflow.Op {
	if q.head == nil {
		op := q.arrivals[0].Op(q.next)
		q.head = &op
	}
	return *q.head
}

// pop drops the head op.
func (q *arrivalQueue) pop() {
	q.head = nil
	q.next++
	if q.next == q.arrivals[0].N {
		q.arrivals, q.next = q.arrivals[1:], 0
	}
}
