package actions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/seatable"
)

// laneLoop is the loop of one base and lane.
type laneLoop struct {
	d    *Dispatcher
	base string
	lane seaflow.Lane
	exec *Executor
	log  zerolog.Logger
	// shelf is the base's, shared by its lanes (see fill.go).
	shelf *shelf

	// held are the deliveries fetched and not yet settled, in queue order.
	held []Delivery
	// failures counts failed rounds in a row, for the backoff.
	failures int
	// frozenUntil is the end of the last freeze after a 429: the lane
	// waits for it even if the budget forgot it.
	frozenUntil time.Time
	// extendedAt is when held ops were last extended.
	extendedAt time.Time
	// asleep is set by fetch when the lane found nothing to do and ends
	// its goroutine (sleep.go): the channel it would have waited on.
	asleep <-chan struct{}
	// stopSleep cancels the call that starts the sleeping lane again; nil
	// while it runs. Guarded by the dispatcher's mu.
	stopSleep func() bool
}

func (l *laneLoop) now() time.Time { return l.d.cfg.Clock.Now() }

func (l *laneLoop) run(ctx context.Context) {
	defer l.releaseAll(context.WithoutCancel(ctx))
	for ctx.Err() == nil {
		ready, wake, err := l.ready(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.log.Error().Err(err).Msg("ask rule budget")
				l.backoff(ctx)
			}
			continue
		}
		if ready != nil {
			// Wait for the budget with the ops held, offered to the
			// base's higher lanes meanwhile, then look again.
			if l.waitForBudget(ctx) || l.topUp(ctx) {
				continue
			}
			l.dispatch(ctx, l.fill(ctx, ready))
			continue
		}
		// Nothing held may go now: reach for more work, unless the lane
		// already holds as much as it may, then wait for a rule's slot.
		if len(l.held) >= l.d.cfg.MaxHeld {
			l.sleepUntil(ctx, wake)
			continue
		}
		if len(l.held) > 0 && !l.now().Before(l.extendedAt.Add(extendEvery)) {
			l.extendAll(ctx)
		}
		l.fetch(ctx, wake)
		if l.asleep != nil {
			return
		}
	}
}

// fetch fetches a batch into held, waiting for ops no later than wake when
// that is set (a held rule's next slot). A lane that holds nothing fetches
// once the budget's next call is at most parkHold away, so that it has ops
// to offer higher lanes while it waits for that call (run parks it), and
// parks until then; one that holds ops fetches more only when the budget
// admits a call now. It reports whether it got any ops.
func (l *laneLoop) fetch(ctx context.Context, wake time.Time) bool {
	cfg := l.d.cfg
	if !l.sleepUntil(ctx, l.frozenUntil) {
		return false
	}
	var queued <-chan struct{}
	if sig, ok := cfg.Source.(Signals); ok {
		// Asked before the queue is looked at: an op queued after this
		// closes it.
		queued = sig.Queued(l.base, l.lane)
	}
	pending, err := cfg.Source.Pending(ctx, l.base, l.lane)
	if err != nil {
		pending = 0
	} else if pending == 0 && queued != nil {
		// Nothing queued: sleep until something is, or until a held
		// rule's slot comes, instead of polling; without its goroutine
		// when it can.
		if l.canSleep(!wake.IsZero()) {
			l.asleep = queued
			return false
		}
		l.waitQueued(ctx, queued, wake)
		return false
	}
	if !cfg.DryRun {
		next, err := cfg.Budget.Next(ctx, l.base, l.lane)
		if err != nil {
			if ctx.Err() == nil {
				l.log.Error().Err(err).Msg("ask budget")
				l.backoff(ctx)
			}
			return false
		}
		// A lane holding nothing fetches when its call is at most
		// parkHold away, to park with ops to offer; one holding ops
		// fetches more only when a call could take them now.
		ahead := time.Duration(0)
		if len(l.held) == 0 {
			ahead = parkHold
		}
		if until := next.Add(-ahead); until.After(l.now()) {
			if !wake.IsZero() && wake.Before(until) {
				until = wake
			}
			if len(l.held) == 0 {
				l.park(ctx, until) // a higher lane may fetch from its queue
			} else {
				l.sleepUntil(ctx, until)
			}
			return false
		}
	}
	wait := l.d.linger[l.lane] * time.Duration(max(MaxBatchRows-pending, 0)) / MaxBatchRows
	if pending == 0 {
		// Nothing queued: Fetch is where the lane waits for work.
		wait = max(wait, idleFetchWait)
	}
	if !wake.IsZero() {
		wait = min(wait, max(wake.Sub(l.now()), idleFetchWait))
	}
	ds, err := cfg.Source.Fetch(ctx, l.base, l.lane, min(MaxBatchRows, cfg.MaxHeld-len(l.held)), wait)
	// A failed fetch may still have handed over deliveries.
	l.held = append(l.held, ds...)
	if err != nil && ctx.Err() == nil {
		l.log.Error().Err(err).Msg("fetch ops")
		l.backoff(ctx)
	}
	return len(ds) > 0
}

