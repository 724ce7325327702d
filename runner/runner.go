// Package runner turns events into ops: it matches each event against the
// current rule set, evaluates the rules' expressions, and publishes one op
// per row action to the OPS work queue. A for_each becomes a query op, and
// the rows it reads come back as page events (pages.go). The
// event is acknowledged only after its ops are durably queued, so a crash
// anywhere replays the event instead of losing it; op ids are derived from
// the event id, so a replay does not queue an op twice.
package runner

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
)

// DefaultMaxDepth is how many rule-caused writes may follow each other
// before the loop guard stops the chain.
const DefaultMaxDepth = 5

// Guard decides whether an event reports seaflow's own write
// (*loopguard.Guard): it sets ev.Self, ev.Depth and ev.SelfColumns, the
// same way every time it sees the same event. It must be safe for
// concurrent use.
type Guard interface {
	Match(ctx context.Context, ev *seaflow.Event) error
}

// Breaker admits a write of a rule to a row, or stops a loop
// (*loopguard.Breaker). It must be safe for concurrent use.
type Breaker interface {
	Allow(ctx context.Context, base, table, row, rule string) (bool, error)
}

// Publisher queues ops durably. PublishOps returns only after every op is
// stored. It must be safe for concurrent use.
type Publisher interface {
	PublishOps(ctx context.Context, ops []seaflow.Op) error
}

// Config configures a Runner.
type Config struct {
	Rules     *rules.RuleSet
	Publisher Publisher
	// Guard marks webhook events that report seaflow's own writes as
	// event.self, with their depth (*loopguard.Guard); nil = no marking.
	Guard Guard
	// Breaker caps the writes a rule makes to one row in an hour
	// (*loopguard.Breaker), for the ops of SeaTable webhook events; nil =
	// no cap.
	Breaker Breaker
	// OnBreak, when set, is called when the breaker stops a rule for a row
	// (metrics hook). It must be safe for concurrent use.
	OnBreak func(base, rule string)
	// Traces records a trace per event; nil = none kept.
	Traces *Traces
	// OnTrace, when set, receives every event's trace (metrics hook). It
	// must be safe for concurrent use.
	OnTrace func(Trace)
	// MaxDepth stops rule chains; 0 = DefaultMaxDepth.
	MaxDepth int
	Now      func() time.Time
	Logger   zerolog.Logger
}

// Runner handles events. Handle is safe for concurrent use; Swap replaces
// the rule set atomically (a reload).
type Runner struct {
	rules   atomic.Pointer[rules.RuleSet]
	pub     Publisher
	guard   Guard
	breaker Breaker
	onBreak func(base, rule string)
	// breakWarned keeps the breaker's warning to one per rule and row an hour.
	breakWarned breakWarnings
	traces      *Traces
	onTrace     func(Trace)
	maxDepth    int
	now         func() time.Time
	log         zerolog.Logger
}

