package main

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/history"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/statuspage"
)

// historyWriteTimeout bounds one write to the history: it is
// observability, so a slow store delays work at most this long.
const historyWriteTimeout = 5 * time.Second

// maxPendingTargets bounds the events whose targets wait for their trace.
const maxPendingTargets = 10000

// recorder writes the event history: each event's record (from its trace
// and the ops it queued) and each op's fate (queued, written, dead). A
// failed write is logged, never returned: the history must not stop work.
type recorder struct {
	q   *queue.Queue
	log zerolog.Logger
	now func() time.Time

	// runs counts the progress of cron ticks and for_each runs.
	runs runs

	mu      sync.Mutex
	targets map[string][]history.Target // event id → targets, until its trace
	// uncounted holds, until its trace, the ops of an event that were not
	// counted in a run (a cron tick is one, known from its trace).
	uncounted map[string]runOps
}

// runOps are ops of one event for its run's counts.
type runOps struct {
	n          int
	base, lane string
	rule       string
}

func newRecorder(q *queue.Queue, log zerolog.Logger, now func() time.Time) *recorder {
	return &recorder{q: q, log: log, now: now, targets: map[string][]history.Target{}, uncounted: map[string]runOps{},
		runs: runs{store: q.SpendStore(), now: now}}
}

// countRun adds to run id (making it when create) and reports whether it
// was counted.
func (r *recorder) countRun(id string, create bool, f func(*statuspage.RunStatus)) bool {
	ctx, cancel := context.WithTimeout(context.Background(), historyWriteTimeout)
	defer cancel()
	made, err := r.runs.update(ctx, id, create, f)
	if err != nil {
		r.log.Warn().Err(err).Str("event", id).Msg("runs: progress not counted")
		return false
	}
	if made {
		if err := r.runs.index(ctx, id); err != nil {
			r.log.Warn().Err(err).Str("event", id).Msg("runs: index not updated")
		}
	}
	return true
}

// queuedRuns counts ops queued in their events' runs: a for_each's query
// or bulk ops make one; other ops count in a run that exists, or wait for
// their trace (a cron tick's).
func (r *recorder) queuedRuns(ops []seaflow.Op) {
	type group struct {
		runOps
		start bool
	}
	groups := map[string]*group{}
	var order []string
	for _, op := range ops {
		g := groups[op.EventID]
		if g == nil {
			g = &group{runOps: runOps{base: op.Base, lane: string(op.Lane), rule: op.Rule}}
			groups[op.EventID] = g
			order = append(order, op.EventID)
		}
		g.start = g.start || isRun(op)
		if op.Kind != seaflow.KindQuery {
			g.n++
		}
	}
	for _, id := range order {
		g := groups[id]
		counted := r.countRun(id, g.start, func(run *statuspage.RunStatus) {
			if run.Name == "" {
				run.Name, run.Base, run.Lane = g.rule, g.base, g.lane
			}
			run.Queued += g.n
		})
		if !counted {
			r.mu.Lock()
			u := r.uncounted[id]
			if u.n == 0 {
				u = g.runOps
			} else {
				u.n += g.n
			}
			r.uncounted[id] = u
			r.mu.Unlock()
		}
	}
}

// fate is op's fate in its history form.
func fate(op seaflow.Op, f string, at time.Time) history.Fate {
	return history.Fate{OpID: op.ID, EventID: op.EventID, Rule: op.Rule, Kind: string(op.Kind), Base: op.Base, Table: op.Table,
		RowID: op.RowID, Lane: string(op.Lane), Values: op.Values, SQL: op.Statement, Fate: f, At: at}
}

func (r *recorder) write(fates []history.Fate) {
	if len(fates) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyWriteTimeout)
	defer cancel()
	if err := r.q.RecordFates(ctx, fates); err != nil {
		r.log.Warn().Err(err).Int("ops", len(fates)).Msg("history: op fates not recorded")
	}
}