// topUp fetches, without waiting, what is queued up to a full batch held,
// just before the lane's call: while it waited for the budget a higher
// lane may have carried most of what it held, and its own call should
// not go out with the few ops left. It reports whether it fetched any
// (the caller looks again at what it holds).
func (l *laneLoop) topUp(ctx context.Context) bool {
	cfg := l.d.cfg
	room := min(MaxBatchRows, cfg.MaxHeld) - len(l.held)
	if cfg.DryRun || room <= 0 {
		return false
	}
	ds, err := cfg.Source.Fetch(ctx, l.base, l.lane, room, 0)
	l.held = append(l.held, ds...)
	if err != nil && ctx.Err() == nil {
		l.log.Warn().Err(err).Msg("fetch ops to top up a call")
	}
	return len(ds) > 0
}

// waitQueued waits until queued is closed (ops may be queued for the
// lane), until wake when that is set, or until the held ops are due for an
// extension.
func (l *laneLoop) waitQueued(ctx context.Context, queued <-chan struct{}, wake time.Time) {
	until := wake
	if len(l.held) > 0 {
		if due := l.extendedAt.Add(extendEvery); until.IsZero() || due.Before(until) {
			until = due
		}
	}
	var timer <-chan time.Time
	if !until.IsZero() {
		d := until.Sub(l.now())
		if d <= 0 {
			return
		}
		timer = l.d.cfg.Clock.After(d)
	}
	select {
	case <-ctx.Done():
	case <-queued:
	case <-timer:
	}
}

// dispatch plans the held ops at the indexes ready and sends their
// batches in order, settling each op as its batch finishes. It stops at the
// first batch that fails, and at a batch whose rule budget is spent.
func (l *laneLoop) dispatch(ctx context.Context, ready []int) {
	cfg := l.d.cfg
	bg := context.WithoutCancel(ctx)
	// ops[i] is held[ready[i]]; Plan and Execute index ops.
	ops := make([]seaflow.Op, len(ready))
	for i, h := range ready {
		ops[i] = replaySafe(l.held[h])
	}
	settled := make([]bool, len(l.held))
	defer func() {
		var rest []Delivery
		for i, dl := range l.held {
			if !settled[i] {
				rest = append(rest, dl)
			}
		}
		l.held = rest
	}()
	deadFailed := false
	for _, b := range Plan(ops) {
		if ctx.Err() != nil {
			return
		}
		if cfg.DryRun && (b.Kind != seaflow.KindQuery || cfg.Budget == nil) {
			l.log.Info().Str("kind", string(b.Kind)).Str("table", b.Table).Int("rows", b.Rows()).
				Int("calls", b.Calls()).Int("ops", len(b.Ops())).Msg("dry run: planned call")
			l.report(CallReport{Kind: b.Kind, Table: b.Table, Call: string(b.Kind), Rows: b.Rows(), Status: "dry_run"})
			for _, i := range b.Ops() {
				l.ack(bg, ready[i], settled)
			}
			continue
		}
		out := l.exec.Execute(ctx, ops, b, l.callFunc(b, batchRules(ops, b)))
		if cfg.OnOutcome != nil {
			cfg.OnOutcome(ops, out)
		}
		l.maybeSent(ops, ready, out.MaybeSent)
		for _, i := range out.Done {
			l.ack(bg, ready[i], settled)
		}
		for _, dead := range out.Dead {
			l.log.Warn().Str("op", ops[dead.Index].ID).Str("rule", ops[dead.Index].Rule).Str("kind", string(b.Kind)).
				Str("table", b.Table).Str("reason", dead.Reason).Msg("op refused as invalid")
			if err := cfg.Dead.DeadLetter(bg, ops[dead.Index], dead.Reason); err != nil {
				// Not stored: hand the op back so it is not lost, and
				// slow down before the next round.
				l.log.Error().Err(err).Str("op", ops[dead.Index].ID).Msg("dead letter")
				settled[ready[dead.Index]] = true
				if err := l.held[ready[dead.Index]].Release(bg); err != nil {
					l.log.Warn().Err(err).Str("op", ops[dead.Index].ID).Msg("release op")
				}
				deadFailed = true
				continue
			}
			l.ack(bg, ready[dead.Index], settled)
		}
		if errors.Is(out.Err, errRuleSpent) {
			// Not a failure: the rest waits for the rule's next slot
			// (the lane re-plans what may go without it).
			return
		}
		if out.Err != nil {
			// Settle what is done before deciding about the rest.
			var rest []Delivery
			for i, dl := range l.held {
				if !settled[i] {
					rest = append(rest, dl)
				}
			}
			l.held, settled = rest, make([]bool, len(rest))
			l.failed(ctx, out.Err)
			return
		}
	}
	if deadFailed {
		l.failures++
		l.backoff(ctx)
		return
	}
	l.failures = 0
}

