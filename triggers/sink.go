package triggers

import (
	"context"

	"github.com/seaflow/seaflow"
)

// Sink durably stores events. Accept returns only after the write is
// acknowledged (the EVENTS stream); a nil error means every event is stored.
// Accept must be safe for concurrent use.
type Sink interface {
	Accept(ctx context.Context, evs ...seaflow.Event) error
}
