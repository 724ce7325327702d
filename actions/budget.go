package actions

import (
	"context"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
)

// Budget admits calls to a base. It is satisfied by *budget.Keeper and must
// be safe for concurrent use: every lane of every base asks it.
type Budget interface {
	// Reserve records a call of lane on base now, if the budget admits it.
	// When it does not, Grant.Next is the earliest time it may.
	Reserve(ctx context.Context, base string, lane seaflow.Lane) (budget.Grant, error)
	// Refund takes back the call recorded at at: it never reached SeaTable.
	Refund(ctx context.Context, base string, at time.Time) error
	// Next returns the earliest time a call of lane on base is admitted.
	Next(ctx context.Context, base string, lane seaflow.Lane) (time.Time, error)
	// Freeze admits no call on base, in any lane, before until.
	Freeze(ctx context.Context, base string, until time.Time) error
}
