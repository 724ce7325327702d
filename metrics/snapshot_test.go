package metrics

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func gauge(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	_, fams := scrape(t, m)
	return find(t, fams, name, labels).GetGauge().GetValue()
}

func TestSnapshotGauges(t *testing.T) {
	t.Parallel()
	m := New()
	var calls atomic.Int32
	m.SetSnapshot(func(ctx context.Context) Snapshot {
		calls.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("snapshot context has no deadline")
		}
		return Snapshot{
			Budgets: []BudgetWindow{
				{Base: "crm", Window: "1m", Limit: 300, Used: 12, Remaining: 288},
				{Base: "crm", Window: "24h", Limit: 5000, Used: 812, Remaining: 4188},
				{Base: "crm", Window: "24h", Limit: 1, Used: 1, Remaining: 0}, // duplicate: ignored
			},
			Queues: []QueueDepth{
				{Base: "crm", Lane: "urgent"},
				{Base: "crm", Lane: "bulk", Pending: 1200, OldestAge: 3*time.Minute + 20*time.Second},
			},
			DeadLetters:   4,
			RuleShares:    []RuleShare{{Base: "crm", Rule: "web-lead", Limit: 2500, Used: 40}},
			StorageDamage: []StreamDamage{{Stream: "SEAFLOW_OPS", Messages: 742}},
		}
	})
	_, fams := scrape(t, m)
	if n := calls.Load(); n != 1 {
		t.Errorf("snapshot called %d times in one scrape, want 1", n)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"seaflow_budget_used_calls", map[string]string{"base": "crm", "window": "1m"}, 12},
		{"seaflow_budget_remaining_calls", map[string]string{"base": "crm", "window": "1m"}, 288},
		{"seaflow_budget_limit_calls", map[string]string{"base": "crm", "window": "1m"}, 300},
		{"seaflow_budget_used_calls", map[string]string{"base": "crm", "window": "24h"}, 812},
		{"seaflow_budget_remaining_calls", map[string]string{"base": "crm", "window": "24h"}, 4188},
		{"seaflow_budget_limit_calls", map[string]string{"base": "crm", "window": "24h"}, 5000},
		{"seaflow_queue_depth", map[string]string{"base": "crm", "lane": "urgent"}, 0},
		{"seaflow_queue_depth", map[string]string{"base": "crm", "lane": "bulk"}, 1200},
		{"seaflow_queue_oldest_age_seconds", map[string]string{"base": "crm", "lane": "urgent"}, 0},
		{"seaflow_queue_oldest_age_seconds", map[string]string{"base": "crm", "lane": "bulk"}, 200},
		{"seaflow_dead_letters", map[string]string{}, 4},
		{"seaflow_storage_damaged", map[string]string{}, 1},
		{"seaflow_storage_damaged_messages", map[string]string{"stream": "SEAFLOW_OPS"}, 742},
		{"seaflow_rule_budget_used_calls", map[string]string{"base": "crm", "rule": "web-lead"}, 40},
		{"seaflow_rule_budget_limit_calls", map[string]string{"base": "crm", "rule": "web-lead"}, 2500},
		{"seaflow_snapshot_timeouts_total", map[string]string{}, 0},
	} {
		mt := find(t, fams, c.name, c.labels)
		got := mt.GetGauge().GetValue()
		if mt.GetCounter() != nil {
			got = mt.GetCounter().GetValue()
		}
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["seaflow_budget_used_calls"].GetMetric()); n != 2 {
		t.Errorf("seaflow_budget_used_calls has %d series, want 2", n)
	}
}

func TestSnapshotPerScrape(t *testing.T) {
	t.Parallel()
	m := New()
	var dead atomic.Int64
	m.SetSnapshot(func(context.Context) Snapshot { return Snapshot{DeadLetters: int(dead.Load())} })
	dead.Store(1)
	if got := gauge(t, m, "seaflow_dead_letters", map[string]string{}); got != 1 {
		t.Errorf("first scrape: %v, want 1", got)
	}
	dead.Store(7)
	if got := gauge(t, m, "seaflow_dead_letters", map[string]string{}); got != 7 {
		t.Errorf("second scrape: %v, want 7", got)
	}
	m.SetSnapshot(nil)
	_, fams := scrape(t, m)
	if _, ok := fams["seaflow_dead_letters"]; ok {
		t.Error("gauges still scraped after SetSnapshot(nil)")
	}
}

func TestSnapshotTimeout(t *testing.T) {
	t.Parallel()
	m := New()
	m.snap.timeout = time.Millisecond // the function below waits for the context, not the clock
	release := make(chan struct{})
	defer close(release)
	m.SetSnapshot(func(ctx context.Context) Snapshot {
		<-ctx.Done()
		<-release // outlive the context: the scrape must not wait for it
		return Snapshot{DeadLetters: 9}
	})
	_, fams := scrape(t, m)
	if _, ok := fams["seaflow_dead_letters"]; ok {
		t.Error("gauges from a snapshot that timed out")
	}
	if got := find(t, fams, "seaflow_snapshot_timeouts_total", map[string]string{}).GetCounter().GetValue(); got != 1 {
		t.Errorf("seaflow_snapshot_timeouts_total = %v, want 1", got)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("the rest of the scrape is missing after a snapshot timeout")
	}
}
