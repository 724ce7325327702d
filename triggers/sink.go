package triggers

import (
	"context"
	"time"

	"github.com/seaflow/seaflow/rules"
)

// Sink durably stores events. Accept returns only after the write is
// acknowledged (the EVENTS stream); a nil error means every event is stored.
// Accept must be safe for concurrent use.
type Sink interface {
	Accept(ctx context.Context, evs ...rules.Event) error
}

// Clock is the time source of the triggers: Now for timestamps and After to
// wait. It has the same shape as actions.Clock so one implementation serves
// both.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the Clock of the running process (the wall clock).
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns the current wall-clock time.
func (SystemClock) Now() time.Time { return time.Now() }

// After waits for d on the wall clock and then sends the current time.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
