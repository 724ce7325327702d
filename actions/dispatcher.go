package actions

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
)

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
	// and acks its ops so the queue drains. It spends no budget, but for
	// the reads of for_each queries, which it makes (through Budget, when
	// set) so that their rows' ops are shown too.
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
	// OnOutcome, when set, is called after every batch with its ops and
	// what became of them (the history of each op's fate). Ops handed to a
	// dead-letter store that failed are in Outcome.Dead too (they stay
	// queued). It must be safe for concurrent use and should not block.
	OnOutcome func(ops []seaflow.Op, out Outcome)
	// OnUnknownAppend, when set, is called with the number of appends
	// without a dedupe column that are retried after a call that may have
	// landed (metrics: they are at least once). It must be safe for
	// concurrent use.
	OnUnknownAppend func(base string, n int)
	// Echoes, when set, learns every write before its call is sent (and
	// the rows an append created after), for the loop guard: SeaTable may
	// deliver the webhook for a write before the write's answer arrives.
	// Nil means no loop guard.
	Echoes EchoRecorder
	// Pages takes the rows each query op reads (a page of a for_each's
	// SELECT) and queues what follows. Nil refuses query ops (dead).
	Pages Pages
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

	// onLaneExit, when set, is called each time a lane goroutine ends
	// (tests).
	onLaneExit func()
}

// DefaultMaxHeld is DispatcherConfig.MaxHeld when it is 0: three full
// batches, below the OPS consumers' MaxAckPending of 4,000.
const DefaultMaxHeld = 3 * MaxBatchRows

// Dispatcher takes ops from the queue, per base and lane, coalesces them
// into batch calls and sends each call once the budget admits it. Bases can
// be added and removed while it runs (a reload).
type Dispatcher struct {
	cfg    DispatcherConfig
	linger map[seaflow.Lane]time.Duration
	rules  *ruleBudgets // nil without RuleShare (or in DryRun)

	mu      sync.Mutex
	bases   map[string]*baseLoops
	running context.Context // Run's context while it runs; nil before
	stopped bool            // Run's context ended: no lane starts again
	wg      sync.WaitGroup  // every lane loop started
	awake   atomic.Int64    // lane goroutines running (sleep.go)
}

// baseLoops are the lane loops of one base.
type baseLoops struct {
	exec   *Executor
	shelf  *shelf
	cancel context.CancelFunc // stops the base's loops; nil until started
	done   sync.WaitGroup
	lanes  []*laneLoop // set by start, under the dispatcher's mu
}

// NewDispatcher returns a Dispatcher; Run starts it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Clock == nil {
		cfg.Clock = seaflow.SystemClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	d := &Dispatcher{cfg: cfg, bases: map[string]*baseLoops{}, linger: map[seaflow.Lane]time.Duration{
		seaflow.Urgent: DefaultUrgentLinger,
		seaflow.Normal: DefaultNormalLinger,
		seaflow.Bulk:   DefaultBulkLinger,
	}}
	for lane, l := range cfg.Linger {
		d.linger[lane] = max(l, 0)
	}
	for name, rows := range cfg.Bases {
		d.bases[name] = &baseLoops{exec: NewExecutor(rows, cfg.Echoes).WithPages(cfg.Pages), shelf: newShelf()}
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
	d.mu.Lock()
	d.running = ctx
	for name, b := range d.bases {
		d.start(ctx, name, b)
	}
	d.mu.Unlock()
	<-ctx.Done()
	d.mu.Lock()
	d.stopped = true
	for _, b := range d.bases {
		b.stopSleeping()
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// start runs b's lane loops under ctx; d.mu is held.
func (d *Dispatcher) start(ctx context.Context, base string, b *baseLoops) {
	bctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	b.lanes = b.lanes[:0]
	for _, lane := range seaflow.Lanes {
		l := &laneLoop{d: d, base: base, lane: lane, exec: b.exec, shelf: b.shelf,
			log: d.cfg.Logger.With().Str("base", base).Str("lane", string(lane)).Logger()}
		b.lanes = append(b.lanes, l)
		d.runLane(bctx, b, l)
	}
}

// SetBase starts dispatching the ops of base through rows, or, for a base
// already dispatched, switches it to rows (a changed url or token): its
// loops finish what they hold, then the new ones start. It is safe to call
// while Run runs.
func (d *Dispatcher) SetBase(base string, rows Rows) {
	d.RemoveBase(base)
	d.mu.Lock()
	defer d.mu.Unlock()
	b := &baseLoops{exec: NewExecutor(rows, d.cfg.Echoes).WithPages(d.cfg.Pages), shelf: newShelf()}
	d.bases[base] = b
	if d.running != nil && d.running.Err() == nil {
		d.start(d.running, base, b)
	}
}

// RemoveBase stops dispatching base: its loops finish the calls in flight
// and release the ops they hold, which stay queued. It returns once they
// have; a base it does not dispatch is ignored.
func (d *Dispatcher) RemoveBase(base string) {
	d.mu.Lock()
	b, ok := d.bases[base]
	delete(d.bases, base)
	if ok {
		b.stopSleeping()
	}
	d.mu.Unlock()
	if !ok || b.cancel == nil {
		return
	}
	b.cancel()
	b.done.Wait()
}
