package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/adminguard"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/metrics"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable"
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
	Clock actions.Clock
	// Listener replaces server.listen (tests pass a ready listener).
	Listener net.Listener
	// onDeadLetter, when set, is called after each op is dead-lettered
	// (tests wait on it).
	onDeadLetter func()
}

// daemon is a running seaflow: storage, triggers, runner, dispatcher and
// the HTTP server, wired together.
type daemon struct {
	log      zerolog.Logger
	cfg      atomic.Pointer[rules.Config] // swapped on reload
	opts     daemonOptions
	q        *queue.Queue
	keeper   *budget.Keeper
	metrics  *metrics.Metrics
	clients  map[string]*seatable.Client
	emus     *emulators
	runner   *runner.Runner
	traces   *runner.Traces
	hooks    *triggers.Webhooks
	cron     *triggers.Cron
	nats     *triggers.NATS
	srv      *http.Server
	addr     string
	guard    *adminguard.Guard // the admin surface's Host, origin and token checks
	failed   chan error
	cancel   context.CancelFunc // stops triggers, consumer and dispatcher
	intake   sync.WaitGroup     // cron, NATS, event consumer
	dispatch sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
	started  time.Time
	ready    chan struct{}
}

// sinkFunc adapts the queue's durable publish to triggers.Sink.
type sinkFunc func(ctx context.Context, evs ...rules.Event) error

func (f sinkFunc) Accept(ctx context.Context, evs ...rules.Event) error { return f(ctx, evs...) }

