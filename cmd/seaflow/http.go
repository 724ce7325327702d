package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/statuspage"
)

// routes is the daemon's HTTP surface: webhooks under their configured
// paths, health and readiness, and the admin surface (adminRoutes).
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
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

// historyBuckets × historyBucket is the call history the status shows.
const (
	historyBuckets = 24
	historyBucket  = time.Hour
)

// deadInStatus is how many dead letters, newest first, the status carries;
// DeadTotal counts them all (from the stream's state).
const deadInStatus = 50

func (d *daemon) status(ctx context.Context, traces int) Status {
	return d.statusWith(ctx, traces, deadInStatus)
}

// statusWith is the status with the newest traces events and dead dead
// letters; every read is bounded by those counts, the bases and lanes.
func (d *daemon) statusWith(ctx context.Context, traces, dead int) Status {
	cfg := d.config()
	now := d.opts.Clock.Now()
	st := Status{Version: version, Now: now, Started: d.started, DryRun: d.opts.DryRun, Reload: d.reloaded.Load()}
	names := make([]string, 0, len(cfg.Bases))
	for name := range cfg.Bases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		bs := statuspage.BaseStatus{Name: name}
		usage, err := d.keeper.Usage(ctx, name)
		if err != nil {
			d.log.Warn().Err(err).Str("base", name).Msg("status: budget usage")
		}
		longest := -1
		for i, u := range usage {
			bs.Windows = append(bs.Windows, statuspage.WindowStatus{Window: u.Window.Label(), Limit: u.Calls, Used: u.Used, Remaining: u.Remaining, NextFree: u.NextFree})
			if longest < 0 || u.Month || (!usage[longest].Month && u.Span > usage[longest].Span) {
				longest = i
			}
		}
		calls, err := d.keeper.CallsSince(ctx, name, now.Add(-historyBuckets*historyBucket))
		if err != nil {
			d.log.Warn().Err(err).Str("base", name).Msg("status: call history")
		}
		bs.History = statuspage.History(calls, now, historyBuckets, historyBucket)
		if longest >= 0 {
			// The pace is the last hour's calls.
			pace := 0
			for _, t := range calls {
				if t.After(now.Add(-time.Hour)) {
					pace++
				}
			}
			bs.Forecast = statuspage.Forecast(bs.Windows[longest].Window, usage[longest].Remaining, float64(pace), now)
		}
		for _, lane := range seaflow.Lanes {
			ls := statuspage.LaneStatus{Lane: string(lane)}
			if n, err := d.q.Pending(ctx, name, lane); err == nil {
				ls.Pending = n
			}
			if t, ok, err := d.q.OldestOp(ctx, name, lane); err == nil && ok {
				ls.OldestAge = now.Sub(t).Round(time.Second).String()
			}
			bs.Lanes = append(bs.Lanes, ls)
		}
		bs.Rules = d.ruleShares(ctx, cfg, name)
		st.Bases = append(st.Bases, bs)
	}
	for _, t := range d.traces.Recent(traces) {
		ts := statuspage.TraceStatus{EventID: t.EventID, Source: t.Source, Name: t.Name, Time: t.Time, Error: t.Error, Took: t.Took}
		for _, r := range t.Rules {
			ts.Rules = append(ts.Rules, statuspage.RuleStatus{Rule: r.Rule, When: r.When, Ops: r.Ops, Error: r.Error, Stopped: r.Stopped})
		}
		st.Traces = append(st.Traces, ts)
	}
	for _, x := range d.q.Damage() {
		st.StorageDamage = append(st.StorageDamage, x.String())
	}
	if ds, err := d.q.DeadStats(ctx); err == nil {
		st.DeadTotal = ds.Count
	}
	if page, _, err := d.q.DeadPage(ctx, 0, dead); err == nil {
		st.Dead = deadStatuses(page)
	}
	return st
}

// deadStatuses turns dead letters into their status form.
func deadStatuses(dead []queue.DeadOp) []DeadStatus {
	out := make([]DeadStatus, 0, len(dead))
	for _, op := range dead {
		out = append(out, DeadStatus{Seq: op.Seq, Base: op.Op.Base, Rule: op.Op.Rule, Kind: string(op.Op.Kind), Reason: op.Reason, Time: op.Time})
	}
	return out
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

// ruleShares reads the spend of every rule whose budget_share caps it on
// base, from the budget store the dispatcher charges.
func (d *daemon) ruleShares(ctx context.Context, cfg *rules.Config, base string) []statuspage.RuleShareStatus {
	limits := map[string]budget.Limits{}
	for _, r := range cfg.Rules {
		if l, ok := cfg.RuleLimits(base, r.Name); ok {
			limits[actions.RuleBudgetKey(base, r.Name)] = l
		}
	}
	if len(limits) == 0 {
		return nil
	}
	keeper := budget.NewKeeper(d.q.BudgetStore(), func(key string) budget.Limits { return limits[key] }, d.opts.Clock.Now)
	var out []statuspage.RuleShareStatus
	for _, r := range cfg.Rules {
		key := actions.RuleBudgetKey(base, r.Name)
		if _, ok := limits[key]; !ok {
			continue
		}
		usage, err := keeper.Usage(ctx, key)
		if err != nil || len(usage) == 0 {
			continue
		}
		u := usage[0]
		out = append(out, statuspage.RuleShareStatus{Rule: r.Name, Window: u.Window.Label(), Limit: u.Calls, Used: u.Used, Remaining: u.Remaining})
	}
	return out
}
