package triggers

import (
	"context"
	"sync"
	"time"
)

// Cursor remembers, per cron rule, the scheduled time of the last tick that
// fired (was stored). Cron reads it on start to catch up missed ticks and
// saves it after each stored tick. The daemon
// backs it with the queue's KV bucket so it survives restarts and is shared
// by replicas. Implementations must be safe for concurrent use.
type Cursor interface {
	// Last returns the saved time for rule; ok is false when there is none.
	Last(ctx context.Context, rule string) (t time.Time, ok bool, err error)
	// Save records t as the last fired tick of rule.
	Save(ctx context.Context, rule string, t time.Time) error
}

// MemCursor is a Cursor held in memory (tests, dry runs). The zero value is
// ready to use.
type MemCursor struct {
	mu sync.Mutex
	m  map[string]time.Time
}

var _ Cursor = (*MemCursor)(nil)

// Last returns the saved time for rule.
func (c *MemCursor) Last(_ context.Context, rule string) (time.Time, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[rule]
	return t, ok, nil
}

// Save records t for rule. It never moves a rule's cursor backwards, so
// replicas racing on one tick keep the latest; a shared Cursor should do the
// same (compare-and-set).
func (c *MemCursor) Save(_ context.Context, rule string, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]time.Time)
	}
	if old, ok := c.m[rule]; ok && old.After(t) {
		return nil
	}
	c.m[rule] = t
	return nil
}
