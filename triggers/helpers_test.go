package triggers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// waitGuard bounds how long a test waits for a signal before failing, so a
// bug shows as a failure instead of a hung test. It is never a timing
// assertion: every wait ends on a signal first.
const waitGuard = 20 * time.Second

// fakeClock is a Clock whose time moves only when the test advances it.
// Every After call is reported on afters, so a test knows when the code
// under test is waiting.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	afters  chan time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

var _ seaflow.Clock = (*fakeClock)(nil)

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, afters: make(chan time.Duration, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	}
	c.mu.Unlock()
	c.afters <- d
	return ch
}

// Advance moves the clock by d and wakes the waiters that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// waitAfter waits until the code under test calls After and returns the
// duration it asked for.
func (c *fakeClock) waitAfter(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.afters:
		return d
	case <-time.After(waitGuard):
		t.Fatal("timed out waiting for After")
		return 0
	}
}

// memSink records accepted events and reports each on events. With fail set
// it refuses the next fail calls; with block set each Accept first signals
// entered and waits for release.
type memSink struct {
	mu     sync.Mutex
	stored []seaflow.Event
	calls  int
	tried  []string // ids of every Accept call, stored or refused
	fail   int      // refuse this many calls first
	dedupe bool     // report an id stored before as a duplicate, as the queue does
	events chan seaflow.Event

	block   bool
	entered chan struct{}
	release chan struct{}
}

var _ Sink = (*memSink)(nil)

func newMemSink() *memSink {
	return &memSink{events: make(chan seaflow.Event, 1024), entered: make(chan struct{}, 16), release: make(chan struct{})}
}

var errSinkDown = errors.New("events stream unavailable")

func (s *memSink) Accept(ctx context.Context, ev seaflow.Event) (bool, error) {
	if s.block {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	s.mu.Lock()
	s.calls++
	s.tried = append(s.tried, ev.ID)
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		return false, errSinkDown
	}
	for _, old := range s.stored {
		if s.dedupe && old.ID == ev.ID {
			s.mu.Unlock()
			return true, nil
		}
	}
	s.stored = append(s.stored, ev)
	s.mu.Unlock()
	s.events <- ev
	return false, nil
}

func (s *memSink) all() []seaflow.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seaflow.Event(nil), s.stored...)
}

// next waits for the next stored event.
func (s *memSink) next(t *testing.T) seaflow.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(waitGuard):
		t.Fatal("timed out waiting for a stored event")
		return seaflow.Event{}
	}
}
