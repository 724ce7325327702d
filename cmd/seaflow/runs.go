package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/statuspage"
)

// Runs: the progress of cron ticks and for_each runs, kept in the
// seaflow_state bucket (runs/<event id>, and runs/index: the newest ids) by
// compare-and-set, so a run queued by one replica and dispatched by
// another is counted once.
const (
	runsIndexKey = "runs/index"
	// maxRuns is how many runs are kept; older ones are deleted.
	maxRuns = 20
	// runAttempts bounds one compare-and-set update.
	runAttempts = 32
)

func runKey(id string) string { return "runs/" + id }

// runs updates run records in a store.
type runs struct {
	store *queue.CASStore
	now   func() time.Time
}

// update applies f to the record of run id by compare-and-set; create says
// whether a missing record is made (else f is skipped). It reports whether
// the record was made now.
func (r runs) update(ctx context.Context, id string, create bool, f func(*statuspage.RunStatus)) (bool, error) {
	for range runAttempts {
		data, rev, err := r.store.Load(ctx, runKey(id))
		if err != nil {
			return false, err
		}
		var run statuspage.RunStatus
		if data == nil && !create {
			return false, nil
		}
		if data != nil {
			if err := json.Unmarshal(data, &run); err != nil {
				return false, fmt.Errorf("decode run %s: %w", id, err)
			}
		} else {
			run = statuspage.RunStatus{EventID: id, Started: r.now()}
		}
		f(&run)
		run.Updated = r.now()
		out, err := json.Marshal(run)
		if err != nil {
			return false, fmt.Errorf("encode run %s: %w", id, err)
		}
		if _, err := r.store.Save(ctx, runKey(id), out, rev); err == nil {
			return data == nil, nil
		} else if !errors.Is(err, seaflow.ErrConflict) {
			return false, err
		}
	}
	return false, fmt.Errorf("update run %s: %w %d times", id, seaflow.ErrConflict, runAttempts)
}

// index adds id to the newest runs and deletes the records that fall out.
func (r runs) index(ctx context.Context, id string) error {
	for range runAttempts {
		data, rev, err := r.store.Load(ctx, runsIndexKey)
		if err != nil {
			return err
		}
		var ids []string
		if data != nil {
			if err := json.Unmarshal(data, &ids); err != nil {
				return fmt.Errorf("decode runs index: %w", err)
			}
		}
		if slices.Contains(ids, id) {
			return nil
		}
		ids = append([]string{id}, ids...)
		var dropped []string
		if len(ids) > maxRuns {
			ids, dropped = ids[:maxRuns], ids[maxRuns:]
		}
		out, _ := json.Marshal(ids)
		if _, err := r.store.Save(ctx, runsIndexKey, out, rev); err != nil {
			if errors.Is(err, seaflow.ErrConflict) {
				continue
			}
			return err
		}
		for _, d := range dropped {
			if err := r.store.Delete(ctx, runKey(d)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("update runs index: %w %d times", seaflow.ErrConflict, runAttempts)
}

// list returns the newest runs, newest first.
func (r runs) list(ctx context.Context) ([]statuspage.RunStatus, error) {
	data, _, err := r.store.Load(ctx, runsIndexKey)
	if err != nil || data == nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(data, &ids); err != nil {
		return nil, fmt.Errorf("decode runs index: %w", err)
	}
	out := make([]statuspage.RunStatus, 0, len(ids))
	for _, id := range ids {
		d, _, err := r.store.Load(ctx, runKey(id))
		if err != nil {
			return out, err
		}
		if d == nil {
			continue
		}
		var run statuspage.RunStatus
		if err := json.Unmarshal(d, &run); err != nil {
			return out, fmt.Errorf("decode run %s: %w", id, err)
		}
		out = append(out, run)
	}
	return out, nil
}

// isRun reports whether ops start a run: a for_each's query or bulk work.
// Cron ticks are runs too (recorder.trace marks them).
func isRun(op seaflow.Op) bool { return op.Kind == seaflow.KindQuery || op.Lane == seaflow.Bulk }
