package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/statuspage"
)

// routes is the daemon's HTTP surface: webhooks under their configured
// paths, health and readiness, and the admin surface (adminRoutes).
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Alive, unless the store failed for good: only a restart helps.
		if err := d.q.Err(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "storage failed", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", d.serveReady)
	d.adminRoutes(mux)
	mux.Handle("/", rejectMetrics(d.hooks, d.metrics))
	return mux
}

// Status is the JSON of GET /api/status and of `seaflow status`.
type Status = statuspage.Status

// DeadStatus is one dead-lettered op.
type DeadStatus = statuspage.DeadStatus

func (d *daemon) status(ctx context.Context, traces int) Status {
	return statuspage.Build(ctx, d.statusSources(), traces, statuspage.DeadInStatus)
}

// statusSources hands statuspage the daemon's clock, config and stores.
func (d *daemon) statusSources() *statuspage.Sources {
	return &statuspage.Sources{
		Version: version,
		Started: d.started,
		DryRun:  d.opts.DryRun,
		NowFunc: d.opts.Clock.Now,
		Log:     d.log,
		ConfigFunc: func() statuspage.Config {
			cfg := d.config()
			sc := statuspage.Config{Shares: map[string][]string{}}
			for _, r := range cfg.Rules {
				sc.Rules = append(sc.Rules, r.Name)
			}
			for name := range cfg.Bases {
				sc.Bases = append(sc.Bases, name)
				for _, r := range cfg.Rules {
					// Only the rules that call the base: a rule's cap on
					// a base it never calls has nothing to show, and 1,000
					// bases with a rule each would read a million.
					if !r.Calls(name) {
						continue
					}
					if _, ok := cfg.RuleLimits(name, r.Name); ok {
						sc.Shares[name] = append(sc.Shares[name], r.Name)
					}
				}
			}
			return sc
		},
		ReloadFunc: d.reloaded.Load,
		UsageFunc: func(ctx context.Context, base string) ([]statuspage.Usage, error) {
			u, err := d.keeper.Usage(ctx, base)
			return usages(u), err
		},
		CallsFunc:      d.keeper.CallsSince,
		ShareUsageFunc: d.shareUsage,
		PendingFunc:    d.q.Pending,
		OldestFunc:     d.q.OldestOp,
		TracesFunc: func(n int) []statuspage.TraceStatus {
			var out []statuspage.TraceStatus
			for _, t := range d.traces.Recent(n) {
				ts := statuspage.TraceStatus{EventID: t.EventID, Source: t.Source, Name: t.Name, Time: t.Time, Error: t.Error, Took: t.Took, Self: t.Self}
				for _, r := range t.Rules {
					ts.Rules = append(ts.Rules, statuspage.RuleStatus{Rule: r.Rule, When: r.When, Ops: r.Ops, Error: r.Error, Stopped: r.Stopped})
				}
				out = append(out, ts)
			}
			return out
		},
		DeadFunc: func(ctx context.Context, n int) ([]DeadStatus, error) {
			page, _, err := d.q.DeadPage(ctx, 0, n)
			return deadStatuses(page), err
		},
		DeadCountFunc: func(ctx context.Context) (uint64, uint64, error) {
			ds, err := d.q.DeadStats(ctx)
			return ds.Count, ds.Discarded, err
		},
		SpendFunc:  d.ruleSpend,
		FinishFunc: d.keeper.Finish,
		RunsFunc: func(ctx context.Context) []statuspage.RunStatus {
			if d.rec == nil {
				return nil
			}
			rs, err := d.rec.runs.list(ctx)
			if err != nil {
				d.log.Warn().Err(err).Msg("status: runs")
			}
			return rs
		},
		QuotasFunc:   func(ctx context.Context) []statuspage.QuotaStatus { return d.quotaStatus(ctx, d.config()) },
		CatchUpsFunc: func() []statuspage.CatchUpStatus { return d.catchUps.statuses() },
		DamageFunc: func() []statuspage.Damage {
			var out []statuspage.Damage
			for _, x := range d.q.Damage() {
				out = append(out, statuspage.Damage{Stream: x.Stream, Messages: x.Messages, Text: x.String()})
			}
			return out
		},
	}
}

// ruleSpend reads what rule spent on each base, every replica counted.
func (d *daemon) ruleSpend(ctx context.Context, rule string) ([]statuspage.Spend, error) {
	if d.spend == nil {
		return nil, nil
	}
	tot, err := d.spend.Totals(ctx, rule)
	out := make([]statuspage.Spend, 0, len(tot))
	for _, t := range tot {
		out = append(out, statuspage.Spend{Base: t.Base, Calls1h: t.Calls1h, Rows1h: t.Rows1h, Calls24h: t.Calls24h, Rows24h: t.Rows24h})
	}
	return out, err
}

// usages turns the budget's window usage into its status form.
func usages(in []budget.WindowUsage) []statuspage.Usage {
	out := make([]statuspage.Usage, 0, len(in))
	for _, u := range in {
		out = append(out, statuspage.Usage{Window: u.Window, Used: u.Used, Remaining: u.Remaining, NextFree: u.NextFree})
	}
	return out
}

// shareUsage reads the spend of the budget_share that caps rule on base,
// from the budget store the dispatcher charges.
func (d *daemon) shareUsage(ctx context.Context, base, rule string) ([]statuspage.Usage, error) {
	l, ok := d.config().RuleLimits(base, rule)
	if !ok {
		return nil, nil
	}
	keeper := budget.NewKeeper(d.q.BudgetStore(), func(string) budget.Limits { return l }, d.opts.Clock.Now)
	u, err := keeper.Usage(ctx, actions.RuleBudgetKey(base, rule))
	return usages(u), err
}

// deadStatuses turns dead letters into their status form.
func deadStatuses(dead []queue.DeadOp) []DeadStatus {
	out := make([]DeadStatus, 0, len(dead))
	for _, op := range dead {
		out = append(out, deadStatus(op))
	}
	return out
}

// deadStatus is one dead letter in its status form, with what a retry
// would write.
func deadStatus(d queue.DeadOp) DeadStatus {
	op := d.Op
	return DeadStatus{
		Seq: d.Seq, Base: op.Base, Rule: op.Rule, Kind: string(op.Kind), Reason: d.Reason, Time: d.Time,
		Table: op.Table, RowID: op.RowID, Lane: string(op.Lane), Values: op.Values, Key: op.Key,
		SQL: op.Statement, Params: op.Params, OpID: op.ID, EventID: op.EventID,
	}
}

func (d *daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("traces"))
	if n <= 0 {
		n = 50
	}
	writeJSON(w, http.StatusOK, d.status(r.Context(), n))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