// ack acks delivery i and marks it settled.
func (l *laneLoop) ack(ctx context.Context, i int, settled []bool) {
	settled[i] = true
	if err := l.held[i].Ack(ctx); err != nil {
		// The op landed; a redelivery repeats an idempotent write.
		l.log.Warn().Err(err).Str("op", l.held[i].Op.ID).Msg("ack op")
	}
}

// failed handles the error that stopped a batch; held are the ops not
// settled.
func (l *laneLoop) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // run releases what is held
	}
	cfg := l.d.cfg
	var se *seatable.Error
	switch seatable.KindOf(err) {
	case seatable.KindRateLimited:
		until := time.Time{}
		if errors.As(err, &se) {
			until = se.ResetAt
		}
		if !until.After(l.now()) {
			until = l.now().Add(DefaultFreeze)
		}
		l.log.Warn().Time("until", until).Msg("rate limited: base frozen")
		if err := cfg.Budget.Freeze(ctx, l.base, until); err != nil {
			l.log.Error().Err(err).Msg("freeze base")
		}
		l.frozenUntil = until
		// The freeze may be long: hand the ops back rather than hold them.
		l.releaseAll(context.WithoutCancel(ctx))
	case seatable.KindTransient:
		l.failures++
		l.log.Warn().Err(err).Int("failures", l.failures).Msg("transient error")
		if l.failures >= maxHeldAttempts {
			l.releaseAll(context.WithoutCancel(ctx))
		} else {
			l.extendAll(ctx) // keep them fetched through the backoff
		}
		l.backoff(ctx)
	default:
		l.failures++
		l.log.Error().Err(err).Int("failures", l.failures).Msg("send batch")
		l.releaseAll(context.WithoutCancel(ctx))
		l.backoff(ctx)
	}
}

// backoff waits after the l.failures-th failure in a row: doubling from
// minBackoff up to maxBackoff, jittered to between half and all of it.
func (l *laneLoop) backoff(ctx context.Context) {
	d := minBackoff
	for i := 1; i < l.failures && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	d = d/2 + time.Duration(l.d.cfg.Rand()*float64(d/2))
	l.sleepUntil(ctx, l.now().Add(d))
}

