package budget

import (
	"context"
	"slices"
	"time"

	"github.com/seaflow/seaflow"
)

// clone returns a copy of s that shares nothing with it.
func (s *State) clone() *State {
	c := *s
	c.log = slices.Clone(s.log)
	c.urgent = slices.Clone(s.urgent)
	return &c
}

// Finish forecasts n more calls of lane from now by the budget's own plan:
// on a copy of s it admits them one after the other, each at the earliest
// time Admit would (the windows, the reserve, bulk pacing, and the urgent
// demand seen so far, which the adaptive reserve follows). It returns when
// the last call would be admitted and 0, or, when they do not all fit
// before horizon, the zero Time and how many would be left then. s is not
// changed.
func (s *State) Finish(l Limits, lane seaflow.Lane, n int, now, horizon time.Time) (time.Time, int) {
	c := s.clone()
	t := now
	for i := range n {
		ok, next := c.Admit(l, lane, t)
		for !ok {
			if next.IsZero() || next.Equal(Never) || next.After(horizon) {
				return time.Time{}, n - i
			}
			t = next
			ok, next = c.Admit(l, lane, t)
		}
		if i == n-1 {
			return t, 0
		}
	}
	return now, 0
}

// Finish forecasts n more calls of lane on base (State.Finish) from the
// stored state.
func (k *Keeper) Finish(ctx context.Context, base string, lane seaflow.Lane, n int, horizon time.Time) (time.Time, int, error) {
	var (
		at   time.Time
		left int
	)
	err := k.view(ctx, "forecast", base, func(s *State) {
		at, left = s.Finish(k.limits(base), lane, n, k.now(), horizon)
	})
	return at, left, err
}