func startDaemon(parent context.Context, cfg *rules.Config, opts daemonOptions) (*daemon, error) {
	clock := opts.Clock
	if clock == nil {
		clock = triggers.SystemClock{}
	}
	opts.Clock = clock
	d := &daemon{log: opts.Logger, opts: opts, failed: make(chan error, 4), started: clock.Now(), ready: make(chan struct{})}
	d.cfg.Store(cfg)
	d.metrics = metrics.New()
	d.metrics.SetSnapshot(d.snapshot)
	ok := false
	defer func() {
		if !ok {
			d.stop(5 * time.Second)
		}
	}()

	// Storage: the embedded NATS server, or an external cluster.
	q, err := queue.Open(parent, queue.Options{
		Dir: cfg.Storage.Dir, URL: cfg.Storage.NATSURL, SyncAlways: cfg.Storage.SyncAlways,
		AcceptDataLoss: opts.AcceptDataLoss, CheckEvery: opts.CheckEvery,
		DeadMaxAge: cfg.Storage.DeadMaxAge, DeadMaxMsgs: int64(cfg.Storage.DeadMaxMessages), DeadMaxBytes: cfg.Storage.DeadMaxBytes,
		Logger: d.log.With().Str("component", "queue").Logger(),
	})
	if err != nil {
		return nil, fmt.Errorf("start storage: %w", err)
	}
	d.q = q

	// The HTTP server's listener first: emulator webhooks point at it.
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
		}
	}
	d.addr = ln.Addr().String()
	d.guard = adminguard.New(d.addr, d.adminPolicy, func(r adminguard.Reason) { d.metrics.AdminRefused(string(r)) })

	// Bases: in-process emulators where url is "emulator", then one client each.
	d.keeper = budget.NewKeeper(q.BudgetStore(), func(base string) budget.Limits { return baseLimits(cfg, base) }, clock.Now)
	if d.emus, err = startEmulators(cfg, clock.Now, d.log); err != nil {
		return nil, err
	}
	d.clients = make(map[string]*seatable.Client, len(cfg.Bases))
	rows := make(map[string]actions.Rows, len(cfg.Bases))
	for name, base := range cfg.Bases {
		serverURL, token := base.URL, base.APIToken
		if base.URL == "emulator" {
			serverURL, token = d.emus.endpoint(name)
		}
		c := seatable.New(seatable.Config{ServerURL: serverURL, APIToken: token, Now: clock.Now, Observe: d.observe(name)})
		d.clients[name] = c
		rows[name] = c
	}

	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	// A store that cannot go on (a disk that was full) stops the daemon
	// cleanly, so its supervisor restarts it and the store reopens.
	go func() {
		select {
		case <-q.Failed():
			d.failed <- q.Err()
		case <-ctx.Done():
		}
	}()
	self := runner.NewSelfWrites(0, clock.Now)
	d.traces = runner.NewTraces(2000, 24*time.Hour, clock.Now)

	// Dispatcher: OPS → budget → SeaTable.
	disp := actions.NewDispatcher(actions.DispatcherConfig{
		Bases: rows, Source: q, Dead: countingDead{q, d.metrics, opts.onDeadLetter}, Budget: d.keeper, Clock: clock,
		Logger: d.log.With().Str("component", "dispatcher").Logger(), DryRun: opts.DryRun,
		OnWritten: self.Mark, OnSending: self.Mark,
		// Per-rule budget shares, read from the config in force so a reload
		// applies at once; replicas share them through the budget KV.
		RuleShare: func(base, rule string) (budget.Limits, bool) { return d.config().RuleLimits(base, rule) },
		RuleStore: q.BudgetStore(),
	})
	d.dispatch.Add(1)
	go func() {
		defer d.dispatch.Done()
		if err := disp.Run(ctx); err != nil && ctx.Err() == nil {
			d.failed <- fmt.Errorf("dispatcher: %w", err)
		}
	}()

	// Runner: EVENTS → rules → OPS.
	d.runner = runner.New(runner.Config{
		Rules: cfg.RuleSet(), Publisher: countingPublisher{q, d.metrics}, Query: d.query, SelfWrites: self, Traces: d.traces,
		OnTrace: traceMetrics(d.metrics),
		Now:     clock.Now, Logger: d.log.With().Str("component", "runner").Logger(),
	})
	stopConsume, err := q.ConsumeEvents(ctx, "runner", d.runner.Handle)
	if err != nil {
		return nil, fmt.Errorf("consume events: %w", err)
	}
	go func() { <-ctx.Done(); stopConsume() }()

	// Triggers: webhooks, cron, NATS → EVENTS.
	sink := countingSink(func(ctx context.Context, evs ...rules.Event) error {
		// Bounded well below the HTTP write timeout, so a storage outage
		// (a full disk, a lost cluster) answers 503 instead of a dropped
		// connection.
		ctx, cancel := context.WithTimeout(ctx, intakeTimeout)
		defer cancel()
		return q.PublishEvents(ctx, evs)
	}, d.metrics)
	if d.hooks, err = triggers.NewWebhooks(webhookHooks(cfg), cfg.WebhookEvent, sink, clock, d.log.With().Str("component", "webhooks").Logger()); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	if d.cron, err = triggers.NewCron(cronJobs(cfg), sink, newCronCursor(q), clock, d.log.With().Str("component", "cron").Logger()); err != nil {
		return nil, fmt.Errorf("cron: %w", err)
	}
	d.intake.Add(1)
	go func() {
		defer d.intake.Done()
		if err := d.cron.Run(ctx); err != nil && ctx.Err() == nil {
			d.failed <- fmt.Errorf("cron: %w", err)
		}
	}()
	if subjects := cfg.RuleSet().NATSSubjects(); len(subjects) > 0 {
		nc := q.Conn()
		if cfg.NATS.URL != "" {
			if nc, err = nats.Connect(cfg.NATS.URL, nats.Name("seaflow-triggers"), nats.MaxReconnects(-1)); err != nil {
				return nil, fmt.Errorf("connect to nats.url: %w", err)
			}
		}
		d.nats = triggers.NewNATS(nc, subjects, "seaflow", cfg.NATSEvent, sink, clock, d.log.With().Str("component", "nats").Logger())
		d.intake.Add(1)
		go func() {
			defer d.intake.Done()
			if err := d.nats.Run(ctx); err != nil && ctx.Err() == nil {
				d.failed <- fmt.Errorf("nats trigger: %w", err)
			}
		}()
	}

	// HTTP: hooks, health, status, the emulator (when one runs in process).
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
	close(d.ready)
	d.log.Info().Str("listen", d.addr).Str("admin", adminMode(cfg.Server)).Int("rules", len(cfg.Rules)).Int("bases", len(cfg.Bases)).Bool("dry_run", opts.DryRun).Msg("seaflow running")
	ok = true
	return d, nil
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
		if d.q != nil {
			if err := d.q.Close(); err != nil {
				d.stopErr = fmt.Errorf("close storage: %w", err)
			}
		}
		d.log.Info().Msg("seaflow stopped")
	})
	return d.stopErr
}

