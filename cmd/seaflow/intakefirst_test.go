package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow/clocktest"
)

// requests is an inFlighter with a settable count.
type requests struct{ n atomic.Int64 }

func (r *requests) InFlight() int64 { return r.n.Load() }

// TestIntakeFirstHoldsTheRunnerOnlyWhileIntakeTakesEveryCore: the runner
// goes on at once while webhook intake leaves a core free, and waits
// intakePause before an event while more requests are in flight than
// there are cores.
func TestIntakeFirstHoldsTheRunnerOnlyWhileIntakeTakesEveryCore(t *testing.T) {
	t.Parallel()
	clock := clocktest.New(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	g := newIntakeFirst(clock)
	ctx := t.Context()
	g.wait(ctx) // no intake yet: no wait (a wait would block the test)
	var reqs requests
	g.watch(&reqs)
	reqs.n.Store(g.cores)
	g.wait(ctx)

	reqs.n.Store(g.cores + 1)
	done := make(chan struct{})
	go func() { g.wait(ctx); close(done) }()
	if err := clock.WaitSleepers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := clock.Afters(); len(got) != 1 || got[0] != intakePause {
		t.Fatalf("the runner waits %v, want one wait of %v", got, intakePause)
	}
	select {
	case <-done:
		t.Fatal("the runner went on while intake took every core")
	default:
	}
	clock.Advance(intakePause)
	<-done

	// A stop ends the wait.
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	g.wait(stopped)
}