// callFunc returns the CallFunc for the calls of batch b: each waits for
// the budget's admission (extending the held ops while it waits), then
// sends. The send itself is not cancelled by ctx, so a call in flight
// finishes when the dispatcher stops.
//
// The send's context carries a seatable.Gate, so that every request the
// client makes for the call is admitted in this lane: the first is the
// one admitted here, a retry after a 401 or 403 waits for a call of its
// own. A request that never reached SeaTable (no connection, a token
// exchange that failed first) is refunded.
//
// With per-rule budgets, every call is first charged to each capped rule of
// rules; when one of them has no slot left the call is not made and
// errRuleSpent stops the batch. Rules are charged before the base so a
// charged rule slot is always followed by its call (a cancelled context
// aside), and checked all before any is charged so a call refused for one
// rule charges none (within this process: replicas may race for a rule's
// last slot, which then over-charges, never over-spends). A rule's charge
// is not refunded: it is seaflow's own cap, and erring high keeps it.
func (l *laneLoop) callFunc(b Batch, rules []string) CallFunc {
	return func(ctx context.Context, name string, rows int, send func(ctx context.Context) error) error {
		if err := l.chargeRules(ctx, rules); err != nil {
			return err
		}
		first, err := l.reserve(ctx)
		if err != nil {
			return err
		}
		// The gate hands the first request the call admitted above; any
		// further request (a retry) reserves a call of its own.
		var mu sync.Mutex
		used := false
		gate := func(gctx context.Context, r seatable.GateRequest) (func(), error) {
			mu.Lock()
			defer mu.Unlock()
			g := first
			if used {
				var err error
				if g, err = l.reserve(ctx); err != nil {
					return nil, err
				}
			}
			used = true
			return func() { l.refund(g) }, nil
		}
		start := l.now()
		err = send(seatable.WithGate(context.WithoutCancel(ctx), gate))
		mu.Lock()
		if !used && seatable.Unsent(err) {
			l.refund(first) // the call never got as far as its request
		}
		mu.Unlock()
		l.report(CallReport{Kind: b.Kind, Table: b.Table, Call: name, Rows: rows,
			Status: status(err), Err: err, Duration: l.now().Sub(start)})
		return err
	}
}

// reserve waits until the budget admits a call of the lane and records
// it, extending the held ops while it waits.
func (l *laneLoop) reserve(ctx context.Context) (budget.Grant, error) {
	for {
		if ctx.Err() != nil {
			return budget.Grant{}, ctx.Err()
		}
		g, err := l.d.cfg.Budget.Reserve(ctx, l.base, l.lane)
		if err != nil {
			return budget.Grant{}, fmt.Errorf("reserve call: %w", err)
		}
		if g.OK {
			return g, nil
		}
		l.extendAll(ctx)
		next := g.Next
		if !next.After(l.now()) {
			// A budget that refuses without a later slot: do not spin.
			next = l.now().Add(minBackoff)
		}
		if !l.sleepUntil(ctx, next) {
			return budget.Grant{}, ctx.Err()
		}
	}
}

// refund gives back a call that never reached SeaTable.
func (l *laneLoop) refund(g budget.Grant) {
	if err := l.d.cfg.Budget.Refund(context.Background(), l.base, g.At); err != nil {
		l.log.Warn().Err(err).Msg("refund a call that was never sent")
	}
}

func (l *laneLoop) report(r CallReport) {
	if l.d.cfg.OnCall == nil {
		return
	}
	r.Base, r.Lane = l.base, l.lane
	l.d.cfg.OnCall(r)
}

// sleepUntil waits until t, extending the held ops every extendEvery. It
// returns false when ctx ended first.
func (l *laneLoop) sleepUntil(ctx context.Context, t time.Time) bool {
	for {
		d := t.Sub(l.now())
		if d <= 0 {
			return ctx.Err() == nil
		}
		if len(l.held) > 0 {
			d = min(d, extendEvery)
		}
		select {
		case <-ctx.Done():
			return false
		case <-l.d.cfg.Clock.After(d):
		}
		if t.After(l.now()) {
			l.extendAll(ctx)
		}
	}
}

// extendAll tells the queue the held ops are still being worked on.
func (l *laneLoop) extendAll(ctx context.Context) {
	l.extendedAt = l.now()
	for _, dl := range l.held {
		if err := dl.Extend(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn().Err(err).Str("op", dl.Op.ID).Msg("extend op")
		}
	}
}

// releaseAll hands the held ops back to the queue.
func (l *laneLoop) releaseAll(ctx context.Context) {
	for _, dl := range l.held {
		if err := dl.Release(ctx); err != nil {
			l.log.Warn().Err(err).Str("op", dl.Op.ID).Msg("release op")
		}
	}
	l.held = nil
}

// maybeSent marks the held appends whose call may have landed: the next
// try sends them replay-safe (an upsert on their dedupe column). Those
// without one may land twice; OnUnknownAppend counts them.
func (l *laneLoop) maybeSent(ops []seaflow.Op, ready, idx []int) {
	unsafe := 0
	for _, i := range idx {
		l.held[ready[i]].Op.Replay = true
		if ops[i].DedupeColumn == "" {
			unsafe++
		}
	}
	if unsafe > 0 {
		l.log.Warn().Int("ops", unsafe).Msg("appends whose call may have landed are retried without a dedupe column: they may be added twice")
		if f := l.d.cfg.OnUnknownAppend; f != nil {
			f(l.base, unsafe)
		}
	}
}
