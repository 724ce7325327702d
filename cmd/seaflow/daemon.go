package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/adminguard"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/catchup"
	"github.com/seaflow/seaflow/loopguard"
	"github.com/seaflow/seaflow/metrics"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/spend"
	"github.com/seaflow/seaflow/statuspage"
	"github.com/seaflow/seaflow/triggers"
)

// intakeTimeout bounds how long a trigger waits for its events to be
// stored before it gives up (webhooks answer 503).
const intakeTimeout = 10 * time.Second

// daemonOptions are the run flags that are not in the config file.
type daemonOptions struct {
	DryRun    bool
	Logger    zerolog.Logger
	LookupEnv func(string) (string, bool)
	// AcceptDataLoss starts on a store whose streams lost messages
	// (--accept-data-loss); otherwise such a start is refused.
	AcceptDataLoss bool
	// CheckEvery overrides how often the store is checked for damage
	// (tests); zero = queue.DefaultCheckEvery.
	CheckEvery time.Duration
	// Clock replaces the wall clock (tests); nil = the system clock.
	Clock seaflow.Clock
	// Listener replaces server.listen (tests pass a ready listener).
	Listener net.Listener
	// CallTimeout bounds each SeaTable call; zero = the client's 30 s.
	CallTimeout time.Duration
	// DataDir, when set, replaces storage.dir (the --data-dir flag), on
	// start and on every reload.
	DataDir string
	// ListenOverride, when set, replaces server.listen (the --listen
	// flag), on start and on every reload.
	ListenOverride string
	// onDeadLetter, when set, is called after each op is dead-lettered
	// (tests wait on it).
	onDeadLetter func()
	// onCall, when set, is called after each SeaTable call is observed
	// (metrics, spend) (tests).
	onCall func(seatable.Call)
	// onOutcome, when set, is called after the fates of a batch's ops are
	// recorded in the history (tests).
	onOutcome func()
	// onTrace, when set, is called with every handled event's trace, after
	// its ops are queued (tests wait on it).
	onTrace func(runner.Trace)
	// onCatchUp, when set, is called after every catch-up poll of a base
	// (tests wait on it).
	onCatchUp func(catchup.Status)
}

// daemon is a running seaflow: storage, triggers, runner, dispatcher and
// the HTTP server, wired together.
type daemon struct {
	log      zerolog.Logger
	cfg      atomic.Pointer[rules.Config] // swapped on reload
	pending  atomic.Pointer[rules.Config] // the config a reload is building
	reloaded atomic.Pointer[ReloadStatus]
	reloadMu sync.Mutex
	opts     daemonOptions
	q        *queue.Queue
	keeper   *budget.Keeper
	// budget admits every call: the base's keeper and the base's quota
	// groups together (quotas:); Observe and Usage go to keeper.
	budget *budget.Group
	// spend tallies each rule's calls and rows, shared by the replicas.
	spend *spend.Tally
	// rec writes the event history.
	rec     *recorder
	metrics *metrics.Metrics
	clients baseClients
	emus    *emulators
	disp    *actions.Dispatcher
	echoes  *loopguard.Guard
	// scratch is a dry run's own store, removed at stop.
	scratch string
	// uuidAsked is when the intake last asked for a base's uuid.
	uuidMu    sync.Mutex
	uuidAsked map[string]time.Time
	runner    *runner.Runner
	traces    *runner.Traces
	sink      sinkFunc
	hooks     *triggers.Webhooks
	// intakeFirst holds the runner back while webhook intake is busy.
	intakeFirst *intakeFirst
	cron        *triggers.Cron
	nats        *triggers.NATS
	// catchUps are the catch-up pollers (webhooks[].seatable.catch_up).
	catchUps catchUps
	// triggerCtx is the context triggers run under (a NATS trigger a
	// reload adds too).
	triggerCtx context.Context
	srv        *http.Server
	addr       string
	guard      *adminguard.Guard // the admin surface's Host, origin and token checks
	failed     chan error
	cancel     context.CancelFunc // stops triggers, consumer and dispatcher
	intake     sync.WaitGroup     // cron, NATS, event consumer
	dispatch   sync.WaitGroup
	stopOnce   sync.Once
	stopErr    error
	started    time.Time
	ready      chan struct{}
}

