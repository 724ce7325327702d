package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/seaflow/seaflow"
)

// ReplaySource calls fn, in order, for every stored event received at or
// after since (queue.Queue.ReplayEvents).
type ReplaySource func(ctx context.Context, since time.Time, fn func(seaflow.Event) error) error

// ReplayOptions says what a replay runs.
type ReplayOptions struct {
	// Since is how far back the replay starts.
	Since time.Duration
	// Rule, when set, keeps only the ops of that rule.
	Rule string
	// DryRun counts the ops the events would produce and queues nothing.
	DryRun bool
}

// ReplayProgress is how far a replay got.
type ReplayProgress struct {
	Events int    `json:"events"`
	Ops    int    `json:"ops"`
	Errors int    `json:"errors"`
	Done   bool   `json:"done"`
	Error  string `json:"error,omitempty"`
}

// Replay re-runs the stored events of the last opts.Since through the
// current rules, with the same loop guard as live events (seaflow's own
// echoes fire no rule, chains stop at their depth), and queues their ops
// under ids of their own ("replay/<start>/<op id>"), so they run again even
// where the original ops ran. A for_each reads its rows again (the rows
// its first run read are not replayed). progress, when set, is called every 200
// events. It returns the final progress, Done set, with Error when the
// replay stopped early.
func (r *Runner) Replay(ctx context.Context, events ReplaySource, opts ReplayOptions, progress func(ReplayProgress)) ReplayProgress {
	start := r.now()
	prefix := "replay/" + strconv.FormatInt(start.UnixNano(), 36) + "/"
	var p ReplayProgress
	err := events(ctx, start.Add(-opts.Since), func(ev seaflow.Event) error {
		if ev.Page != nil {
			// Rows a for_each read: the replayed event queues its query
			// again, which reads the rows as they are now.
			return nil
		}
		tr := Trace{EventID: ev.ID, Source: string(ev.Source), Name: ev.Name, Time: r.now()}
		ops, err := r.run(ctx, &ev, &tr)
		p.Events++
		if err != nil {
			p.Errors++
		}
		var keep []seaflow.Op
		for _, op := range ops {
			if opts.Rule == "" || op.Rule == opts.Rule {
				op.ID = prefix + op.ID
				keep = append(keep, op)
			}
		}
		p.Ops += len(keep)
		if !opts.DryRun && len(keep) > 0 {
			if err := r.pub.PublishOps(ctx, keep); err != nil {
				return fmt.Errorf("queue replayed ops: %w", err)
			}
		}
		if progress != nil && p.Events%200 == 0 {
			progress(p)
		}
		return nil
	})
	p.Done = true
	if err != nil && !errors.Is(err, ctx.Err()) {
		p.Error = err.Error()
	}
	r.log.Info().Dur("since", opts.Since).Str("rule", opts.Rule).Bool("dry_run", opts.DryRun).Int("events", p.Events).Int("ops", p.Ops).Msg("replay finished")
	return p
}
