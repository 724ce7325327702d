package seaflow

import "time"

// Clock is the one time source of seaflow: cron, the budget, the
// dispatcher's pacing and backoff, the triggers' timestamps and the status
// all read it. Production uses SystemClock; tests use clocktest.Clock and
// advance it instead of sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After sends the time once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock of the running process.
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns the current wall-clock time.
func (SystemClock) Now() time.Time { return time.Now() }

// After waits for d on the wall clock and then sends the current time.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
