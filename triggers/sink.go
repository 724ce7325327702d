package triggers

import (
	"context"

	"github.com/seaflow/seaflow"
)

// Sink durably stores events. Accept returns only after the write is
// acknowledged (the EVENTS stream): a nil error means ev is stored, now or
// before (duplicate is then true: an event with its id was stored within
// the dedupe window, and nothing new was). An error means it may not be
// stored; storing it again is safe. Accept must be safe for concurrent
// use.
type Sink interface {
	Accept(ctx context.Context, ev seaflow.Event) (duplicate bool, err error)
}
