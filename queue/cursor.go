package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CronCursor keeps each cron rule's last fired tick in the state bucket,
// so a restart, or another replica, knows what already fired. It is the
// triggers.Cursor of the daemon.
type CronCursor struct{ kv jetstream.KeyValue }

// CronCursor returns the cron cursor of the queue's state bucket.
func (q *Queue) CronCursor() CronCursor { return CronCursor{kv: q.stateKV} }

func cronKey(rule string) string { return "cron." + Token(rule) }

// Last returns the saved tick of rule; ok is false when there is none.
func (c CronCursor) Last(ctx context.Context, rule string) (time.Time, bool, error) {
	e, err := c.kv.Get(ctx, cronKey(rule))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	t, err := decodeTick(e.Value())
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	return t, true, nil
}

// Save records t as rule's last fired tick by compare-and-set, and never
// moves the cursor back: when another replica saved a later tick first,
// that one stays. Replicas racing on one tick both succeed.
func (c CronCursor) Save(ctx context.Context, rule string, t time.Time) error {
	key := cronKey(rule)
	val, _ := t.UTC().MarshalText()
	for attempt := 0; attempt < 16; attempt++ {
		e, err := c.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err := c.kv.Create(ctx, key, val); err == nil {
				return nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("cron cursor %s: %w", rule, err)
			}
			continue // another replica created it: compare with theirs
		case err != nil:
			return fmt.Errorf("cron cursor %s: %w", rule, err)
		}
		if cur, err := decodeTick(e.Value()); err == nil && !cur.Before(t) {
			return nil
		}
		if _, err := c.kv.Update(ctx, key, val, e.Revision()); err == nil {
			return nil
		} else if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("cron cursor %s: %w", rule, err)
		}
	}
	return fmt.Errorf("cron cursor %s: too many concurrent updates", rule)
}

func decodeTick(b []byte) (time.Time, error) {
	var t time.Time
	err := t.UnmarshalText(b)
	return t, err
}
