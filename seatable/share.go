package seatable

import "context"

// Share is the part of a call attributed to one rule: the rule's ops over
// all the ops the call carried (Part is in (0, 1]; a call's shares sum to 1).
// Rule is empty for ops of no rule (a replay of hand-made ops).
type Share struct {
	Rule string
	Part float64
}

type sharesKey struct{}

// WithShares returns a context whose calls are attributed to shares: the
// client reports them in Call.Shares of every request made with it (the
// retry after a 401 and a token exchange on its behalf too). The
// dispatcher sets them from the ops of each call.
func WithShares(ctx context.Context, shares []Share) context.Context {
	return context.WithValue(ctx, sharesKey{}, shares)
}

// SharesFrom returns the shares of ctx; nil when none were set (a call
// made for no rule: metadata outside a batch, the catch-up poll, set-up).
func SharesFrom(ctx context.Context) []Share {
	s, _ := ctx.Value(sharesKey{}).([]Share)
	return s
}
