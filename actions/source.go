package actions

import (
	"context"
	"time"

	"github.com/seaflow/seaflow"
)

// Delivery is one op fetched from the queue, with the handles that settle it.
// The dispatcher calls exactly one of Ack or Release for every delivery it
// fetched, and Extend any number of times before that.
type Delivery struct {
	// Op is the row action.
	Op seaflow.Op
	// Redelivered is true when the queue handed this op out before (a
	// crash, a release, an expired hold): its write may have landed already.
	Redelivered bool
	// Ack removes the op from the queue: it landed, or it went to the dead letters.
	Ack func(ctx context.Context) error
	// Release hands the op back to the queue for a later delivery.
	Release func(ctx context.Context) error
	// Extend tells the queue the op is still being worked on, so it is not
	// redelivered while the dispatcher holds it.
	Extend func(ctx context.Context) error
}

// Source is where the dispatcher takes ops from: one work queue per base and
// lane. It must be safe for concurrent use by one goroutine per base and lane.
type Source interface {
	// Fetch returns up to max ops of base and lane, waiting at most wait for
	// the batch to fill. It returns what it has (possibly nothing) when wait
	// has passed, and ctx.Err() when ctx ends first.
	Fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]Delivery, error)
	// Pending returns how many ops of base and lane wait in the queue.
	Pending(ctx context.Context, base string, lane seaflow.Lane) (int, error)
}

// DeadLetters keeps the ops SeaTable refused as invalid, with its reason,
// so nothing is lost and an operator can look at them.
type DeadLetters interface {
	// DeadLetter stores op with the reason it was refused.
	DeadLetter(ctx context.Context, op seaflow.Op, reason string) error
}

// Signals is implemented by a Source that can tell when ops may have been
// queued for a base and lane. A lane of such a source that finds its queue
// empty sleeps until then (or until a held op's rule budget frees a slot),
// instead of asking the queue again and again; a Source without it is
// polled (at most every 50 ms, or its lane's linger).
type Signals interface {
	// Queued returns a channel that is closed once ops may have been
	// queued for base and lane after the call: published, handed back, or
	// found by a periodic check (a redelivery). A lane asks for it before
	// it looks at the queue, so an op queued in between is never missed.
	// It must be safe for concurrent use.
	Queued(base string, lane seaflow.Lane) <-chan struct{}
}
