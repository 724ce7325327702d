package actions

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/seatable"
)

// Budget admits calls to a base. It is satisfied by *budget.Keeper and must
// be safe for concurrent use: every lane of every base asks it.
type Budget interface {
	// Reserve records a call of lane on base now, if the budget admits it.
	// When it does not, next is the earliest time it may.
	Reserve(ctx context.Context, base string, lane seaflow.Lane) (ok bool, next time.Time, err error)
	// Next returns the earliest time a call of lane on base is admitted.
	Next(ctx context.Context, base string, lane seaflow.Lane) (time.Time, error)
	// Freeze admits no call on base, in any lane, before until.
	Freeze(ctx context.Context, base string, until time.Time) error
}

// Default lingers: how long a lane waits for an empty batch to fill before
// it sends what it has (see DispatcherConfig.Linger).
const (
	DefaultUrgentLinger = 200 * time.Millisecond
	DefaultNormalLinger = time.Second
	DefaultBulkLinger   = 5 * time.Second
)

// Retry timing.
const (
	// DefaultFreeze is how long a base is frozen after a 429 that did not
	// say when the base frees up.
	DefaultFreeze = 60 * time.Second
	// minBackoff and maxBackoff bound the backoff after a transient error
	// (doubling per failure, jittered to between half and all of it).
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
	// maxHeldAttempts is how many transient failures in a row the lane
	// keeps its fetched ops through (extending them); after that it
	// releases them to the queue and backs off before fetching again.
	maxHeldAttempts = 5
	// extendEvery is how often held ops are extended while the lane waits.
	extendEvery = 10 * time.Second
	// idleFetchWait is the shortest wait of a fetch from an empty queue,
	// so an idle lane with no linger does not spin.
	idleFetchWait = 50 * time.Millisecond
)

