package loopguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seaflow/seaflow"
)

// DefaultMaxWritesPerHour is the breaker's cap when it is given none: a
// rule reacting to a person's edits writes one row a few times an hour; a
// loop writes it every few seconds.
const DefaultMaxWritesPerHour = 20

// Breaker caps the writes one rule makes to one row in any rolling hour,
// shared by replicas through its Store. It needs no detection: whatever
// the echo matching misses (a write SeaTable reports in a shape it does
// not know, an sql op, the guard switched off), a loop stops at the cap.
// It is safe for concurrent use.
type Breaker struct {
	store Store
	max   int
	now   func() time.Time
}

// NewBreaker returns a breaker allowing max writes per row, rule and hour
// (0 = DefaultMaxWritesPerHour); now nil = time.Now.
func NewBreaker(store Store, max int, now func() time.Time) *Breaker {
	if max <= 0 {
		max = DefaultMaxWritesPerHour
	}
	if now == nil {
		now = time.Now
	}
	return &Breaker{store: store, max: max, now: now}
}

// Max is the writes per row, rule and hour the breaker allows.
func (b *Breaker) Max() int { return b.max }

// Allow records a write of rule to row and reports whether it is within
// the cap; a write past it is not recorded (the rule is stopped for the
// row until its earlier writes age out).
func (b *Breaker) Allow(ctx context.Context, base, table, row, rule string) (bool, error) {
	key := "b." + hash(base, table, row, rule)
	for range saveAttempts {
		data, rev, err := b.store.Load(ctx, key)
		if err != nil {
			return false, fmt.Errorf("loop breaker: load: %w", err)
		}
		var times []int64
		if data != nil {
			_ = json.Unmarshal(data, &times)
		}
		now := b.now()
		from := now.Add(-time.Hour).UnixNano()
		times = slices.DeleteFunc(times, func(t int64) bool { return t <= from })
		if len(times) >= b.max {
			return false, nil
		}
		times = append(times, now.UnixNano())
		out, _ := json.Marshal(times)
		if _, err := b.store.Save(ctx, key, out, rev); err == nil {
			return true, nil
		} else if !errors.Is(err, seaflow.ErrConflict) {
			return false, fmt.Errorf("loop breaker: save: %w", err)
		}
	}
	return false, errors.New("loop breaker: too many concurrent updates")
}
