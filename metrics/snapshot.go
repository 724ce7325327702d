package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SnapshotTimeout bounds one call of the snapshot function during a scrape.
const SnapshotTimeout = 2 * time.Second

// Snapshot is the state the daemon reports at scrape time.
type Snapshot struct {
	// Budgets is every limit window of every base.
	Budgets []BudgetWindow
	// Queues is the ops work queue of every base and lane.
	Queues []QueueDepth
	// DeadLetters is the number of ops on the dead-letter list now.
	DeadLetters int
	// RuleShares is the spend of every rule a budget_share caps, per base.
	RuleShares []RuleShare
	// StorageDamage is every stream found with lost or unreadable
	// messages; empty when the store is sound.
	StorageDamage []StreamDamage
	// DeadDiscarded is how many dead letters the retention
	// (storage.dead_max_age, _messages, _bytes) has dropped, ever.
	DeadDiscarded uint64
}

// StreamDamage is one damaged stream of the store.
type StreamDamage struct {
	// Stream is the JetStream stream name.
	Stream string
	// Messages is how many messages are lost or unreadable (0: unknown).
	Messages uint64
}

// RuleShare is how much of its budget_share one rule has spent on a base.
type RuleShare struct {
	// Base is the base name, Rule the rule name.
	Base, Rule string
	// Limit and Used are counts of API calls in the share's window.
	Limit, Used int
}

// BudgetWindow is how much of one limit window of a base is spent.
type BudgetWindow struct {
	// Base is the base name from the config file.
	Base string
	// Window is the window as configured: "1m", "24h", "month".
	Window string
	// Limit, Used and Remaining are counts of API calls.
	Limit, Used, Remaining int
}

// QueueDepth is the backlog of one lane of a base.
type QueueDepth struct {
	// Base is the base name, Lane the lane ("urgent", "normal", "bulk").
	Base, Lane string
	// Pending is the number of ops waiting.
	Pending int
	// OldestAge is the age of the oldest waiting op; zero when none waits.
	OldestAge time.Duration
}

// SetSnapshot installs fn, called once per scrape with a context bounded by
// SnapshotTimeout, to compute seaflow_budget_used_calls,
// seaflow_budget_remaining_calls, seaflow_budget_limit_calls
// (all {base,window}), seaflow_queue_depth and
// seaflow_queue_oldest_age_seconds ({base,lane}) and seaflow_dead_letters.
// fn must be safe for concurrent use (scrapes may overlap). If fn has not
// returned when the context ends, the scrape goes on without these gauges
// and seaflow_snapshot_timeouts_total counts it.
// A nil fn removes them. SetSnapshot may be called at any time.
func (m *Metrics) SetSnapshot(fn func(ctx context.Context) Snapshot) {
	if m == nil {
		return
	}
	m.snap.set(fn)
}

// snapshotCollector is a prometheus.Collector computing gauges from a
// snapshot function on each scrape.
type snapshotCollector struct {
	mu      sync.Mutex
	fn      func(ctx context.Context) Snapshot
	timeout time.Duration

	budgetUsed      *prometheus.Desc
	budgetRemaining *prometheus.Desc
	budgetLimit     *prometheus.Desc
	queueDepth      *prometheus.Desc
	queueOldest     *prometheus.Desc
	deadLetters     *prometheus.Desc
	ruleUsed        *prometheus.Desc
	ruleLimit       *prometheus.Desc
	storageDamaged  *prometheus.Desc
	damagedMessages *prometheus.Desc
	deadDiscarded   *prometheus.Desc
	timeoutsDesc    *prometheus.Desc

	timeouts atomic.Uint64 // snapshot calls that outlived their context
}

var _ prometheus.Collector = (*snapshotCollector)(nil)