// sinkFunc adapts the queue's durable store to triggers.Sink.
type sinkFunc func(ctx context.Context, ev seaflow.Event) (duplicate bool, err error)

// Accept stores ev (triggers.Sink).
func (f sinkFunc) Accept(ctx context.Context, ev seaflow.Event) (bool, error) { return f(ctx, ev) }

func startDaemon(parent context.Context, cfg *rules.Config, opts daemonOptions) (*daemon, error) {
	clock := opts.Clock
	if clock == nil {
		clock = seaflow.SystemClock{}
	}
	opts.Clock = clock
	if opts.DataDir != "" {
		cfg.Storage.Dir = opts.DataDir
	}
	d := &daemon{log: opts.Logger, opts: opts, failed: make(chan error, 4), started: clock.Now(), ready: make(chan struct{}), intakeFirst: newIntakeFirst(clock)}
	d.cfg.Store(cfg)
	d.metrics = metrics.New()
	d.metrics.SetSnapshot(d.snapshot)
	ok := false
	defer func() {
		if !ok {
			d.stop(5 * time.Second)
		}
	}()
	if err := d.startStorage(parent, cfg); err != nil {
		return nil, err
	}
	// The HTTP server's listener first: emulator webhooks point at it.
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
		}
	}
	d.addr = ln.Addr().String()
	d.guard = adminguard.New(d.addr, d.adminPolicy, func(r adminguard.Reason) { d.metrics.AdminRefused(string(r)) })
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if err := d.startBases(ctx, cfg); err != nil {
		return nil, err
	}
	if err := d.startRunner(ctx, cfg); err != nil {
		return nil, err
	}
	if err := d.startTriggers(ctx, cfg); err != nil {
		return nil, err
	}
	d.serve(ln)
	d.metrics.ConfigLoaded(clock.Now())
	d.reloaded.Store(&ReloadStatus{At: clock.Now(), OK: true})
	close(d.ready)
	d.log.Info().Str("listen", d.addr).Str("admin", adminMode(cfg.Server)).Int("rules", len(cfg.Rules)).Int("bases", len(cfg.Bases)).Bool("dry_run", opts.DryRun).Msg("seaflow running")
	ok = true
	return d, nil
}

// startStorage opens the durable spine: the embedded NATS server, or an
// external cluster. A store that cannot go on (a disk that was full) stops
// the daemon cleanly, so its supervisor restarts it and the store reopens.
func (d *daemon) startStorage(parent context.Context, cfg *rules.Config) error {
	dir, url := cfg.Storage.Dir, cfg.Storage.NATSURL
	if d.opts.DryRun {
		// A dry run works on streams of its own, in a scratch store: it
		// must not take, ack or delete the work a real run queued, here or
		// in a shared cluster.
		scratch, err := os.MkdirTemp("", "seaflow-dry-run-")
		if err != nil {
			return fmt.Errorf("dry run store: %w", err)
		}
		d.scratch, dir, url = scratch, scratch, ""
		d.log.Info().Str("dir", scratch).Msg("dry run: events and ops go to a scratch store; the real queues are not touched")
	}
	q, err := queue.Open(parent, queue.Options{
		Dir: dir, URL: url, SyncAlways: cfg.Storage.SyncAlways, Listen: cfg.NATS.Listen,
		AcceptDataLoss: d.opts.AcceptDataLoss, CheckEvery: d.opts.CheckEvery, EventsDedupeWindow: cfg.Storage.DedupeWindow,
		HistoryMaxAge: cfg.History.Retention,
		DeadMaxAge:    cfg.Storage.DeadMaxAge, DeadMaxMsgs: int64(cfg.Storage.DeadMaxMessages), DeadMaxBytes: cfg.Storage.DeadMaxBytes,
		Logger: d.log.With().Str("component", "queue").Logger(),
	})
	if err != nil {
		return fmt.Errorf("start storage: %w", err)
	}
	d.q = q
	d.logNATSListen()
	go func() {
		<-q.Failed()
		d.failed <- q.Err()
	}()
	return nil
}