// CallReport describes one SeaTable call the dispatcher made (or, in dry
// run, planned), for metrics.
type CallReport struct {
	Base  string
	Lane  seaflow.Lane
	Kind  seaflow.Kind
	Table string
	// Call is the client operation, e.g. "update rows", "upsert key lookup".
	Call string
	// Rows is the number of rows the call carried.
	Rows int
	// Status is "ok", "invalid", "rate_limited", "transient", "auth",
	// "error" or "dry_run".
	Status string
	// Err is the call's error, nil when Status is "ok" or "dry_run".
	Err error
	// Duration is the time the call took on the dispatcher's clock.
	Duration time.Duration
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Bases are the SeaTable clients by base name (the ops' Base). One loop
	// per base and lane runs.
	Bases map[string]Rows
	// Source is the queue ops are fetched from. Required.
	Source Source
	// Dead receives the ops SeaTable refused as invalid. Required unless DryRun.
	Dead DeadLetters
	// Budget admits every call. Required unless DryRun.
	Budget Budget
	// Clock tells the time and sleeps; nil means the wall clock.
	Clock seaflow.Clock
	// Logger receives the dispatcher's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// DryRun logs every planned call with its cost instead of sending it,
	// and acks its ops so the queue drains. It spends no budget.
	DryRun bool
	// Linger is, per lane, the longest a lane waits for a batch to fill
	// once the budget admits a call (it is the wait given to
	// Source.Fetch). The wait shrinks as the backlog grows:
	// Linger × (1 − pending/MaxBatchRows), none with a full batch waiting;
	// the budget's own pacing (bulk) adds to it, since ops keep arriving
	// while a lane waits for its slot. A missing lane gets its default:
	// urgent 200 ms, normal 1 s, bulk 5 s. Zero or negative means no
	// linger (an empty queue is still polled every 50 ms at most).
	Linger map[seaflow.Lane]time.Duration
	// OnCall, when set, is called after every call (metrics hook). It must
	// be safe for concurrent use.
	OnCall func(CallReport)
	// OnWritten, when set, is called with the rows each successful call
	// wrote (new rows included) and the chain depth of the ops that wrote
	// them, for the loop guard. Rows an sql op touches are not reported.
	// It must be safe for concurrent use.
	OnWritten func(base, table string, rowIDs []string, depth int)
	// OnSending, when set, is called before a batch is sent with the
	// existing rows it targets (not appends, upserts or sql), so the loop
	// guard knows them even when SeaTable's webhook for the write arrives
	// before the write's response. It must be safe for concurrent use.
	OnSending func(base, table string, rowIDs []string, depth int)
	// Rand returns numbers in [0, 1) to jitter backoffs; nil means math/rand/v2.
	Rand func() float64
	// RuleShare, when set, gives a rule's own budget on a base: the part of
	// the base's budget the rule may spend (rules.Config.RuleLimits builds
	// it from budget_share). false means the rule has no cap of its own.
	// Every call is charged to each capped rule with ops in its batch, in
	// a budget of its own keyed base+"/rule/"+rule; the ops of a rule
	// whose budget is spent are held (extended, never released in a loop
	// or dropped) until the rule's next slot, while the other rules' ops
	// of the lane go on. It is called on every admission, so a reload
	// applies at once, and must be safe for concurrent use. Nil = no
	// per-rule caps. Ignored in DryRun.
	RuleShare func(base, rule string) (budget.Limits, bool)
	// RuleStore shares the per-rule budgets between replicas (a KV bucket,
	// like the base budgets'). Nil keeps them in this process only.
	RuleStore budget.Store
	// MaxHeld is the most ops a lane holds fetched while every one of them
	// waits for its rule's budget; beyond it the lane fetches nothing more
	// until a rule's slot comes. It bounds how far past a flooding rule's
	// ops the lane reaches for other rules' work. Keep it below the
	// queue consumer's MaxAckPending. 0 means DefaultMaxHeld.
	MaxHeld int
}

// DefaultMaxHeld is DispatcherConfig.MaxHeld when it is 0: three full
// batches, below the OPS consumers' MaxAckPending of 4,000.
const DefaultMaxHeld = 3 * MaxBatchRows

// Dispatcher takes ops from the queue, per base and lane, coalesces them
// into batch calls and sends each call once the budget admits it.
type Dispatcher struct {
	cfg    DispatcherConfig
	execs  map[string]*Executor
	linger map[seaflow.Lane]time.Duration
	rules  *ruleBudgets // nil without RuleShare (or in DryRun)
}

// NewDispatcher returns a Dispatcher; Run starts it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Clock == nil {
		cfg.Clock = seaflow.SystemClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	d := &Dispatcher{cfg: cfg, execs: map[string]*Executor{}, linger: map[seaflow.Lane]time.Duration{
		seaflow.Urgent: DefaultUrgentLinger,
		seaflow.Normal: DefaultNormalLinger,
		seaflow.Bulk:   DefaultBulkLinger,
	}}
	for lane, l := range cfg.Linger {
		d.linger[lane] = max(l, 0)
	}
	for name, rows := range cfg.Bases {
		d.execs[name] = NewExecutor(rows)
	}
	if d.cfg.MaxHeld <= 0 {
		d.cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.RuleShare != nil && !cfg.DryRun {
		d.rules = newRuleBudgets(cfg.RuleShare, cfg.RuleStore, cfg.Clock.Now)
	}
	return d
}

// Run runs one loop per base and lane until ctx ends. Lanes of a base run
// concurrently and share the base's budget, so urgent work never waits
// behind bulk. When ctx ends, calls in flight finish and settle their ops;
// ops fetched but not sent are released to the queue. Run returns nil after
// that drain, or an error when the config is incomplete.
func (d *Dispatcher) Run(ctx context.Context) error {
	switch {
	case d.cfg.Source == nil:
		return errors.New("dispatcher: no source")
	case !d.cfg.DryRun && d.cfg.Budget == nil:
		return errors.New("dispatcher: no budget")
	case !d.cfg.DryRun && d.cfg.Dead == nil:
		return errors.New("dispatcher: no dead letters")
	}
	var wg sync.WaitGroup
	for base, exec := range d.execs {
		for _, lane := range seaflow.Lanes {
			l := &laneLoop{d: d, base: base, lane: lane, exec: exec,
				log: d.cfg.Logger.With().Str("base", base).Str("lane", string(lane)).Logger()}
			wg.Go(func() { l.run(ctx) })
		}
	}
	wg.Wait()
	return nil
}

// laneLoop is the loop of one base and lane.
type laneLoop struct {
	d    *Dispatcher
	base string
	lane seaflow.Lane
	exec *Executor
	log  zerolog.Logger

	// held are the deliveries fetched and not yet settled, in queue order.
	held []Delivery
	// failures counts failed rounds in a row, for the backoff.
	failures int
	// frozenUntil is the end of the last freeze after a 429: the lane
	// waits for it even if the budget forgot it.
	frozenUntil time.Time
	// extendedAt is when held ops were last extended.
	extendedAt time.Time
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
			l.dispatch(ctx, ready)
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
	}
}