// queued records ops as queued, before they are published (so a fate the
// dispatcher records cannot be overwritten by it), and keeps their
// targets for their events' records.
func (r *recorder) queued(ops []seaflow.Op) {
	now := r.now()
	fates := make([]history.Fate, 0, len(ops))
	r.mu.Lock()
	if len(r.targets) > maxPendingTargets {
		// Ops published for events whose trace never comes (a replay):
		// forget them rather than grow.
		clear(r.targets)
	}
	if len(r.uncounted) > maxPendingTargets {
		clear(r.uncounted)
	}
	for _, op := range ops {
		fates = append(fates, fate(op, history.FateQueued, now))
		e := history.Event{Targets: r.targets[op.EventID]}
		e.AddTarget(history.Target{Base: op.Base, Table: op.Table, RowID: op.RowID})
		r.targets[op.EventID] = e.Targets
	}
	r.mu.Unlock()
	r.write(fates)
	r.queuedRuns(ops)
}

// trace records an event's record from its trace.
func (r *recorder) trace(tr runner.Trace) {
	r.mu.Lock()
	targets := r.targets[tr.EventID]
	delete(r.targets, tr.EventID)
	u, uok := r.uncounted[tr.EventID]
	delete(r.uncounted, tr.EventID)
	r.mu.Unlock()
	if uok && tr.Source == string(seaflow.SourceCron) {
		r.countRun(tr.EventID, true, func(run *statuspage.RunStatus) {
			if run.Name == "" {
				run.Name, run.Base, run.Lane = u.rule, u.base, u.lane
			}
			run.Queued += u.n
		})
	}
	e := history.Event{EventID: tr.EventID, Source: tr.Source, Name: tr.Name, Time: tr.Time, Base: tr.Base, Table: tr.Table, RowID: tr.RowID,
		Self: tr.Self, Error: tr.Error, Took: tr.Took, Targets: targets, Rules: make([]history.Rule, 0, len(tr.Rules))}
	for _, rt := range tr.Rules {
		e.Rules = append(e.Rules, history.Rule{Rule: rt.Rule, When: rt.When, Ops: rt.Ops, Error: rt.Error, Stopped: rt.Stopped})
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyWriteTimeout)
	defer cancel()
	record := r.q.RecordEvent
	if tr.Redelivered {
		record = r.q.ReplaceEvent
	}
	if err := record(ctx, e); err != nil {
		r.log.Warn().Err(err).Str("event", tr.EventID).Msg("history: event not recorded")
	}
}

// outcome records what became of a batch's ops: written by which call, or
// dead with the reason. Ops still pending keep their last fate.
func (r *recorder) outcome(ops []seaflow.Op, out actions.Outcome) {
	now := r.now()
	fates := make([]history.Fate, 0, len(out.Done)+len(out.Dead))
	for _, i := range out.Done {
		f := fate(ops[i], history.FateWritten, now)
		if s, ok := out.Sent[i]; ok {
			f.Call, f.CallRows = s.Call, s.Rows
		}
		fates = append(fates, f)
	}
	for _, d := range out.Dead {
		f := fate(ops[d.Index], history.FateDead, now)
		f.Reason = d.Reason
		fates = append(fates, f)
	}
	r.write(fates)
	// The runs: done and dead by event.
	type counts struct{ done, dead int }
	by := map[string]*counts{}
	add := func(i int, dead bool) {
		op := ops[i]
		if op.Kind == seaflow.KindQuery {
			return
		}
		c := by[op.EventID]
		if c == nil {
			c = &counts{}
			by[op.EventID] = c
		}
		if dead {
			c.dead++
		} else {
			c.done++
		}
	}
	for _, i := range out.Done {
		add(i, false)
	}
	for _, d := range out.Dead {
		add(d.Index, true)
	}
	for id, c := range by {
		r.countRun(id, false, func(run *statuspage.RunStatus) { run.Done += c.done; run.Dead += c.dead })
	}
}

// historyPublisher records ops as queued, then publishes them.
type historyPublisher struct {
	rec  *recorder
	next runner.Publisher
}

// PublishOps records the ops' fates, then publishes them (runner.Publisher).
func (p historyPublisher) PublishOps(ctx context.Context, ops []seaflow.Op) error {
	p.rec.queued(ops)
	return p.next.PublishOps(ctx, ops)
}
