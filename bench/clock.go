package bench

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Clock is the virtual time of a simulation. It satisfies seaflow.Clock.
//
// Goroutines that take part in the simulation are actors: the Clock knows
// how many there are (Go starts one, AddActors declares ones started
// elsewhere) and they must wait only through the Clock (After, Sleep, or a
// Waiter). Run advances time to the next event only when every actor
// waits, and wakes one waiter or runs one event at a time, so the
// simulation is sequential and deterministic.
//
// It is not clocktest.Clock, the tests' fake: that one fires every sleeper
// due at once and cannot tell whether the goroutines it wakes are done,
// while a simulation must know that every actor waits before it moves
// time, wake one waiter at a time in a fixed order, run scheduled
// functions (At) and end waits early (Wake).
//
// Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	idle    *sync.Cond
	now     time.Time
	events  eventHeap
	seq     uint64
	actors  int
	blocked int
	steps   int
	stopped bool
}

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock {
	c := &Clock{now: start}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Steps returns how many events Run has processed so far.
func (c *Clock) Steps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.steps
}

// After returns a channel that receives the virtual time once d has
// passed. The calling actor counts as waiting from this call until the
// channel is sent on: it must wait on the channel next (or on its context
// ending, after which the simulation is over).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitLocked(c.now.Add(max(d, 0)), true).ch
}

// Sleep waits d of virtual time; it returns false when ctx ended first.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-c.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// Waiter is an actor's wait that ends at a deadline or when Wake is called,
// whichever comes first.
type Waiter struct {
	ch    chan time.Time
	woken bool
}

// C receives the time once the wait ends.
func (w *Waiter) C() <-chan time.Time { return w.ch }

// Wait starts a wait of the calling actor, until at (or forever when at is
// the zero Time) unless Wake ends it earlier. As with After, the actor
// counts as waiting from this call on.
func (c *Clock) Wait(at time.Time) *Waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitLocked(at, !at.IsZero())
}

// Wake ends w's wait now; it does nothing when the wait has ended.
func (c *Clock) Wake(w *Waiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakeLocked(w)
}

func (c *Clock) waitLocked(at time.Time, timed bool) *Waiter {
	w := &Waiter{ch: make(chan time.Time, 1)}
	if c.stopped {
		w.woken = true
		w.ch <- c.now
		return w
	}
	if timed {
		c.seq++
		heap.Push(&c.events, event{at: at, seq: c.seq, w: w})
	}
	c.blocked++
	if c.blocked >= c.actors {
		c.idle.Broadcast()
	}
	return w
}

func (c *Clock) wakeLocked(w *Waiter) {
	if w.woken {
		return
	}
	w.woken = true
	c.blocked--
	w.ch <- c.now
}

// At schedules fn to run at t, on Run's goroutine while every actor waits.
// fn may start actors, wake waiters and schedule events.
func (c *Clock) At(t time.Time, fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	heap.Push(&c.events, event{at: t, seq: c.seq, fn: fn})
}

// AddActors declares n actors started outside Go (n may be negative when
// they end).
func (c *Clock) AddActors(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.actors += n
	if c.blocked >= c.actors {
		c.idle.Broadcast()
	}
}

// Go starts fn as an actor.
func (c *Clock) Go(fn func()) {
	c.AddActors(1)
	go func() {
		defer c.AddActors(-1)
		fn()
	}()
}

// Run processes events in time order (ties in the order they were
// scheduled) until the next one lies at or after end, then sets the time
// to end: the simulated span is [now, end).
// It returns with every actor waiting, so the caller may inspect shared
// state. It must not be called by an actor.
func (c *Clock) Run(end time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.blocked < c.actors {
			c.idle.Wait()
		}
		if len(c.events) == 0 || !c.events[0].at.Before(end) {
			if end.After(c.now) {
				c.now = end
			}
			return
		}
		ev := heap.Pop(&c.events).(event)
		if ev.at.After(c.now) {
			c.now = ev.at
		}
		c.steps++
		if ev.w != nil {
			c.wakeLocked(ev.w)
			continue
		}
		c.mu.Unlock()
		ev.fn()
		c.mu.Lock()
	}
}

// Stop ends the simulation: every wait ends now and every later one at
// once, so actors can wind down after the last Run without advancing time.
func (c *Clock) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for _, ev := range c.events {
		if ev.w != nil && !ev.w.woken {
			ev.w.woken = true
			ev.w.ch <- c.now
		}
	}
	c.events = nil
}

// event is a waiter to wake or a function to run at a time.
type event struct {
	at  time.Time
	seq uint64
	w   *Waiter
	fn  func()
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	*h = old[:len(old)-1]
	return ev
}