// startBases starts the bases' clients (and in-process emulators) and the
// dispatcher: OPS → budget → SeaTable. The budget reads the limits of the
// config in force, so a reload applies new limits at once.
func (d *daemon) startBases(ctx context.Context, cfg *rules.Config) error {
	clock := d.opts.Clock
	d.keeper = budget.NewKeeper(d.q.BudgetStore(), func(key string) budget.Limits {
		c := d.config()
		return actions.GateLimits(key, c.BaseBudget, c.ExchangeBudget)
	}, clock.Now)
	d.budget = newBudget(d.keeper, d.q.BudgetStore(), d.config, clock.Now)
	d.spend = spend.New(d.q.SpendStore(), clock.Now)
	d.rec = newRecorder(d.q, d.log.With().Str("component", "history").Logger(), clock.Now)
	d.dispatch.Add(1)
	go func() {
		defer d.dispatch.Done()
		d.flushSpend(ctx)
	}()
	d.emus = newEmulators(clock.Now, d.log)
	ch, err := d.clients.prepare(cfg, d.newClient)
	if err != nil {
		return err
	}
	d.clients.commit(ch)
	d.echoes = loopguard.New(loopguard.Options{Store: d.q.EchoStore(), TTL: cfg.LoopGuard.EchoTTL, Now: clock.Now})
	d.disp = actions.NewDispatcher(actions.DispatcherConfig{
		Source: d.q, Dead: countingDead{d.q, d.metrics, d.opts.onDeadLetter}, Budget: d.budget, Clock: clock,
		Logger: d.log.With().Str("component", "dispatcher").Logger(), DryRun: d.opts.DryRun,
		Echoes: echoRecorder{d}, OnUnknownAppend: d.metrics.UnknownAppends, OnOutcome: func(ops []seaflow.Op, out actions.Outcome) {
			d.rec.outcome(ops, out)
			if d.opts.onOutcome != nil {
				d.opts.onOutcome()
			}
		},
		Pages: runner.PageQueue{Events: d.q, Ops: countingPublisher{d.q, d.metrics}},
		// Per-rule budget shares, read from the config in force so a reload
		// applies at once; replicas share them through the budget KV.
		RuleShare: func(base, rule string) (budget.Limits, bool) { return d.config().RuleLimits(base, rule) },
		RuleStore: d.q.BudgetStore(),
	})
	for name, c := range ch.clients {
		d.disp.SetBase(name, c)
	}
	d.dispatch.Add(1)
	go func() {
		defer d.dispatch.Done()
		if err := d.disp.Run(ctx); err != nil && ctx.Err() == nil {
			d.failed <- fmt.Errorf("dispatcher: %w", err)
		}
	}()
	return nil
}

// newClient builds the SeaTable client of a base: of its in-process
// emulator for url: emulator.
func (d *daemon) newClient(name string, base *rules.BaseConfig) (*seatable.Client, error) {
	serverURL, token := base.URL, base.APIToken
	if base.Emulator() {
		var err error
		if serverURL, token, err = d.emus.ensure(d.pendingConfig(name), name); err != nil {
			return nil, err
		}
	}
	return seatable.New(seatable.Config{ServerURL: serverURL, APIToken: token, Now: d.opts.Clock.Now, Observe: d.observe(name), Timeout: d.opts.CallTimeout,
		Gate: actions.ClientGate(d.budget, name, d.opts.Clock, 0)}), nil
}

