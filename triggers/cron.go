package triggers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// MaxCatchUp bounds how many missed ticks of one job a catch-up fires after
// downtime. When more were missed, the most recent MaxCatchUp fire, oldest
// first, and the older ones are skipped with a warning.
const MaxCatchUp = 100

// Retry pacing when the Sink refuses a tick: the wait doubles from
// cronRetryMin up to cronRetryMax, and the tick is retried until it is stored.
const (
	cronRetryMin = time.Second
	cronRetryMax = time.Minute
)

// Schedule gives the ticks of a cron job: *rules.Schedule, parsed once
// when the config is loaded.
type Schedule interface {
	// Next returns the first tick strictly after t, or the zero time when
	// there is none.
	Next(t time.Time) time.Time
}

// CronJob is one rule with a cron trigger.
type CronJob struct {
	// Rule is the rule name; it names the event and keys the Cursor.
	Rule string
	// Spec is the cron spec as written, for logs and to tell a changed job
	// on reload; Schedule is what it parsed to.
	Spec     string
	Schedule Schedule
	// TZ is the zone the spec is read in; nil means UTC.
	TZ *time.Location
	// CatchUp fires ticks missed while seaflow was down (at most MaxCatchUp);
	// without it, missed ticks are skipped and the next one after now fires.
	CatchUp bool
}

// Cron fires cron jobs into a Sink. Each tick is written as
// CronEvent(rule, scheduled time), whose id is the rule name and the
// scheduled time in UTC, so replicas firing the same tick write the same id
// and the EVENTS stream keeps one. After the write the tick is saved in the
// Cursor. A tick the Sink refuses is retried with growing waits (1s doubling
// to 1m) until it is stored; the other jobs keep their schedule meanwhile.
// One loop fires all jobs, earliest tick first.
type Cron struct {
	sink   Sink
	cursor Cursor
	clock  seaflow.Clock
	log    zerolog.Logger

	mu      sync.Mutex
	pending []cronJob // set by Update, taken by Run
	changed chan struct{}
}

// cronJob is a checked CronJob.
type cronJob struct {
	CronJob
}

// cronEntry is a job's state inside Run.
type cronEntry struct {
	cronJob
	backlog  []time.Time // missed ticks to fire first, oldest first
	next     time.Time   // the upcoming tick; zero when the schedule has none
	retryAt  time.Time   // non-zero after a failed write
	failures int
}

// NewCron returns a Cron that fires jobs once Run is called. It returns an
// error naming the rule when a job has no schedule or a rule appears twice
// (the config load has checked both already).
func NewCron(jobs []CronJob, sink Sink, cursor Cursor, clock seaflow.Clock, log zerolog.Logger) (*Cron, error) {
	parsed, err := parseCronJobs(jobs)
	if err != nil {
		return nil, err
	}
	return &Cron{
		sink:    sink,
		cursor:  cursor,
		clock:   clock,
		log:     log,
		pending: parsed,
		changed: make(chan struct{}, 1),
	}, nil
}

