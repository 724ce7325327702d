package main

import (
	"context"
	"net/http"
	"strconv"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/metrics"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/statuspage"
)

// countingPublisher counts the ops the runner queues, by base and lane.
type countingPublisher struct {
	next interface {
		PublishOps(ctx context.Context, ops []seaflow.Op) error
	}
	m *metrics.Metrics
}

func (p countingPublisher) PublishOps(ctx context.Context, ops []seaflow.Op) error {
	if err := p.next.PublishOps(ctx, ops); err != nil {
		return err
	}
	type key struct{ base, lane string }
	n := map[key]int{}
	for _, op := range ops {
		n[key{op.Base, string(op.Lane)}]++
	}
	for k, c := range n {
		p.m.OpsQueued(k.base, k.lane, c)
	}
	return nil
}

// countingDead counts dead-lettered ops by base.
type countingDead struct {
	next   actions.DeadLetters
	m      *metrics.Metrics
	notify func() // optional
}

func (d countingDead) DeadLetter(ctx context.Context, op seaflow.Op, reason string) error {
	if err := d.next.DeadLetter(ctx, op, reason); err != nil {
		return err
	}
	d.m.DeadLettered(op.Base, 1)
	if d.notify != nil {
		d.notify()
	}
	return nil
}

// countingSink counts the events the triggers store, by source.
func countingSink(next sinkFunc, m *metrics.Metrics) sinkFunc {
	return func(ctx context.Context, ev seaflow.Event) (bool, error) {
		dup, err := next(ctx, ev)
		if err == nil && !dup {
			m.EventReceived(string(ev.Source))
		}
		return dup, err
	}
}

// traceMetrics records rule matches and expression errors from traces.
func traceMetrics(m *metrics.Metrics, then func(runner.Trace)) func(runner.Trace) {
	return func(tr runner.Trace) {
		if then != nil {
			defer then(tr)
		}
		for _, r := range tr.Rules {
			if r.When {
				m.RuleMatched(r.Rule)
			}
			if r.Error != "" {
				m.RuleError(r.Rule)
			}
		}
	}
}

// callMetrics records every SeaTable HTTP call of a base, attributed to
// the rules of parts.
func callMetrics(m *metrics.Metrics, base string, c seatable.Call, parts []metrics.RulePart) {
	m.APICall(base, c.Endpoint, c.Status, c.Rows, c.Duration, parts...)
	if c.Status == http.StatusTooManyRequests {
		m.RateLimited(base)
	}
}

// rejectMetrics wraps the webhook handler to count refused requests by
// HTTP status (the handler answers each refusal with a JSON reason).
func rejectMetrics(next http.Handler, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status >= 400 {
			m.EventRejected(string(seaflow.SourceWebhook), strconv.Itoa(sw.status))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// snapshot gives the metrics' scrape-time gauges: budgets, queues, dead letters.
func (d *daemon) snapshot(ctx context.Context) metrics.Snapshot {
	return statuspage.Snapshot(ctx, d.statusSources())
}
