package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/triggers"
)

// cronJobs lists the cron rules.
func cronJobs(cfg *rules.Config) []triggers.CronJob {
	var jobs []triggers.CronJob
	for _, r := range cfg.Rules {
		if r.On.Cron == "" {
			continue
		}
		jobs = append(jobs, triggers.CronJob{Rule: r.Name, Spec: r.On.Cron, Schedule: r.Schedule(), TZ: r.Location(), CatchUp: r.On.CatchUp})
	}
	return jobs
}

// cronCursor keeps each cron rule's last fired tick in the queue's state
// bucket, so a restart (or another replica) knows what already fired.
type cronCursor struct{ kv jetstream.KeyValue }

func newCronCursor(q *queue.Queue) cronCursor { return cronCursor{kv: q.State()} }

func cronKey(rule string) string { return "cron." + queue.Token(rule) }

func (c cronCursor) Last(ctx context.Context, rule string) (time.Time, bool, error) {
	e, err := c.kv.Get(ctx, cronKey(rule))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	var t time.Time
	if err := t.UnmarshalText(e.Value()); err != nil {
		return time.Time{}, false, fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	return t, true, nil
}

func (c cronCursor) Save(ctx context.Context, rule string, t time.Time) error {
	b, _ := t.UTC().MarshalText()
	if _, err := c.kv.Put(ctx, cronKey(rule), b); err != nil {
		return fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	return nil
}
