package actions

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// signalSource is a fakeSource that also tells idle lanes when ops are
// pushed (Signals), and counts how often the lanes look at the queue.
type signalSource struct {
	*fakeSource
	mu      sync.Mutex
	waiting map[string]chan struct{}
	looks   int // Pending calls
}

var _ Signals = (*signalSource)(nil)

func (s *signalSource) Queued(base string, lane seaflow.Lane) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := qkey(base, lane)
	if s.waiting[k] == nil {
		s.waiting[k] = make(chan struct{})
	}
	return s.waiting[k]
}

func (s *signalSource) Pending(ctx context.Context, base string, lane seaflow.Lane) (int, error) {
	s.mu.Lock()
	s.looks++
	s.mu.Unlock()
	s.n.bump()
	return s.fakeSource.Pending(ctx, base, lane)
}

func (s *signalSource) push(ops ...seaflow.Op) {
	s.fakeSource.push(ops...)
	s.mu.Lock()
	for _, o := range ops {
		if c := s.waiting[qkey(o.Base, o.Lane)]; c != nil {
			close(c)
			delete(s.waiting, qkey(o.Base, o.Lane))
		}
	}
	s.mu.Unlock()
	s.n.bump()
}

func (s *signalSource) lookCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.looks
}

// An idle lane of a source with Signals sleeps on the signal: no timer,
// no fetch, however far the clock moves; an op pushed wakes it.
func TestDispatcherIdleLanesWaitForSignal(t *testing.T) {
	b := setup(t)
	src := &signalSource{fakeSource: b.source, waiting: map[string]chan struct{}{}}
	b.cfg.Source = src
	b.start(t)

	waitUntil(t, b.n, "every lane looked once", func() bool { return src.lookCount() >= len(seaflow.Lanes) })
	b.clock.Advance(24 * time.Hour) // a day: an idle lane has no timer to fire
	if n := b.clock.Sleepers(); n != 0 {
		t.Errorf("idle lanes wait on %d timers, want none", n)
	}
	if n := src.lookCount(); n != len(seaflow.Lanes) {
		t.Errorf("idle lanes looked at the queue %d times, want %d (once each)", n, len(seaflow.Lanes))
	}
	for _, lane := range seaflow.Lanes {
		if n := b.source.fetchCount(lane); n != 0 {
			t.Errorf("lane %s fetched %d times from an empty queue", lane, n)
		}
	}

	src.push(u("a", seaflow.Urgent, "r1", map[string]any{"K": "woken"}))
	waitUntil(t, b.n, "the pushed op acked", func() bool { return b.source.ackedCount() == 1 })
	if got := b.cell("T1", "r1", "K"); got != "woken" {
		t.Errorf("r1.K = %v, want woken", got)
	}
}

// sleepingSource is a signalSource that can also start sleeping lanes
// (AfterQueued).
type sleepingSource struct {
	*signalSource
	calls map[string][]*func() // guarded by signalSource.mu
}

var _ AfterQueued = (*sleepingSource)(nil)

func (s *sleepingSource) AfterQueued(base string, lane seaflow.Lane, f func()) func() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := qkey(base, lane)
	s.calls[k] = append(s.calls[k], &f)
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, g := range s.calls[k] {
			if g == &f {
				s.calls[k] = append(s.calls[k][:i], s.calls[k][i+1:]...)
				return true
			}
		}
		return false
	}
}

func (s *sleepingSource) push(ops ...seaflow.Op) {
	s.signalSource.push(ops...)
	s.mu.Lock()
	var fs []*func()
	for _, o := range ops {
		k := qkey(o.Base, o.Lane)
		fs = append(fs, s.calls[k]...)
		delete(s.calls, k)
	}
	s.mu.Unlock()
	for _, f := range fs {
		go (*f)()
	}
}

// An idle lane of a source with AfterQueued ends its goroutine (a thousand
// bases' idle lanes held 24 MB of stacks); an op pushed starts it again,
// the op is written, and the lane goes back to sleep. Once the dispatcher
// stops, nothing starts a lane.
func TestIdleLanesEndTheirGoroutines(t *testing.T) {
	b := setup(t)
	src := &sleepingSource{signalSource: &signalSource{fakeSource: b.source, waiting: map[string]chan struct{}{}}, calls: map[string][]*func(){}}
	b.cfg.Source = src
	b.cfg.onLaneExit = b.n.bump
	stop := b.start(t)
	d := b.disp

	waitUntil(t, b.n, "every lane asleep", func() bool { return src.lookCount() >= len(seaflow.Lanes) && d.awake.Load() == 0 })
	src.push(u("a", seaflow.Urgent, "r1", map[string]any{"K": "woken"}))
	waitUntil(t, b.n, "the pushed op acked", func() bool { return b.source.ackedCount() == 1 })
	if got := b.cell("T1", "r1", "K"); got != "woken" {
		t.Errorf("r1.K = %v, want woken", got)
	}
	waitUntil(t, b.n, "every lane asleep again", func() bool { return d.awake.Load() == 0 })
	stop()
	src.mu.Lock()
	defer src.mu.Unlock()
	for k, calls := range src.calls {
		if len(calls) > 0 {
			t.Errorf("lane %s would still be started after the stop", k)
		}
	}
}
