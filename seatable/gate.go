package seatable

import "context"

// Gate admits the HTTP requests a Client sends: the client asks it before
// every request that can reach SeaTable (each API gateway call, each retry
// after a 401 or 403, each token exchange), and sends the request only
// once it answers nil. An error is returned unchanged to the caller, with
// nothing sent. refund, when not nil, is called when the request turned
// out never to reach SeaTable (no connection, a request not written
// whole), so that what SeaTable never saw costs nothing.
//
// A Gate may wait (for a budget's next slot), and must return when ctx
// ends. It must be safe for concurrent use.
type Gate func(ctx context.Context, r GateRequest) (refund func(), err error)

// GateRequest describes a request a Gate is asked to admit.
type GateRequest struct {
	// Op is the client operation, e.g. "update rows" or "token exchange".
	Op string
	// Exchange marks the token exchange, which SeaTable limits apart from
	// the base's API calls (Cloud: 60 a minute).
	Exchange bool
	// Retry marks the second try of a call after a 401 or 403, with a
	// fresh token.
	Retry bool
}

type gateKey struct{}

// WithGate returns a context whose API gateway requests are admitted by g
// instead of Config.Gate (the token exchange always goes through
// Config.Gate: it is shared by every caller). The dispatcher uses it to
// admit each call in the lane that makes it.
func WithGate(ctx context.Context, g Gate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// admit asks the gate for r: the context's for gateway requests, else the
// client's.
func (c *Client) admit(ctx context.Context, r GateRequest) (refund func(), err error) {
	g := c.gate
	if !r.Exchange {
		if cg, ok := ctx.Value(gateKey{}).(Gate); ok && cg != nil {
			g = cg
		}
	}
	if g == nil {
		return nil, nil
	}
	return g(ctx, r)
}