// ready returns the indexes in held of the ops that may be sent now: all
// of them, unless some rules' budgets are spent. The ops of a spent rule
// wait, and so does every later op that names a row (or, for upserts, a
// table) a waiting op names, so two ops on one row never swap. sql ops
// name no row: they neither wait for nor hold back another rule's ops.
// When nothing may go, wake is the earliest time a waiting rule's budget
// admits a call (zero when nothing is held). ready is nil when nothing
// may go.
func (l *laneLoop) ready(ctx context.Context) (ready []int, wake time.Time, err error) {
	if len(l.held) == 0 {
		return nil, time.Time{}, nil
	}
	rb := l.d.rules
	if rb == nil {
		ready = make([]int, len(l.held))
		for i := range ready {
			ready[i] = i
		}
		return ready, time.Time{}, nil
	}
	spent := map[string]bool{}
	for _, dl := range l.held {
		rule := dl.Op.Rule
		if _, seen := spent[rule]; seen {
			continue
		}
		spent[rule] = false
		if !rb.capped(l.base, rule) {
			continue
		}
		next, err := rb.next(ctx, l.base, rule, l.lane)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("rule %q: %w", rule, err)
		}
		// Next answers its own now when a call is free: compare with a
		// time read after it.
		if next.After(l.now()) {
			spent[rule] = true
			if wake.IsZero() || next.Before(wake) {
				wake = next
			}
		}
	}
	var w waiting
	var tokens []token
	for i, dl := range l.held {
		op := &dl.Op
		tokens = rowTokens(op, tokens[:0])
		if spent[op.Rule] || w.blocks(op, tokens) {
			w.add(op, tokens)
			continue
		}
		ready = append(ready, i)
	}
	return ready, wake, nil
}

// waiting is what the ops held back name: rows, tables with an upsert,
// tables with any row op.
type waiting struct {
	rows, upsertTables, tables map[token]bool
}

func (w *waiting) add(op *seaflow.Op, rows []token) {
	if op.Kind == seaflow.KindSQL {
		return
	}
	if w.rows == nil {
		w.rows, w.upsertTables, w.tables = map[token]bool{}, map[token]bool{}, map[token]bool{}
	}
	for _, r := range rows {
		w.rows[r] = true
	}
	table := token{op.Base, op.Table}
	w.tables[table] = true
	if op.Kind == seaflow.KindUpsert {
		w.upsertTables[table] = true
	}
}

// blocks reports whether op must wait behind the waiting ops.
func (w *waiting) blocks(op *seaflow.Op, rows []token) bool {
	if w.rows == nil || op.Kind == seaflow.KindSQL {
		return false
	}
	table := token{op.Base, op.Table}
	if w.upsertTables[table] || (op.Kind == seaflow.KindUpsert && w.tables[table]) {
		return true
	}
	for _, r := range rows {
		if w.rows[r] {
			return true
		}
	}
	return false
}

