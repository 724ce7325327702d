package actions

import (
	"context"

	"github.com/seaflow/seaflow"
)

// AfterQueued is implemented by a Signals source that can also call a
// function when ops may have been queued. An idle lane of such a source
// (nothing held, nothing queued, no rule slot to wait for) ends its
// goroutine instead of waiting in it, and the call starts it again: the
// idle lanes of a thousand bases then cost no goroutine stacks (they held
// 24 MB of them).
type AfterQueued interface {
	// AfterQueued calls f once, in a goroutine of its own (never from
	// within AfterQueued or stop), when ops may have been queued for base
	// and lane after the call (when the channel Queued returns would
	// close). stop cancels the call and reports whether it was still to
	// come. It must be safe for concurrent use.
	AfterQueued(base string, lane seaflow.Lane, f func()) (stop func() bool)
}

// canSleep says whether the lane, which found its queue empty, may end its
// goroutine until ops come: its source can start it again, and it holds
// nothing and waits for no rule's slot.
func (l *laneLoop) canSleep(waitsForSlot bool) bool {
	_, ok := l.d.cfg.Source.(AfterQueued)
	return ok && len(l.held) == 0 && !waitsForSlot
}

// runLane runs l in a goroutine of its own until bctx ends. When l falls
// asleep the goroutine ends, and the source's call starts another; d.mu is
// held.
func (d *Dispatcher) runLane(bctx context.Context, b *baseLoops, l *laneLoop) {
	d.wg.Add(1)
	b.done.Add(1)
	d.awake.Add(1)
	go func() {
		defer d.wg.Done()
		defer b.done.Done()
		defer func() {
			d.awake.Add(-1)
			if d.cfg.onLaneExit != nil {
				d.cfg.onLaneExit()
			}
		}()
		for {
			l.run(bctx)
			queued := l.asleep
			l.asleep = nil
			if queued == nil || bctx.Err() != nil || d.sleep(bctx, b, l, queued) {
				return
			}
		}
	}()
}

// sleep asks the source to start l again once ops may be queued, and
// reports whether l is asleep. False means ops came while it was being
// put to sleep (queued, asked for before the queue was looked at, is
// closed): l then goes on in the calling goroutine.
func (d *Dispatcher) sleep(bctx context.Context, b *baseLoops, l *laneLoop, queued <-chan struct{}) bool {
	// Registered under mu, so that wake (which takes mu) comes after
	// stopSleep is set, never before.
	d.mu.Lock()
	stop := d.cfg.Source.(AfterQueued).AfterQueued(l.base, l.lane, func() { d.wake(bctx, b, l) })
	l.stopSleep = stop
	d.mu.Unlock()
	select {
	case <-queued:
		// If the call is under way already, it starts l.
		return !stop()
	default:
		return true
	}
}

// wake starts the sleeping lane l again, unless its base was removed or
// the dispatcher stopped meanwhile.
func (d *Dispatcher) wake(bctx context.Context, b *baseLoops, l *laneLoop) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l.stopSleep = nil
	if d.stopped || d.bases[l.base] != b || bctx.Err() != nil {
		return
	}
	d.runLane(bctx, b, l)
}

// stopSleeping cancels the calls that would start b's sleeping lanes; d.mu
// is held.
func (b *baseLoops) stopSleeping() {
	for _, l := range b.lanes {
		if l.stopSleep != nil {
			l.stopSleep()
			l.stopSleep = nil
		}
	}
}
