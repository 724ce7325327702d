package statuspage

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/metrics"
)

// The call history the status shows: HistoryBuckets buckets of HistoryBucket.
const (
	HistoryBuckets = 24
	HistoryBucket  = time.Hour
)

// DeadInStatus is how many dead letters, newest first, GET /api/status
// carries; DeadTotal counts them all.
const DeadInStatus = 50

// Sources is what Build and Snapshot read: the daemon fills it with its
// clock, its config and its stores, and Build only assembles. Every func
// must be safe for concurrent use (status requests and metric scrapes
// overlap); a nil func contributes nothing.
type Sources struct {
	// Version is the daemon's build version; Started when it started;
	// DryRun whether it computes ops without sending them.
	Version string
	Started time.Time
	DryRun  bool
	// NowFunc is the daemon's clock; nil = the wall clock.
	NowFunc func() time.Time
	// Log receives a warning for a base's budget read that failed (the
	// status goes on without it).
	Log zerolog.Logger

	// ConfigFunc summarises the config in force.
	ConfigFunc func() Config
	// ReloadFunc returns the outcome of the last config load; nil when
	// the daemon does not report it.
	ReloadFunc func() *ReloadStatus

	// UsageFunc returns the spend of every limit window of base, shortest
	// first.
	UsageFunc func(ctx context.Context, base string) ([]Usage, error)
	// CallsFunc returns base's recorded call times at or after since.
	CallsFunc func(ctx context.Context, base string, since time.Time) ([]time.Time, error)
	// ShareUsageFunc returns the spend of the budget_share that caps rule
	// on base, its window first; empty when the rule is not capped.
	ShareUsageFunc func(ctx context.Context, base, rule string) ([]Usage, error)

	// PendingFunc returns how many ops wait in a lane of base.
	PendingFunc func(ctx context.Context, base string, lane seaflow.Lane) (int, error)
	// OldestFunc returns when the oldest waiting op of a lane of base was
	// queued; ok is false when none waits.
	OldestFunc func(ctx context.Context, base string, lane seaflow.Lane) (queued time.Time, ok bool, err error)

	// TracesFunc returns the newest n handled events, newest first.
	TracesFunc func(n int) []TraceStatus
	// DeadFunc returns the newest n dead letters, newest first.
	DeadFunc func(ctx context.Context, n int) ([]DeadStatus, error)
	// DeadCountFunc returns how many dead letters are kept now and how many
	// the retention has dropped, ever.
	DeadCountFunc func(ctx context.Context) (kept, discarded uint64, err error)
	// DamageFunc returns every stream of the store found damaged.
	DamageFunc func() []Damage
	// FinishFunc forecasts n more calls of lane on base by the budget's
	// plan: when the last is admitted, or how many are left at horizon
	// (budget.Keeper.Finish); nil = no backlog forecast.
	FinishFunc func(ctx context.Context, base string, lane seaflow.Lane, n int, horizon time.Time) (time.Time, int, error)
	// RunsFunc returns the newest runs, newest first, without forecasts
	// (Build adds them from the backlogs); nil = none.
	RunsFunc func(ctx context.Context) []RunStatus
	// SpendFunc returns what rule spent on each base in the last hour and
	// day; nil = no per-rule spend. Build asks for each rule of
	// Config.Rules and for "" (calls of no rule).
	SpendFunc func(ctx context.Context, rule string) ([]Spend, error)
	// QuotasFunc returns the spend of every quota group; nil = none.
	QuotasFunc func(ctx context.Context) []QuotaStatus
	// CatchUpsFunc returns the state of every base's catch-up poll; nil =
	// none.
	CatchUpsFunc func() []CatchUpStatus
}

// Config is the part of the config in force the status reports.
type Config struct {
	// Bases is every configured base, in any order (Build sorts them).
	Bases []string
	// Shares lists, per base, the rules a budget_share caps on it, in
	// config order.
	Shares map[string][]string
	// Rules is every rule's name, in config order.
	Rules []string
}

// Spend is what one rule spent on one base (spend.Total).
type Spend struct {
	Base                               string
	Calls1h, Rows1h, Calls24h, Rows24h float64
}

// Usage is how much of one limit window is spent.
type Usage struct {
	seaflow.Window // Span, Month and the Calls limit of the window
	// Used is the calls counting in the window now; Remaining what it
	// still allows (lowered by SeaTable's headers).
	Used, Remaining int
	// NextFree is the earliest time the window admits a call.
	NextFree time.Time
}

// Damage is one damaged stream of the store.
type Damage struct {
	// Stream is the stream name; Messages how many messages are lost or
	// unreadable (0: unknown).
	Stream   string
	Messages uint64
	// Text describes the damage in one line, for the status.
	Text string
}