// startRunner starts the runner: EVENTS → rules → OPS.
func (d *daemon) startRunner(ctx context.Context, cfg *rules.Config) error {
	d.traces = runner.NewTraces(2000, 24*time.Hour, d.opts.Clock.Now)
	d.runner = runner.New(runner.Config{
		Rules: cfg.RuleSet(), Publisher: historyPublisher{d.rec, countingPublisher{d.q, d.metrics}}, Guard: guardFunc(d.matchEcho), Traces: d.traces,
		Breaker: loopguard.NewBreaker(d.q.BreakerStore(), cfg.LoopGuard.MaxWritesPerRowHour, d.opts.Clock.Now),
		OnBreak: d.metrics.LoopBroken,
		OnTrace: traceMetrics(d.metrics, func(tr runner.Trace) {
			d.rec.trace(tr)
			if d.opts.onTrace != nil {
				d.opts.onTrace(tr)
			}
		}),
		Now: d.opts.Clock.Now, Logger: d.log.With().Str("component", "runner").Logger(),
	})
	stopConsume, err := d.q.ConsumeEvents(ctx, "runner", func(ctx context.Context, ev seaflow.Event) error {
		d.intakeFirst.wait(ctx)
		return d.runner.Handle(ctx, ev)
	})
	if err != nil {
		return fmt.Errorf("consume events: %w", err)
	}
	go func() { <-ctx.Done(); stopConsume() }()
	return nil
}

// startTriggers starts the triggers: webhooks, cron, NATS → EVENTS.
func (d *daemon) startTriggers(ctx context.Context, cfg *rules.Config) error {
	clock := d.opts.Clock
	d.sink = countingSink(func(ctx context.Context, ev seaflow.Event) (bool, error) {
		// Bounded well below the HTTP write timeout, so a storage outage
		// (a full disk, a lost cluster) answers 503 instead of a dropped
		// connection.
		ctx, cancel := context.WithTimeout(ctx, intakeTimeout)
		defer cancel()
		return d.q.StoreEvent(ctx, ev)
	}, d.metrics)
	d.hooks = triggers.NewWebhooks(cfg.Webhooks, d.sink, clock, d.log.With().Str("component", "webhooks").Logger())
	d.intakeFirst.watch(d.hooks)
	d.hooks.BindBases(d.knownBaseUUID, d.metrics.WebhookWrongBase)
	cron, err := triggers.NewCron(cronJobs(cfg), d.sink, d.q.CronCursor(), clock, d.log.With().Str("component", "cron").Logger())
	if err != nil {
		return fmt.Errorf("cron: %w", err)
	}
	d.cron = cron
	d.intake.Add(1)
	go func() {
		defer d.intake.Done()
		if err := d.cron.Run(ctx); err != nil && ctx.Err() == nil {
			d.failed <- fmt.Errorf("cron: %w", err)
		}
	}()
	d.triggerCtx = ctx
	d.catchUps.d = d
	d.catchUps.update(ctx, cfg)
	return d.ensureNATS(cfg)
}

// ensureNATS starts the NATS trigger when cfg has NATS rules and none runs
// yet (at start, or when a reload adds the first NATS rule).
func (d *daemon) ensureNATS(cfg *rules.Config) error {
	if d.nats != nil || len(cfg.RuleSet().NATSSubjects()) == 0 {
		return nil
	}
	nc := d.q.Conn()
	url, group := cfg.NATS.URL, "seaflow"
	if d.opts.DryRun {
		// The messages the real daemon's rules listen to, on their server,
		// in a queue group of the dry run's own: it sees a copy of each
		// and takes none away.
		group = "seaflow-dry-run-" + strconv.FormatInt(d.started.UnixNano(), 36)
		if url == "" {
			url = cfg.Storage.NATSURL
		}
	}
	if url != "" {
		var err error
		if nc, err = nats.Connect(url, nats.Name("seaflow-triggers"), nats.MaxReconnects(-1)); err != nil {
			return fmt.Errorf("connect to nats.url: %w", err)
		}
	}
	n := triggers.NewNATS(nc, cfg.RuleSet().NATSSubjects(), group, triggers.NATSEvent, d.sink, d.opts.Clock, d.log.With().Str("component", "nats").Logger())
	d.nats = n
	started := make(chan error, 1)
	d.intake.Add(1)
	go func() {
		defer d.intake.Done()
		err := n.Run(d.triggerCtx)
		started <- err
		if err != nil && d.triggerCtx.Err() == nil {
			d.failed <- fmt.Errorf("nats trigger: %w", err)
		}
	}()
	// Ready means subscribed: a message published after start is taken.
	select {
	case <-n.Ready():
		return nil
	case err := <-started:
		if err == nil {
			err = errors.New("stopped before it subscribed")
		}
		return fmt.Errorf("nats trigger: %w", err)
	case <-time.After(natsReadyWait):
		return errors.New("nats trigger: not subscribed after 30 s")
	}
}

