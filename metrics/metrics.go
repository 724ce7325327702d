package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RowsPerCallBuckets are the bucket bounds of seaflow_api_rows_per_call:
// from a single-row call up to a full 1,000-row batch.
var RowsPerCallBuckets = []float64{1, 2, 5, 10, 50, 100, 250, 500, 750, 1000}

// Metrics records what seaflow does. Its methods are safe for concurrent
// use, and a nil *Metrics records nothing, so a component can be built
// without metrics in tests.
type Metrics struct {
	reg *prometheus.Registry

	eventsReceived *prometheus.CounterVec
	eventsRejected *prometheus.CounterVec
	ruleMatches    *prometheus.CounterVec
	ruleErrors     *prometheus.CounterVec
	opsQueued      *prometheus.CounterVec
	apiCalls       *prometheus.CounterVec
	apiRows        *prometheus.HistogramVec
	apiDuration    *prometheus.HistogramVec
	api429         *prometheus.CounterVec
	deadLettered   *prometheus.CounterVec
	reload         reloadMetrics
	intake         intakeMetrics
	loopBreaks     *prometheus.CounterVec
	unknownAppends *prometheus.CounterVec
	adminRefused   *prometheus.CounterVec
	likelyDisabled *prometheus.GaugeVec

	snap *snapshotCollector
}

// New builds a Metrics with every seaflow metric, the Go runtime collector
// and the process collector registered on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		eventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_events_received_total",
			Help: "Events accepted by a trigger and written to the durable event stream.",
		}, []string{"source"}),
		eventsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_events_rejected_total",
			Help: "Events refused at intake, by reason (auth, body, json, ...).",
		}, []string{"source", "reason"}),
		ruleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_rule_matches_total",
			Help: "Events for which a rule's when: evaluated to true.",
		}, []string{"rule"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_rule_errors_total",
			Help: "Rule evaluations that failed.",
		}, []string{"rule"}),
		opsQueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_ops_queued_total",
			Help: "Row operations published to the ops work queue.",
		}, []string{"base", "lane"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_api_calls_total",
			Help: "SeaTable API calls by endpoint, HTTP status (0 = no response) and the rule whose ops they carried, in shares by ops (empty rule: a call of no rule).",
		}, []string{"base", "endpoint", "status", "rule"}),
		apiRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seaflow_api_rows_per_call",
			Help:    "Rows carried by one SeaTable API call.",
			Buckets: RowsPerCallBuckets,
		}, []string{"base"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seaflow_api_call_duration_seconds",
			Help:    "Duration of SeaTable API calls.",
			Buckets: prometheus.DefBuckets,
		}, []string{"base"}),
		api429: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_api_429_total",
			Help: "SeaTable API calls answered 429 Too Many Requests.",
		}, []string{"base"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_dead_letters_total",
			Help: "Row operations moved to the dead-letter list.",
		}, []string{"base"}),
		reload:         newReloadMetrics(),
		intake:         newIntakeMetrics(),
		loopBreaks:     newLoopBreaks(),
		unknownAppends: newUnknownAppends(),
		adminRefused:   newAdminRefused(),
		likelyDisabled: newLikelyDisabled(),
		snap:           newSnapshotCollector(),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.eventsReceived, m.eventsRejected,
		m.ruleMatches, m.ruleErrors,
		m.opsQueued,
		m.apiCalls, m.apiRows, m.apiDuration, m.api429,
		m.deadLettered,
		m.reload.ok, m.reload.last,
		m.intake.wrongBase, m.loopBreaks, m.unknownAppends,
		m.adminRefused,
		m.likelyDisabled,
		m.snap,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format (GET /metrics).
// OpenMetrics is not negotiated: there the gauge seaflow_dead_letters and
// the counter seaflow_dead_letters_total would share one family name.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry the metrics live on, for a caller that
// wants to add its own collectors or gather in-process.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// EventReceived counts an event a trigger of source accepted
// (seaflow_events_received_total{source}).
func (m *Metrics) EventReceived(source string) {
	if m == nil {
		return
	}
	m.eventsReceived.WithLabelValues(source).Inc()
}

// EventRejected counts an event refused at intake for reason, a short
// fixed word such as "auth", "body" or "json"
// (seaflow_events_rejected_total{source,reason}).
func (m *Metrics) EventRejected(source, reason string) {
	if m == nil {
		return
	}
	m.eventsRejected.WithLabelValues(source, reason).Inc()
}

// RuleMatched counts an event whose when: was true for rule
// (seaflow_rule_matches_total{rule}).
func (m *Metrics) RuleMatched(rule string) {
	if m == nil {
		return
	}
	m.ruleMatches.WithLabelValues(rule).Inc()
}

// RuleError counts a failed evaluation of rule
// (seaflow_rule_errors_total{rule}).
func (m *Metrics) RuleError(rule string) {
	if m == nil {
		return
	}
	m.ruleErrors.WithLabelValues(rule).Inc()
}

// OpsQueued counts n ops published for base and lane
// (seaflow_ops_queued_total{base,lane}). n <= 0 records nothing.
func (m *Metrics) OpsQueued(base, lane string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.opsQueued.WithLabelValues(base, lane).Add(float64(n))
}

// RulePart is the part of a call attributed to one rule (Part in (0, 1]).
type RulePart struct {
	Rule string
	Part float64
}

// APICall records one SeaTable call of base: its endpoint (a name such as
// "rows.append" or a URL path; ids in a path and any query are replaced, see
// EndpointLabel), the HTTP status (0 = no response), the rows it carried and
// how long it took, and the rules whose ops it carried. It feeds
// seaflow_api_calls_total{base,endpoint,status,rule} (each rule by its
// part, so the series of one call sum to 1; rule "" without parts),
// seaflow_api_rows_per_call{base} (when rows > 0) and
// seaflow_api_call_duration_seconds{base}. The caller keeps the rule
// names bounded (the rules of the config).
func (m *Metrics) APICall(base, endpoint string, status int, rows int, d time.Duration, rules ...RulePart) {
	if m == nil {
		return
	}
	ep, st := EndpointLabel(endpoint), strconv.Itoa(status)
	if len(rules) == 0 {
		m.apiCalls.WithLabelValues(base, ep, st, "").Inc()
	}
	for _, r := range rules {
		m.apiCalls.WithLabelValues(base, ep, st, r.Rule).Add(r.Part)
	}
	if rows > 0 {
		m.apiRows.WithLabelValues(base).Observe(float64(rows))
	}
	m.apiDuration.WithLabelValues(base).Observe(d.Seconds())
}

// RateLimited counts a 429 answer for base (seaflow_api_429_total{base}).
func (m *Metrics) RateLimited(base string) {
	if m == nil {
		return
	}
	m.api429.WithLabelValues(base).Inc()
}

// DeadLettered counts n ops of base moved to the dead-letter list
// (seaflow_dead_letters_total{base}). n <= 0 records nothing.
func (m *Metrics) DeadLettered(base string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.deadLettered.WithLabelValues(base).Add(float64(n))
}