// Build assembles the status document: the newest traces events and dead
// dead letters, every base with its windows, history, forecast, lanes and
// rule shares. Every read is bounded by those counts, the bases and lanes.
func Build(ctx context.Context, src *Sources, traces, dead int) Status {
	now := src.now()
	st := Status{Version: src.Version, Now: now, Started: src.Started, DryRun: src.DryRun}
	if src.ReloadFunc != nil {
		st.Reload = src.ReloadFunc()
	}
	st.Bases = src.bases(ctx, now)
	if src.RunsFunc != nil {
		st.Runs = runForecasts(src.RunsFunc(ctx), st.Bases)
	}
	st.RuleSpend = src.ruleSpend(ctx)
	if src.QuotasFunc != nil {
		st.Quotas = src.QuotasFunc(ctx)
	}
	if src.CatchUpsFunc != nil {
		st.CatchUps = src.CatchUpsFunc()
	}
	if src.TracesFunc != nil {
		st.Traces = src.TracesFunc(traces)
	}
	for _, x := range src.damage() {
		st.StorageDamage = append(st.StorageDamage, x.Text)
	}
	if src.DeadCountFunc != nil {
		if kept, _, err := src.DeadCountFunc(ctx); err == nil {
			st.DeadTotal = kept
		}
	}
	if src.DeadFunc != nil {
		if page, err := src.DeadFunc(ctx, dead); err == nil {
			st.Dead = append(make([]DeadStatus, 0, len(page)), page...)
		}
	}
	return st
}

// Snapshot assembles the metrics' scrape-time gauges from the same
// sources: budgets, queues, rule shares, dead letters and storage damage.
func Snapshot(ctx context.Context, src *Sources) metrics.Snapshot {
	var snap metrics.Snapshot
	bases := src.bases(ctx, src.now())
	for _, b := range bases {
		for _, w := range b.Windows {
			snap.Budgets = append(snap.Budgets, metrics.BudgetWindow{Base: b.Name, Window: w.Window, Limit: w.Limit, Used: w.Used, Remaining: w.Remaining})
		}
	}
	for _, b := range bases {
		for _, l := range b.Lanes {
			age, _ := time.ParseDuration(l.OldestAge)
			snap.Queues = append(snap.Queues, metrics.QueueDepth{Base: b.Name, Lane: l.Lane, Pending: l.Pending, OldestAge: age})
		}
	}
	if src.DeadCountFunc != nil {
		if kept, discarded, err := src.DeadCountFunc(ctx); err == nil {
			snap.DeadLetters, snap.DeadDiscarded = int(kept), discarded
		}
	}
	for _, x := range src.damage() {
		snap.StorageDamage = append(snap.StorageDamage, metrics.StreamDamage{Stream: x.Stream, Messages: x.Messages})
	}
	for _, b := range bases {
		for _, r := range b.Rules {
			snap.RuleShares = append(snap.RuleShares, metrics.RuleShare{Base: b.Name, Rule: r.Rule, Limit: r.Limit, Used: r.Used})
		}
	}
	return snap
}

func (src *Sources) now() time.Time {
	if src.NowFunc == nil {
		return time.Now()
	}
	return src.NowFunc()
}

func (src *Sources) damage() []Damage {
	if src.DamageFunc == nil {
		return nil
	}
	return src.DamageFunc()
}

// bases is the status of every configured base, sorted by name.
func (src *Sources) bases(ctx context.Context, now time.Time) []BaseStatus {
	var cfg Config
	if src.ConfigFunc != nil {
		cfg = src.ConfigFunc()
	}
	names := append([]string(nil), cfg.Bases...)
	sort.Strings(names)
	var out []BaseStatus
	for _, name := range names {
		out = append(out, src.base(ctx, name, cfg.Shares[name], now))
	}
	return out
}

// base is one base's budget, call history, forecast, queues and shares.
func (src *Sources) base(ctx context.Context, name string, shares []string, now time.Time) BaseStatus {
	bs := BaseStatus{Name: name}
	var usage []Usage
	if src.UsageFunc != nil {
		var err error
		if usage, err = src.UsageFunc(ctx, name); err != nil {
			src.Log.Warn().Err(err).Str("base", name).Msg("status: budget usage")
		}
	}
	longest := -1
	for i, u := range usage {
		bs.Windows = append(bs.Windows, windowStatus(u))
		if longest < 0 || u.Month || (!usage[longest].Month && u.Span > usage[longest].Span) {
			longest = i
		}
	}
	var calls []time.Time
	if src.CallsFunc != nil {
		var err error
		if calls, err = src.CallsFunc(ctx, name, now.Add(-HistoryBuckets*HistoryBucket)); err != nil {
			src.Log.Warn().Err(err).Str("base", name).Msg("status: call history")
		}
	}
	bs.History = History(calls, now, HistoryBuckets, HistoryBucket)
	if longest >= 0 {
		// The pace is the last hour's calls.
		pace := 0
		for _, t := range calls {
			if t.After(now.Add(-time.Hour)) {
				pace++
			}
		}
		bs.Forecast = Forecast(bs.Windows[longest].Window, usage[longest].Remaining, float64(pace), now)
	}
	for _, lane := range seaflow.Lanes {
		ls := LaneStatus{Lane: string(lane)}
		if src.PendingFunc != nil {
			if n, err := src.PendingFunc(ctx, name, lane); err == nil {
				ls.Pending = n
			}
		}
		if src.OldestFunc != nil {
			if t, ok, err := src.OldestFunc(ctx, name, lane); err == nil && ok {
				ls.OldestAge = now.Sub(t).Round(time.Second).String()
			}
		}
		bs.Lanes = append(bs.Lanes, ls)
	}
	bs.Rules = src.ruleShares(ctx, name, shares)
	bs.Backlog = src.backlog(ctx, name, bs.Lanes, usage, longest, now)
	return bs
}