func parseCronJobs(jobs []CronJob) ([]cronJob, error) {
	out := make([]cronJob, 0, len(jobs))
	seen := make(map[string]bool, len(jobs))
	var errs []error
	for _, j := range jobs {
		if j.Rule == "" {
			errs = append(errs, fmt.Errorf("cron job with spec %q: empty rule name", j.Spec))
			continue
		}
		if seen[j.Rule] {
			errs = append(errs, fmt.Errorf("cron rule %q: listed twice", j.Rule))
			continue
		}
		seen[j.Rule] = true
		if j.Schedule == nil {
			errs = append(errs, fmt.Errorf("cron rule %q: no schedule", j.Rule))
			continue
		}
		if j.TZ == nil {
			j.TZ = time.UTC
		}
		out = append(out, cronJob{CronJob: j})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Update replaces the jobs (a reload). It applies all or nothing: on an
// error the running jobs are kept. A job whose rule, spec, zone and catch-up
// are unchanged keeps its schedule position; a new or changed one starts as
// on startup (from its Cursor). Update is safe to call while Run runs.
func (c *Cron) Update(jobs []CronJob) error {
	parsed, err := parseCronJobs(jobs)
	if err != nil {
		return fmt.Errorf("update cron jobs: %w", err)
	}
	c.mu.Lock()
	c.pending = parsed
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return nil
}

// Run fires due ticks until ctx is cancelled, then returns nil. Call it
// once; Update may be called at any time. On start,
// each job with a Cursor value and CatchUp fires the ticks missed since then
// (at most MaxCatchUp, in order); other jobs start at the next tick after now.
// Run returns an error only when a Cursor read fails on start.
func (c *Cron) Run(ctx context.Context) error {
	c.mu.Lock()
	jobs := c.pending
	c.mu.Unlock()
	// Drop a notification that predates this snapshot.
	select {
	case <-c.changed:
	default:
	}
	entries, err := c.apply(ctx, nil, jobs)
	if err != nil {
		return err
	}
	for {
		now := c.clock.Now()
		due, ok := earliest(entries)
		if ok && !due.After(now) {
			c.fireDue(ctx, entries, now)
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		var wake <-chan time.Time
		if ok {
			wake = c.clock.After(due.Sub(now))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.changed:
			c.mu.Lock()
			jobs := c.pending
			c.mu.Unlock()
			next, err := c.apply(ctx, entries, jobs)
			if err != nil {
				// Keep the running jobs; the next Update retries.
				c.log.Error().Err(err).Msg("cron reload")
				continue
			}
			entries = next
		case <-wake:
		}
	}
}

// apply builds the entries for jobs, keeping the state of unchanged ones.
func (c *Cron) apply(ctx context.Context, old []*cronEntry, jobs []cronJob) ([]*cronEntry, error) {
	byRule := make(map[string]*cronEntry, len(old))
	for _, e := range old {
		byRule[e.Rule] = e
	}
	now := c.clock.Now()
	out := make([]*cronEntry, 0, len(jobs))
	for _, j := range jobs {
		if e, ok := byRule[j.Rule]; ok && e.Spec == j.Spec && e.TZ.String() == j.TZ.String() && e.CatchUp == j.CatchUp {
			out = append(out, e)
			continue
		}
		e, err := c.start(ctx, j, now)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// start positions a job: after its cursor when it catches up, else after now.
func (c *Cron) start(ctx context.Context, j cronJob, now time.Time) (*cronEntry, error) {
	e := &cronEntry{cronJob: j}
	last, ok, err := c.cursor.Last(ctx, j.Rule)
	if err != nil {
		return nil, fmt.Errorf("read cron cursor of %q: %w", j.Rule, err)
	}
	if !ok || !j.CatchUp {
		e.next = j.Schedule.Next(now.Add(-time.Nanosecond)) // a tick at now is due now
		c.log.Debug().Str("rule", j.Rule).Time("next", e.next).Msg("cron job scheduled")
		return e, nil
	}
	ring, truncated := missedTicks(j.Schedule, last, now)
	e.backlog = ring
	e.next = j.Schedule.Next(later(now, last))
	if truncated {
		c.log.Warn().Str("rule", j.Rule).Time("since", last).Int("firing", len(ring)).
			Msg("cron catch-up bounded; older missed ticks skipped")
	}
	if len(ring) > 0 {
		c.log.Info().Str("rule", j.Rule).Int("ticks", len(ring)).Time("since", last).Msg("cron catching up")
	}
	return e, nil
}

// missedTicks returns the newest MaxCatchUp ticks in (last, now], oldest
// first; truncated is true when older ones were left out. It looks back over
// a growing window so that its work is bounded by the ticks it returns, not
// by the length of the downtime.
func missedTicks(s Schedule, last, now time.Time) (ticks []time.Time, truncated bool) {
	for span := time.Hour; ; span *= 4 {
		from, clipped := now.Add(-span), true
		if !from.After(last) || span > 100*365*24*time.Hour {
			from, clipped = last, false
		}
		ticks = ticks[:0]
		overflow := false
		for t := s.Next(from); !t.IsZero() && !t.After(now); t = s.Next(t) {
			if len(ticks) == MaxCatchUp {
				ticks = append(ticks[:0], ticks[1:]...)
				overflow = true
			}
			ticks = append(ticks, t)
		}
		if !clipped {
			return ticks, overflow
		}
		if len(ticks) == MaxCatchUp {
			// Enough in the window; anything before it is skipped.
			return ticks, true
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// due returns when the entry next needs attention; ok is false when never.
func (e *cronEntry) due() (time.Time, bool) {
	if !e.retryAt.IsZero() {
		return e.retryAt, true
	}
	if len(e.backlog) > 0 {
		return e.backlog[0], true
	}
	return e.next, !e.next.IsZero()
}

// tick returns the scheduled time the entry fires next.
func (e *cronEntry) tick() time.Time {
	if len(e.backlog) > 0 {
		return e.backlog[0]
	}
	return e.next
}

func earliest(entries []*cronEntry) (time.Time, bool) {
	var best time.Time
	found := false
	for _, e := range entries {
		if d, ok := e.due(); ok && (!found || d.Before(best)) {
			best, found = d, true
		}
	}
	return best, found
}

// fireDue fires every entry that is due at now, earliest tick first.
func (c *Cron) fireDue(ctx context.Context, entries []*cronEntry, now time.Time) {
	for {
		var pick *cronEntry
		for _, e := range entries {
			d, ok := e.due()
			if !ok || d.After(now) {
				continue
			}
			if pick == nil || e.tick().Before(pick.tick()) {
				pick = e
			}
		}
		if pick == nil || ctx.Err() != nil {
			return
		}
		c.fire(ctx, pick, now)
	}
}

// cronCursorSaveTimeout bounds the save of a fired tick's cursor.
const cronCursorSaveTimeout = 10 * time.Second

// fire writes the entry's pending tick and advances it, or schedules a retry.
func (c *Cron) fire(ctx context.Context, e *cronEntry, now time.Time) {
	scheduled := e.tick()
	ev := CronEvent(e.Rule, scheduled)
	if _, err := c.sink.Accept(ctx, ev); err != nil {
		if ctx.Err() != nil {
			return
		}
		e.failures++
		wait := cronRetryMin << min(e.failures-1, 6)
		wait = min(wait, cronRetryMax)
		e.retryAt = now.Add(wait)
		c.log.Error().Err(err).Str("rule", e.Rule).Str("event_id", ev.ID).Dur("retry_in", wait).Msg("cron tick not stored")
		return
	}
	e.failures = 0
	e.retryAt = time.Time{}
	c.log.Info().Str("rule", e.Rule).Str("event_id", ev.ID).Msg("cron tick fired")
	// The event is stored: its cursor is saved even when the trigger is
	// stopping meanwhile (bounded), so a restart does not fire it again.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cronCursorSaveTimeout)
	defer cancel()
	if err := c.cursor.Save(sctx, e.Rule, scheduled); err != nil {
		// A restart may fire it again, and the stream drops the
		// duplicate by id.
		c.log.Error().Err(err).Str("rule", e.Rule).Msg("save cron cursor")
	}
	if len(e.backlog) > 0 {
		e.backlog = e.backlog[1:]
		return
	}
	e.next = e.Schedule.Next(scheduled)
	if !e.CatchUp && !e.next.IsZero() && e.next.Before(now) {
		// Late (a long retry or a stalled process): skip the missed ticks.
		e.next = e.Schedule.Next(now.Add(-time.Nanosecond))
	}
}
