package metrics

import "github.com/prometheus/client_golang/prometheus"

// intakeMetrics count what the webhook intake refused for reasons of its
// own, beyond seaflow_events_rejected_total.
type intakeMetrics struct {
	wrongBase *prometheus.CounterVec
}

func newIntakeMetrics() intakeMetrics {
	return intakeMetrics{
		wrongBase: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seaflow_webhook_wrong_base_total",
			Help: "SeaTable webhook bodies refused because their dtable_uuid is not the webhook's configured base.",
		}, []string{"webhook"}),
	}
}

// WebhookWrongBase counts a SeaTable webhook body of another base refused
// on hook (seaflow_webhook_wrong_base_total{webhook}).
func (m *Metrics) WebhookWrongBase(hook string) {
	if m == nil {
		return
	}
	m.intake.wrongBase.WithLabelValues(hook).Inc()
}
