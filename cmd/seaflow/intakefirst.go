package main

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/seaflow/seaflow"
)

// intakePause is how long the runner holds back before an event while
// webhook intake has the CPU's every core busy: at least 200 events a
// second still run their rules during a flood.
const intakePause = 5 * time.Millisecond

// intakeFirst gives webhook intake the CPU before the runner. A sender
// waits for intake's answer (SeaTable disables a webhook that fails it
// repeatedly), while an event already stored only waits for its rules. So
// while more webhook requests are in flight than the process has cores,
// the runner pauses intakePause before each event; otherwise it does not
// wait. A burst is accepted at the spine's speed, and its rules follow.
type intakeFirst struct {
	intake atomic.Pointer[inFlighter] // nil until watch
	cores  int64
	clock  seaflow.Clock
}

// inFlighter tells how many requests are being served
// (*triggers.Webhooks).
type inFlighter interface{ InFlight() int64 }

// newIntakeFirst returns the gate for this process's cores.
func newIntakeFirst(clock seaflow.Clock) *intakeFirst {
	return &intakeFirst{cores: int64(runtime.GOMAXPROCS(0)), clock: clock}
}

// watch makes the gate follow intake's requests.
func (g *intakeFirst) watch(intake inFlighter) { g.intake.Store(&intake) }

// wait returns at once while intake leaves a core free, else after
// intakePause (or when ctx ends).
func (g *intakeFirst) wait(ctx context.Context) {
	intake := g.intake.Load()
	if intake == nil || (*intake).InFlight() <= g.cores {
		return
	}
	select {
	case <-g.clock.After(intakePause):
	case <-ctx.Done():
	}
}