// batchRows is the rows of a full batch call (actions.MaxBatchRows).
const batchRows = 1000

// backlog forecasts each waiting lane of base to the end of its longest
// window from now.
func (src *Sources) backlog(ctx context.Context, base string, lanes []LaneStatus, usage []Usage, longest int, now time.Time) []BacklogStatus {
	if src.FinishFunc == nil || longest < 0 {
		return nil
	}
	horizon := now.Add(usage[longest].Span)
	if usage[longest].Month {
		y, m, _ := now.Date()
		horizon = time.Date(y, m+1, 1, 0, 0, 0, 0, now.Location())
	}
	var out []BacklogStatus
	for _, l := range lanes {
		if l.Pending == 0 {
			continue
		}
		calls := (l.Pending + batchRows - 1) / batchRows
		at, left, err := src.FinishFunc(ctx, base, seaflow.Lane(l.Lane), calls, horizon)
		if err != nil {
			src.Log.Warn().Err(err).Str("base", base).Str("lane", l.Lane).Msg("status: backlog forecast")
			continue
		}
		b := BacklogStatus{Lane: l.Lane, Ops: l.Pending, Calls: calls, Horizon: horizon}
		if left > 0 {
			b.CarriesOver = min(l.Pending, left*batchRows)
		} else {
			b.FinishAt = &at
		}
		out = append(out, b)
	}
	return out
}

// runForecasts gives each unfinished run its lane's backlog forecast.
func runForecasts(runs []RunStatus, bases []BaseStatus) []RunStatus {
	for i := range runs {
		r := &runs[i]
		left := r.Queued - r.Done - r.Dead
		if left <= 0 {
			continue
		}
		for _, b := range bases {
			if b.Name != r.Base {
				continue
			}
			for _, bl := range b.Backlog {
				if bl.Lane == r.Lane {
					r.FinishAt = bl.FinishAt
					if bl.CarriesOver > 0 {
						r.CarriesOver = min(left, bl.CarriesOver)
					}
				}
			}
		}
	}
	return runs
}

// ruleShares is the spend of each rule whose budget_share caps it on base.
func (src *Sources) ruleShares(ctx context.Context, base string, rules []string) []RuleShareStatus {
	if src.ShareUsageFunc == nil {
		return nil
	}
	var out []RuleShareStatus
	for _, rule := range rules {
		usage, err := src.ShareUsageFunc(ctx, base, rule)
		if err != nil || len(usage) == 0 {
			continue
		}
		u := usage[0]
		out = append(out, RuleShareStatus{Rule: rule, Window: u.Label(), Limit: u.Calls, Used: u.Used, Remaining: u.Remaining})
	}
	return out
}

// ruleSpend is what every rule spent on each base, one read per rule.
func (src *Sources) ruleSpend(ctx context.Context) []RuleSpendStatus {
	if src.SpendFunc == nil {
		return nil
	}
	var cfg Config
	if src.ConfigFunc != nil {
		cfg = src.ConfigFunc()
	}
	var out []RuleSpendStatus
	day := map[string]float64{}
	for _, rule := range append(append([]string(nil), cfg.Rules...), "") {
		spent, err := src.SpendFunc(ctx, rule)
		if err != nil {
			src.Log.Warn().Err(err).Str("rule", rule).Msg("status: rule spend")
			continue
		}
		for _, x := range spent {
			if x.Calls24h <= 0 && x.Rows24h <= 0 {
				continue
			}
			day[x.Base] += x.Calls24h
			out = append(out, RuleSpendStatus{Rule: rule, Base: x.Base, Calls1h: round2(x.Calls1h), Rows1h: round2(x.Rows1h), Calls24h: round2(x.Calls24h), Rows24h: round2(x.Rows24h)})
		}
	}
	for i := range out {
		if d := day[out[i].Base]; d > 0 {
			out[i].Share24h = math.Round(1000*out[i].Calls24h/d) / 1000
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Base != out[j].Base {
			return out[i].Base < out[j].Base
		}
		return out[i].Calls24h > out[j].Calls24h
	})
	return out
}

// round2 rounds to hundredths: shared calls are fractions.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

func windowStatus(u Usage) WindowStatus {
	return WindowStatus{Window: u.Label(), Limit: u.Calls, Used: u.Used, Remaining: u.Remaining, NextFree: u.NextFree}
}
