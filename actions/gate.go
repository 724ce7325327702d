package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/seatable"
)

// exchangeSuffix ends the budget key of a base's token exchanges.
const exchangeSuffix = "/exchange"

// ExchangeKey is the budget key of base's token exchanges: SeaTable limits
// them apart from the base's API calls (Cloud: 60 a minute), so they have
// a budget of their own. Base names never hold a "/".
func ExchangeKey(base string) string { return base + exchangeSuffix }

// ExchangeBase reports whether key is an ExchangeKey, and of which base.
func ExchangeBase(key string) (base string, ok bool) {
	return strings.CutSuffix(key, exchangeSuffix)
}

// DefaultGateWait is the longest ClientGate waits for a slot.
const DefaultGateWait = 2 * time.Minute

// ClientGate returns the seatable.Gate a base's client is built with, so
// that no request reaches SeaTable unadmitted. A token exchange waits for
// a call of the exchange budget (ExchangeKey(base)); any other request
// reaching it, one made outside a dispatcher call (which brings a gate of
// its own), waits for a call of lane normal in the base's budget. A
// request whose slot is further off than maxWait (0: DefaultGateWait) is
// refused, unsent, so a caller that cannot be cancelled (the exchange is
// shared) never hangs. A request that never reached SeaTable is refunded.
func ClientGate(b Budget, base string, clock seaflow.Clock, maxWait time.Duration) seatable.Gate {
	return LaneGate(b, base, seaflow.Normal, clock, maxWait)
}

// LaneGate is ClientGate with API calls admitted in lane.
func LaneGate(b Budget, base string, lane seaflow.Lane, clock seaflow.Clock, maxWait time.Duration) seatable.Gate {
	if maxWait <= 0 {
		maxWait = DefaultGateWait
	}
	return func(ctx context.Context, r seatable.GateRequest) (func(), error) {
		key, lane := base, lane
		if r.Exchange {
			key, lane = ExchangeKey(base), seaflow.Urgent
		}
		deadline := clock.Now().Add(maxWait)
		for {
			g, err := b.Reserve(ctx, key, lane)
			if err != nil {
				return nil, &seatable.Error{Kind: seatable.KindTransient, Op: r.Op, Message: "budget: " + err.Error(), Err: err, Unsent: true}
			}
			if g.OK {
				return func() {
					// Best effort: a refund that fails leaves the budget
					// stricter than it need be, never looser.
					_ = b.Refund(context.WithoutCancel(ctx), key, g.At)
				}, nil
			}
			if g.Next.After(deadline) {
				return nil, &seatable.Error{Kind: seatable.KindTransient, Op: r.Op, Unsent: true,
					Message: fmt.Sprintf("budget %s has no call before %s", key, g.Next.Format(time.RFC3339))}
			}
			select {
			case <-ctx.Done():
				return nil, &seatable.Error{Kind: seatable.KindTransient, Op: r.Op, Message: ctx.Err().Error(), Err: ctx.Err(), Unsent: true}
			case <-clock.After(max(g.Next.Sub(clock.Now()), time.Millisecond)):
			}
		}
	}
}

// GateLimits returns the budget limits for key: those of a base's token
// exchange for an ExchangeKey, else the base's own.
func GateLimits(key string, base, exchange func(string) budget.Limits) budget.Limits {
	if b, ok := ExchangeBase(key); ok {
		return exchange(b)
	}
	return base(key)
}