// natsReadyWait bounds how long start waits for the NATS subscriptions.
const natsReadyWait = 30 * time.Second

// serve starts the HTTP server: hooks, health, status, the emulator (when
// one runs in process).
func (d *daemon) serve(ln net.Listener) {
	d.srv = &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.failed <- fmt.Errorf("http server: %w", err)
		}
	}()
}

// stop closes intake first (HTTP, cron, NATS, the event consumer), then
// lets the dispatcher finish its in-flight calls within grace, then closes
// storage. Queued work stays in JetStream for the next start.
func (d *daemon) stop(grace time.Duration) error {
	d.stopOnce.Do(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if d.srv != nil {
			if err := d.srv.Shutdown(shutdownCtx); err != nil {
				d.log.Warn().Err(err).Msg("http shutdown")
			}
		}
		if d.cancel != nil {
			d.cancel()
		}
		d.catchUps.stopAll()
		done := make(chan struct{})
		go func() { d.intake.Wait(); d.dispatch.Wait(); close(done) }()
		select {
		case <-done:
		case <-shutdownCtx.Done():
			d.log.Warn().Dur("grace", grace).Msg("in-flight work did not finish in time; it stays queued")
		}
		if d.emus != nil {
			d.emus.close()
		}
		if d.spend != nil && d.q != nil {
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := d.spend.Flush(fctx); err != nil {
				d.log.Warn().Err(err).Msg("rule spend: last flush")
			}
			cancel()
		}
		if d.q != nil {
			if err := d.q.Close(); err != nil {
				d.stopErr = fmt.Errorf("close storage: %w", err)
			}
		}
		if d.scratch != "" {
			_ = os.RemoveAll(d.scratch)
		}
		d.log.Info().Msg("seaflow stopped")
	})
	return d.stopErr
}

// ReloadStatus is the outcome of the last config load, for the status.
type ReloadStatus = statuspage.ReloadStatus

// reload re-reads the config file and applies it whole, or refuses it
// whole: the old config keeps running, and the log, the metrics and the
// status say why. Everything the new config needs is built first (rules,
// webhooks, cron jobs, NATS subscriptions, clients and emulators of added
// or changed bases); only then is it swapped in, at once. What a running
// daemon cannot change (the listener, storage) and removing a base whose
// ops are still queued refuse the reload.
func (d *daemon) reload(path string) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	err := d.apply(path)
	now := d.opts.Clock.Now()
	if err != nil {
		d.metrics.ConfigRefused()
		d.reloaded.Store(&ReloadStatus{At: now, OK: false, Error: err.Error()})
		d.log.Error().Str("config", path).Str("errors", err.Error()).Msg("reload refused: the old config keeps running")
		return err
	}
	d.metrics.ConfigLoaded(now)
	d.reloaded.Store(&ReloadStatus{At: now, OK: true})
	d.log.Info().Str("config", path).Int("rules", len(d.config().Rules)).Int("bases", len(d.config().Bases)).Msg("config reloaded")
	return nil
}