// New returns a Runner.
func New(cfg Config) *Runner {
	r := &Runner{
		pub:      cfg.Publisher,
		guard:    cfg.Guard,
		breaker:  cfg.Breaker,
		onBreak:  cfg.OnBreak,
		traces:   cfg.Traces,
		onTrace:  cfg.OnTrace,
		maxDepth: cfg.MaxDepth,
		now:      cfg.Now,
		log:      cfg.Logger,
	}
	if r.maxDepth <= 0 {
		r.maxDepth = DefaultMaxDepth
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.rules.Store(cfg.Rules)
	return r
}

// Swap installs a new rule set; events handled after it returns use it.
func (r *Runner) Swap(rs *rules.RuleSet) { r.rules.Store(rs) }

// Handle turns one event into queued ops. It returns an error only when the
// ops could not be queued, so that the event is redelivered; an expression
// that fails for this event is recorded in the trace and logged, and the
// other rules still run. It never waits for a SeaTable call: a for_each is
// queued as a query op.
func (r *Runner) Handle(ctx context.Context, ev seaflow.Event) error {
	start := r.now()
	tr := Trace{EventID: ev.ID, Source: string(ev.Source), Name: ev.Name, Time: start, Base: ev.Base, Table: ev.Table, RowID: ev.RowID,
		Redelivered: ev.Redelivered}
	ops, err := r.run(ctx, &ev, &tr)
	if ev.Redelivered {
		// Its ops may be queued or sent already, and the queue's duplicate
		// window may have passed: let appends check before adding.
		for i := range ops {
			ops[i].Replay = true
		}
	}
	if err == nil && len(ops) > 0 {
		if err = r.pub.PublishOps(ctx, ops); err != nil {
			err = fmt.Errorf("queue ops of event %s: %w", ev.ID, err)
		}
	}
	if err != nil {
		tr.Error = err.Error()
	}
	tr.Took = r.now().Sub(start)
	if r.traces != nil {
		r.traces.Add(tr)
	}
	if r.onTrace != nil {
		r.onTrace(tr)
	}
	return err
}

// run applies the loop guard to ev, evaluates the rules, and stops the
// ops the breaker refuses. An error of the guard or the breaker (their
// store is down) fails the event, so it is redelivered.
func (r *Runner) run(ctx context.Context, ev *seaflow.Event, tr *Trace) ([]seaflow.Op, error) {
	if ev.Error != "" {
		tr.Error = ev.Error
		return nil, nil
	}
	if r.guard != nil {
		if err := r.guard.Match(ctx, ev); err != nil {
			return nil, fmt.Errorf("loop guard: %w", err)
		}
	}
	tr.Self = ev.Self
	ops, err := r.evaluate(ctx, ev, tr)
	if err != nil || r.breaker == nil || ev.Source != seaflow.SourceWebhook || ev.Base == "" {
		return ops, err
	}
	kept := ops[:0]
	for _, op := range ops {
		if op.RowID == "" || op.Kind == seaflow.KindSQL {
			kept = append(kept, op)
			continue
		}
		ok, err := r.breaker.Allow(ctx, op.Base, op.Table, op.RowID, op.Rule)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, op)
			continue
		}
		tr.stop(op.Rule, fmt.Sprintf("loop breaker: rule %q wrote row %s of %s too often in the last hour; its writes to the row are dropped until earlier ones age out", op.Rule, op.RowID, op.Table))
		if r.breakWarned.due(op.Rule+"\x00"+op.Base+"\x00"+op.Table+"\x00"+op.RowID, r.now()) {
			r.log.Warn().Str("rule", op.Rule).Str("base", op.Base).Str("table", op.Table).Str("row", op.RowID).Str("event", ev.ID).
				Msg("loop breaker stopped rule for a row; its further stops there within the hour are traced and counted, not logged")
		}
		if r.onBreak != nil {
			r.onBreak(op.Base, op.Rule)
		}
	}
	return kept, nil
}

// Evaluate runs the rules on one event without queuing anything: the ops
// the event would produce, and its trace. Dry runs and replays use it.
func (r *Runner) Evaluate(ctx context.Context, ev seaflow.Event) ([]seaflow.Op, Trace, error) {
	tr := Trace{EventID: ev.ID, Source: string(ev.Source), Name: ev.Name, Time: r.now(), Base: ev.Base, Table: ev.Table, RowID: ev.RowID}
	ops, err := r.evaluate(ctx, &ev, &tr)
	return ops, tr, err
}

func (r *Runner) evaluate(ctx context.Context, ev *seaflow.Event, tr *Trace) ([]seaflow.Op, error) {
	rs := r.rules.Load()
	if rs == nil {
		return nil, nil
	}
	if ev.Page != nil {
		return r.evaluatePage(rs, ev, tr), nil
	}
	now := r.now()
	var ops []seaflow.Op
	for _, rule := range rs.Match(ev) {
		rt := RuleTrace{Rule: rule.Name}
		limit := r.maxDepth
		if rule.MaxDepth > 0 {
			limit = rule.MaxDepth
		}
		if ev.Depth >= limit {
			rt.Stopped = fmt.Sprintf("loop guard: chain depth %d reached the limit %d", ev.Depth, limit)
			r.log.Warn().Str("rule", rule.Name).Str("event", ev.ID).Int("depth", ev.Depth).Msg("loop guard stopped rule")
			tr.Rules = append(tr.Rules, rt)
			continue
		}
		ruleOps, when, err := r.evaluateRule(rule, ev, now)
		rt.When, rt.Ops = when, len(ruleOps)
		if err != nil {
			rt.Error = err.Error()
			r.log.Warn().Err(err).Str("rule", rule.Name).Str("event", ev.ID).Msg("rule evaluation failed for event")
		}
		ops = append(ops, ruleOps...)
		tr.Rules = append(tr.Rules, rt)
	}
	return ops, nil
}

// evaluateRule returns the ops of one rule for ev: its actions, or for a
// for_each the query op that reads the rows.
func (r *Runner) evaluateRule(rule *rules.Rule, ev *seaflow.Event, now time.Time) ([]seaflow.Op, bool, error) {
	fe := rule.ForEach()
	if fe == nil {
		out, err := rule.Evaluate(ev, nil, now)
		return out.Ops, out.When, err
	}
	params, err := fe.Params(ev)
	if err != nil {
		return nil, false, fmt.Errorf("rule %q: for_each params: %w", rule.Name, err)
	}
	return []seaflow.Op{QueryOp(rule, ev, params, now)}, true, nil
}
