package triggers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/clocktest"
)

// waitGuard bounds how long a test waits for a signal before failing, so a
// bug shows as a failure instead of a hung test. It is never a timing
// assertion: every wait ends on a signal first.
const waitGuard = 20 * time.Second

// fakeClock is the tree's fake clock with waitAfter, which hands the test
// each After call of the code under test in turn, so a test knows when
// the code waits and for how long.
type fakeClock struct {
	*clocktest.Clock
	seen int // After calls waitAfter has handed out (the test's goroutine only)
}

var _ seaflow.Clock = (*fakeClock)(nil)

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{Clock: clocktest.New(now)}
}

// waitAfter waits until the code under test makes its next After call
// (the first one waitAfter has not returned yet) and returns the duration
// it asked for.
func (c *fakeClock) waitAfter(t *testing.T) time.Duration {
	t.Helper()
	guard := time.After(waitGuard)
	for {
		ch := c.Changed()
		if afters := c.Afters(); len(afters) > c.seen {
			c.seen++
			return afters[c.seen-1]
		}
		select {
		case <-ch:
		case <-guard:
			t.Fatal("timed out waiting for After")
			return 0
		}
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
