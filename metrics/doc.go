// Package metrics exposes seaflow's Prometheus metrics: counters and
// histograms the daemon's components record as they work, and gauges for
// budgets, queues and dead letters computed at scrape time from a snapshot
// the daemon supplies.
//
// Every metric lives on the Metrics value's own registry, never on the
// global one, so tests and several daemons in one process do not collide.
// Labels are bounded: source, reason, rule, base, lane, endpoint and status
// only. An event id, row id, token or URL query never becomes a label value.
package metrics
