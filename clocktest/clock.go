// Package clocktest is the one fake of seaflow.Clock for tests: a clock
// whose time moves only when the test moves it (Advance, Set,
// AdvanceToNext), and that tells the test when the code under test starts
// to wait on it (Sleepers, Changed, WaitSleepers, Afters), so no test has
// to sleep on the wall clock to wait for anything. It uses the standard
// library only.
package clocktest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Clock is a fake clock. After registers a sleeper that fires when the
// clock reaches its deadline; a duration of zero or less fires at once and
// registers nothing. The zero value is not usable: call New.
//
// Clock is safe for concurrent use. It satisfies seaflow.Clock.
type Clock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []sleeper
	afters   []time.Duration
	changed  chan struct{} // closed and replaced on every change
}

// sleeper is a pending After.
type sleeper struct {
	at time.Time
	ch chan time.Time
}

// New returns a Clock reading t0.
func New(t0 time.Time) *Clock {
	return &Clock{now: t0, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it has moved
// d past now. Every call is recorded (Afters) and signalled (Changed).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.afters = append(c.afters, d)
	if d <= 0 {
		ch <- c.now
	} else {
		c.sleepers = append(c.sleepers, sleeper{at: c.now.Add(d), ch: ch})
	}
	c.changedLocked()
	return ch
}

// Advance moves the clock d forward and fires every sleeper due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the clock to t (backwards too) and fires every sleeper due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

// AdvanceToNext moves the clock to the earliest pending sleeper's deadline
// (never backwards) and fires every sleeper due then. It reports false,
// and does nothing, when nobody sleeps.
func (c *Clock) AdvanceToNext() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.nextLocked()
	if !ok {
		return false
	}
	if at.Before(c.now) {
		at = c.now
	}
	c.setLocked(at)
	return true
}

// Next returns the earliest pending sleeper's deadline; ok is false when
// nobody sleeps.
func (c *Clock) Next() (at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextLocked()
}

// Sleepers returns how many After calls wait for the clock to move.
// A sleeper whose reader gave up (a select that took another case) still
// counts until the clock passes its deadline.
func (c *Clock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// Afters returns the duration of every After call so far, in call order.
func (c *Clock) Afters() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.afters...)
}

// Changed returns a channel that is closed at the next change: the clock
// moves or After is called. Take it before checking the condition it
// guards, then wait on it.
func (c *Clock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// WaitSleepers waits, on Changed, until at least n sleepers wait or ctx
// ends.
func (c *Clock) WaitSleepers(ctx context.Context, n int) error {
	for {
		ch := c.Changed()
		if got := c.Sleepers(); got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d sleepers (%d now): %w", n, c.Sleepers(), ctx.Err())
		}
	}
}

func (c *Clock) setLocked(t time.Time) {
	c.now = t
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if s.at.After(t) {
			kept = append(kept, s)
			continue
		}
		s.ch <- t
	}
	clear(c.sleepers[len(kept):])
	c.sleepers = kept
	c.changedLocked()
}

func (c *Clock) nextLocked() (time.Time, bool) {
	if len(c.sleepers) == 0 {
		return time.Time{}, false
	}
	at := c.sleepers[0].at
	for _, s := range c.sleepers[1:] {
		if s.at.Before(at) {
			at = s.at
		}
	}
	return at, true
}

func (c *Clock) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