// fetch waits until the budget admits a call, then fetches a batch into
// held, waiting for ops no later than wake when that is set (a held rule's
// next slot). It reports whether it got any ops.
func (l *laneLoop) fetch(ctx context.Context, wake time.Time) bool {
	cfg := l.d.cfg
	if !l.sleepUntil(ctx, l.frozenUntil) {
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
		if next.After(l.now()) {
			l.sleepUntil(ctx, next)
			return false
		}
	}
	pending, err := cfg.Source.Pending(ctx, l.base, l.lane)
	if err != nil {
		pending = 0
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
		if cfg.DryRun {
			l.log.Info().Str("kind", string(b.Kind)).Str("table", b.Table).Int("rows", b.Rows()).
				Int("calls", b.Calls()).Int("ops", len(b.Ops())).Msg("dry run: planned call")
			l.report(CallReport{Kind: b.Kind, Table: b.Table, Call: string(b.Kind), Rows: b.Rows(), Status: "dry_run"})
			for _, i := range b.Ops() {
				l.ack(bg, ready[i], settled)
			}
			continue
		}
		// Mark the rows the batch targets before sending: SeaTable may
		// deliver the webhook for a write before the write's response
		// arrives, and the loop guard must already know the row.
		l.sending(targetRows(ops, b))
		out := l.exec.Execute(ctx, ops, b, l.callFunc(b, batchRules(ops, b)))
		l.written(out.Written)
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

// replaySafe returns the op to send for a delivery. An append that was
// delivered before, or produced again from a redelivered event, may have
// landed already (the process died between SeaTable's answer and the ack): when it names a dedupe column holding its
// id, it goes out as an upsert on that column, which finds the row instead
// of adding it again. A first delivery stays a plain, cheaper append.
func replaySafe(dl Delivery) seaflow.Op {
	op := dl.Op
	if (dl.Redelivered || op.Replay) && op.Kind == seaflow.KindAppend && op.DedupeColumn != "" {
		op.Kind, op.Key = seaflow.KindUpsert, op.DedupeColumn
	}
	return op
}

// targetRows lists the existing rows a batch's ops name (appends and
// upserts learn their rows from the response; sql ops name none).
func targetRows(ops []seaflow.Op, b Batch) []WrittenRow {
	var rows []WrittenRow
	for _, i := range b.Ops() {
		if op := ops[i]; op.RowID != "" && op.Kind != seaflow.KindAppend && op.Kind != seaflow.KindSQL {
			rows = append(rows, WrittenRow{Table: b.Table, RowID: op.RowID, Depth: op.Depth})
		}
	}
	return rows
}

// written hands the rows a batch wrote to OnWritten, grouped by table
// and depth.
func (l *laneLoop) written(rows []WrittenRow) {
	if l.d.cfg.OnWritten != nil {
		notify(l.base, rows, l.d.cfg.OnWritten)
	}
}

// notify calls fn once per table and depth with the rows of that group.
func notify(base string, rows []WrittenRow, fn func(base, table string, rowIDs []string, depth int)) {
	if len(rows) == 0 {
		return
	}
	type group struct {
		table string
		depth int
	}
	var order []group
	ids := map[group][]string{}
	for _, w := range rows {
		g := group{w.Table, w.Depth}
		if _, ok := ids[g]; !ok {
			order = append(order, g)
		}
		ids[g] = append(ids[g], w.RowID)
	}
	for _, g := range order {
		fn(base, g.table, ids[g], g.depth)
	}
}

// sending hands the rows a batch is about to write to OnSending.
func (l *laneLoop) sending(rows []WrittenRow) {
	if l.d.cfg.OnSending != nil {
		notify(l.base, rows, l.d.cfg.OnSending)
	}
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
// With per-rule budgets, every call is first charged to each capped rule of
// rules; when one of them has no slot left the call is not made and
// errRuleSpent stops the batch. Rules are charged before the base so a
// charged rule slot is always followed by its call (a cancelled context
// aside), and checked all before any is charged so a call refused for one
// rule charges none (within this process: replicas may race for a rule's
// last slot, which then over-charges, never over-spends).
func (l *laneLoop) callFunc(b Batch, rules []string) CallFunc {
	cfg := l.d.cfg
	return func(ctx context.Context, name string, rows int, send func(ctx context.Context) error) error {
		if err := l.chargeRules(ctx, rules); err != nil {
			return err
		}
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ok, next, err := cfg.Budget.Reserve(ctx, l.base, l.lane)
			if err != nil {
				return fmt.Errorf("reserve call: %w", err)
			}
			if ok {
				break
			}
			l.extendAll(ctx)
			if !next.After(l.now()) {
				// A budget that refuses without a later slot: do not spin.
				next = l.now().Add(minBackoff)
			}
			if !l.sleepUntil(ctx, next) {
				return ctx.Err()
			}
		}
		start := l.now()
		err := send(context.WithoutCancel(ctx))
		l.report(CallReport{Kind: b.Kind, Table: b.Table, Call: name, Rows: rows,
			Status: status(err), Err: err, Duration: l.now().Sub(start)})
		return err
	}
}

// errRuleSpent stops a batch whose rule budget has no slot left.
var errRuleSpent = errors.New("rule budget spent")

// batchRules returns the distinct rules of the ops of b, in first-seen order.
func batchRules(ops []seaflow.Op, b Batch) []string {
	var rules []string
	for _, i := range b.Ops() {
		if r := ops[i].Rule; !slices.Contains(rules, r) {
			rules = append(rules, r)
		}
	}
	return rules
}

// chargeRules records one call in the budget of every capped rule of
// rules, or returns errRuleSpent (charging none of them in this process)
// when one has no slot now.
func (l *laneLoop) chargeRules(ctx context.Context, rules []string) error {
	rb := l.d.rules
	if rb == nil {
		return nil
	}
	var capped []string
	for _, r := range rules {
		if !rb.capped(l.base, r) {
			continue
		}
		next, err := rb.next(ctx, l.base, r, l.lane)
		if err != nil {
			return fmt.Errorf("rule %q budget: %w", r, err)
		}
		if next.After(l.now()) {
			return errRuleSpent
		}
		capped = append(capped, r)
	}
	for _, r := range capped {
		ok, _, err := rb.reserve(ctx, l.base, r, l.lane)
		if err != nil {
			return fmt.Errorf("rule %q budget: %w", r, err)
		}
		if !ok {
			return errRuleSpent
		}
	}
	return nil
}

func (l *laneLoop) report(r CallReport) {
	if l.d.cfg.OnCall == nil {
		return
	}
	r.Base, r.Lane = l.base, l.lane
	l.d.cfg.OnCall(r)
}

// status names an error's kind for CallReport.
func status(err error) string {
	if err == nil {
		return "ok"
	}
	switch seatable.KindOf(err) {
	case seatable.KindInvalid:
		return "invalid"
	case seatable.KindRateLimited:
		return "rate_limited"
	case seatable.KindTransient:
		return "transient"
	case seatable.KindAuth:
		return "auth"
	}
	return "error"
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

// ruleBudgets keeps the per-rule budgets of DispatcherConfig.RuleShare in
// a budget.Keeper of their own, keyed base+"/rule/"+rule.
type ruleBudgets struct {
	share  func(base, rule string) (budget.Limits, bool)
	keeper *budget.Keeper

	mu   sync.Mutex
	keys map[string][2]string // key → base, rule
}

func newRuleBudgets(share func(base, rule string) (budget.Limits, bool), store budget.Store, now func() time.Time) *ruleBudgets {
	rb := &ruleBudgets{share: share, keys: map[string][2]string{}}
	rb.keeper = budget.NewKeeper(store, rb.limits, now)
	return rb
}

// RuleBudgetKey is the budget key of a rule's own budget on a base.
func RuleBudgetKey(base, rule string) string { return base + "/rule/" + rule }

func (rb *ruleBudgets) key(base, rule string) string {
	k := RuleBudgetKey(base, rule)
	rb.mu.Lock()
	rb.keys[k] = [2]string{base, rule}
	rb.mu.Unlock()
	return k
}

// limits answers the keeper: the rule's share now, no limit when it has none.
func (rb *ruleBudgets) limits(key string) budget.Limits {
	rb.mu.Lock()
	br, ok := rb.keys[key]
	rb.mu.Unlock()
	if !ok {
		return budget.Limits{}
	}
	l, ok := rb.share(br[0], br[1])
	if !ok {
		return budget.Limits{}
	}
	return l
}

// capped reports whether rule has a budget of its own on base. Ops without
// a rule (replays of hand-made ops) never do.
func (rb *ruleBudgets) capped(base, rule string) bool {
	if rule == "" {
		return false
	}
	_, ok := rb.share(base, rule)
	return ok
}

func (rb *ruleBudgets) next(ctx context.Context, base, rule string, lane seaflow.Lane) (time.Time, error) {
	return rb.keeper.Next(ctx, rb.key(base, rule), lane)
}

func (rb *ruleBudgets) reserve(ctx context.Context, base, rule string, lane seaflow.Lane) (bool, time.Time, error) {
	return rb.keeper.Reserve(ctx, rb.key(base, rule), lane)
}