func newSnapshotCollector() *snapshotCollector {
	bw := []string{"base", "window"}
	bl := []string{"base", "lane"}
	return &snapshotCollector{
		timeout:         SnapshotTimeout,
		budgetUsed:      prometheus.NewDesc("seaflow_budget_used_calls", "API calls counting in a limit window now.", bw, nil),
		budgetRemaining: prometheus.NewDesc("seaflow_budget_remaining_calls", "API calls a limit window still allows now.", bw, nil),
		budgetLimit:     prometheus.NewDesc("seaflow_budget_limit_calls", "API calls a limit window allows.", bw, nil),
		queueDepth:      prometheus.NewDesc("seaflow_queue_depth", "Ops waiting in the work queue.", bl, nil),
		queueOldest:     prometheus.NewDesc("seaflow_queue_oldest_age_seconds", "Age of the oldest op waiting in the work queue.", bl, nil),
		deadLetters:     prometheus.NewDesc("seaflow_dead_letters", "Ops on the dead-letter list now.", nil, nil),
		ruleUsed:        prometheus.NewDesc("seaflow_rule_budget_used_calls", "API calls a rule's batches were charged in its budget_share window.", []string{"base", "rule"}, nil),
		ruleLimit:       prometheus.NewDesc("seaflow_rule_budget_limit_calls", "API calls a rule's budget_share allows in its window.", []string{"base", "rule"}, nil),
		storageDamaged:  prometheus.NewDesc("seaflow_storage_damaged", "1 when a stream of the store has lost or unreadable messages (then /readyz is 503), else 0.", nil, nil),
		damagedMessages: prometheus.NewDesc("seaflow_storage_damaged_messages", "Messages lost or unreadable in a damaged stream (0: the store cannot say how many).", []string{"stream"}, nil),
		deadDiscarded:   prometheus.NewDesc("seaflow_dead_letters_discarded_total", "Dead letters dropped by the retention (storage.dead_max_age, dead_max_messages, dead_max_bytes).", nil, nil),
		timeoutsDesc:    prometheus.NewDesc("seaflow_snapshot_timeouts_total", "Scrapes whose status snapshot did not return in time.", nil, nil),
	}
}

func (c *snapshotCollector) set(fn func(ctx context.Context) Snapshot) {
	c.mu.Lock()
	c.fn = fn
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.budgetUsed
	ch <- c.budgetRemaining
	ch <- c.budgetLimit
	ch <- c.queueDepth
	ch <- c.queueOldest
	ch <- c.deadLetters
	ch <- c.ruleUsed
	ch <- c.ruleLimit
	ch <- c.storageDamaged
	ch <- c.damagedMessages
	ch <- c.deadDiscarded
	ch <- c.timeoutsDesc
}

// Collect implements prometheus.Collector: it calls the snapshot function
// and emits one gauge per window and lane.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	fn, timeout := c.fn, c.timeout
	c.mu.Unlock()
	defer func() {
		ch <- prometheus.MustNewConstMetric(c.timeoutsDesc, prometheus.CounterValue, float64(c.timeouts.Load()))
	}()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan Snapshot, 1)
	go func() { done <- fn(ctx) }()
	var s Snapshot
	select {
	case s = <-done:
	case <-ctx.Done():
		c.timeouts.Add(1)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	seenWindow := make(map[[2]string]bool, len(s.Budgets))
	for _, b := range s.Budgets {
		k := [2]string{b.Base, b.Window}
		if seenWindow[k] {
			continue // a duplicate would fail the whole scrape
		}
		seenWindow[k] = true
		gauge(c.budgetUsed, float64(b.Used), b.Base, b.Window)
		gauge(c.budgetRemaining, float64(b.Remaining), b.Base, b.Window)
		gauge(c.budgetLimit, float64(b.Limit), b.Base, b.Window)
	}
	seenLane := make(map[[2]string]bool, len(s.Queues))
	for _, q := range s.Queues {
		k := [2]string{q.Base, q.Lane}
		if seenLane[k] {
			continue
		}
		seenLane[k] = true
		gauge(c.queueDepth, float64(q.Pending), q.Base, q.Lane)
		gauge(c.queueOldest, q.OldestAge.Seconds(), q.Base, q.Lane)
	}
	gauge(c.deadLetters, float64(s.DeadLetters))
	ch <- prometheus.MustNewConstMetric(c.deadDiscarded, prometheus.CounterValue, float64(s.DeadDiscarded))
	damaged := 0.0
	seenStream := make(map[string]bool, len(s.StorageDamage))
	for _, d := range s.StorageDamage {
		damaged = 1
		if seenStream[d.Stream] {
			continue
		}
		seenStream[d.Stream] = true
		gauge(c.damagedMessages, float64(d.Messages), d.Stream)
	}
	gauge(c.storageDamaged, damaged)
	seenRule := make(map[[2]string]bool, len(s.RuleShares))
	for _, r := range s.RuleShares {
		k := [2]string{r.Base, r.Rule}
		if seenRule[k] {
			continue
		}
		seenRule[k] = true
		gauge(c.ruleUsed, float64(r.Used), r.Base, r.Rule)
		gauge(c.ruleLimit, float64(r.Limit), r.Base, r.Rule)
	}
}