func (d *daemon) apply(path string) error {
	cfg, err := rules.Load(path, d.opts.LookupEnv)
	if err != nil {
		return err
	}
	old := d.config()
	if d.opts.DataDir != "" {
		cfg.Storage.Dir = d.opts.DataDir
	}
	if d.opts.ListenOverride != "" {
		cfg.Server.Listen = d.opts.ListenOverride
	}
	if cfg.Storage != old.Storage {
		return errors.New("storage: changes need a restart")
	}
	if d.opts.Listener == nil && cfg.Server.Listen != old.Server.Listen {
		return errors.New("server.listen: changes need a restart")
	}
	d.pending.Store(cfg)
	defer d.pending.Store(nil)
	ch, err := d.clients.prepare(cfg, d.newClient)
	if err != nil {
		return err
	}
	for _, name := range ch.removed {
		if n := d.queuedOps(name); n > 0 {
			return fmt.Errorf("base %q: removed while %d of its ops are queued; let them drain (or drop them) first", name, n)
		}
	}
	if err := d.ensureNATS(cfg); err != nil {
		return err
	}
	if d.nats != nil {
		if err := d.nats.Update(cfg.RuleSet().NATSSubjects()); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
	}
	if err := d.cron.Update(cronJobs(cfg)); err != nil {
		return err // cannot happen: the load checked the jobs
	}
	// Swap.
	d.cfg.Store(cfg)
	d.clients.commit(ch)
	d.runner.Swap(cfg.RuleSet())
	d.hooks.Update(cfg.Webhooks)
	d.catchUps.update(d.triggerCtx, cfg)
	for _, name := range ch.removed {
		d.disp.RemoveBase(name)
	}
	for _, name := range ch.changed {
		d.disp.SetBase(name, ch.clients[name])
	}
	return nil
}

// queuedOps counts the ops of base waiting in every lane; -1 when the
// queue cannot tell, which refuses what depends on it.
func (d *daemon) queuedOps(base string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	total := 0
	for _, lane := range seaflow.Lanes {
		n, err := d.q.Pending(ctx, base, lane)
		if err != nil {
			return -1
		}
		total += n
	}
	return total
}

// pendingConfig is the config being applied while a reload builds it, else
// the one in force.
func (d *daemon) pendingConfig(string) *rules.Config {
	if c := d.pending.Load(); c != nil {
		return c
	}
	return d.config()
}

// spendFlushEvery is how often the rule spend gathered in this process is
// merged into the shared store (what other replicas' status shows).
const spendFlushEvery = 15 * time.Second

// flushSpend merges the rule spend into the store every spendFlushEvery
// until ctx ends.
func (d *daemon) flushSpend(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return // stop flushes once more, after the last calls
		case <-d.opts.Clock.After(spendFlushEvery):
			if err := d.spend.Flush(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn().Err(err).Msg("rule spend: flush")
			}
		}
	}
}

// ruleParts are the rule shares of call c, with rule names bounded by the
// config in force: a rule it no longer has counts as no rule.
func (d *daemon) ruleParts(c seatable.Call) []metrics.RulePart {
	if len(c.Shares) == 0 {
		return nil
	}
	cfg := d.config()
	parts := make([]metrics.RulePart, 0, len(c.Shares))
	for _, s := range c.Shares {
		rule := s.Rule
		if cfg == nil || cfg.Rule(rule) == nil {
			rule = ""
		}
		parts = append(parts, metrics.RulePart{Rule: rule, Part: s.Part})
	}
	return parts
}

// observe feeds every SeaTable response's rate-limit headers and every 429
// into the budget of its base, and the call into the metrics and the rule
// spend.
func (d *daemon) observe(base string) func(seatable.Call) {
	return func(c seatable.Call) {
		parts := d.ruleParts(c)
		callMetrics(d.metrics, base, c, parts)
		if d.opts.onCall != nil {
			defer d.opts.onCall(c)
		}
		if !c.Unsent && !c.Exchange && d.spend != nil {
			// The spend is of the base's budget: what SeaTable never saw
			// costs nothing (the budget refunds it), and the token
			// exchange has a budget of its own.
			if len(parts) == 0 {
				d.spend.Add(base, "", 1, float64(c.Rows))
			}
			for _, p := range parts {
				d.spend.Add(base, p.Rule, p.Part, p.Part*float64(c.Rows))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c.Limit != nil {
			if err := d.keeper.Observe(ctx, base, c.Limit.Limit, c.Limit.Remaining, c.Limit.Reset); err != nil {
				d.log.Warn().Err(err).Str("base", base).Msg("budget: observe headers")
			}
		}
	}
}

// config returns the config in force (the last one loaded successfully).
func (d *daemon) config() *rules.Config { return d.cfg.Load() }