// reload re-reads the config file; the new rules replace the old only when
// the whole file is valid. Storage, bases and the listen address are not
// reloaded (a restart applies them).
func (d *daemon) reload(path string) {
	cfg, err := rules.Load(path, d.opts.LookupEnv)
	if err != nil {
		d.log.Error().Str("config", path).Str("errors", err.Error()).Msg("reload refused: the old rules keep running")
		return
	}
	if err := d.hooks.Update(webhookHooks(cfg)); err != nil {
		d.log.Error().Err(err).Msg("reload refused: webhooks")
		return
	}
	if err := d.cron.Update(cronJobs(cfg)); err != nil {
		d.log.Error().Err(err).Msg("reload refused: cron")
		return
	}
	if d.nats != nil {
		if err := d.nats.Update(cfg.RuleSet().NATSSubjects()); err != nil {
			d.log.Error().Err(err).Msg("reload: nats subjects")
		}
	}
	d.runner.Swap(cfg.RuleSet())
	d.cfg.Store(cfg)
	d.log.Info().Str("config", path).Int("rules", len(cfg.Rules)).Msg("rules reloaded")
}

// observe feeds every SeaTable response's rate-limit headers and every 429
// into the budget of its base.
func (d *daemon) observe(base string) func(seatable.Call) {
	return func(c seatable.Call) {
		callMetrics(d.metrics, base, c)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c.Limit != nil {
			if err := d.keeper.Observe(ctx, base, *c.Limit); err != nil {
				d.log.Warn().Err(err).Str("base", base).Msg("budget: observe headers")
			}
		}
	}
}

// query runs a for_each SELECT through the budget: it waits for a call of
// the rule's lane to be admitted for every page it reads.
func (d *daemon) query(ctx context.Context, base string, lane budget.Lane, sql string, params []any) ([]map[string]any, error) {
	c, ok := d.clients[base]
	if !ok {
		return nil, fmt.Errorf("unknown base %q", base)
	}
	if err := d.waitForCall(ctx, base, lane); err != nil {
		return nil, err
	}
	rows, err := c.QueryAll(ctx, sql, params)
	if err != nil {
		if e := (*seatable.Error)(nil); errors.As(err, &e) && e.Kind == seatable.KindRateLimited {
			until := e.ResetAt
			if until.IsZero() {
				until = d.opts.Clock.Now().Add(time.Minute)
			}
			_ = d.keeper.Freeze(ctx, base, until)
		}
		return nil, err
	}
	out := make([]map[string]any, len(rows))
	copy(out, rows)
	return out, nil
}

// maxQueryWait bounds how long a for_each waits for budget before the event
// is handed back to the queue for a later try.
const maxQueryWait = 10 * time.Minute

func (d *daemon) waitForCall(ctx context.Context, base string, lane budget.Lane) error {
	deadline := d.opts.Clock.Now().Add(maxQueryWait)
	for {
		ok, next, err := d.keeper.Reserve(ctx, base, lane)
		if err != nil {
			return fmt.Errorf("budget: %w", err)
		}
		if ok {
			return nil
		}
		if next.After(deadline) {
			return fmt.Errorf("budget of base %q has no call for lane %s before %s", base, lane, next.Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.opts.Clock.After(next.Sub(d.opts.Clock.Now())):
		}
	}
}

// config returns the config in force (the last one loaded successfully).
func (d *daemon) config() *rules.Config { return d.cfg.Load() }
