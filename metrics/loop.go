package metrics

import "github.com/prometheus/client_golang/prometheus"

func newLoopBreaks() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seaflow_loop_breaker_trips_total",
		Help: "Ops the loop breaker dropped: a rule wrote one row more often in an hour than loop_guard.max_writes_per_row_hour allows.",
	}, []string{"base", "rule"})
}

// LoopBroken counts an op of rule on base the loop breaker dropped
// (seaflow_loop_breaker_trips_total{base,rule}).
func (m *Metrics) LoopBroken(base, rule string) {
	if m == nil {
		return
	}
	m.loopBreaks.WithLabelValues(base, rule).Inc()
}

func newUnknownAppends() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seaflow_appends_unknown_outcome_total",
		Help: "Appends without a dedupe_column sent again after a call that may have landed (a timeout, a reset): they may have been added twice.",
	}, []string{"base"})
}

// UnknownAppends counts n appends of base retried after a call whose
// outcome is unknown (seaflow_appends_unknown_outcome_total{base}).
func (m *Metrics) UnknownAppends(base string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.unknownAppends.WithLabelValues(base).Add(float64(n))
}
