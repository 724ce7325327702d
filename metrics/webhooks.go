package metrics

import "github.com/prometheus/client_golang/prometheus"

// newLikelyDisabled builds seaflow_webhook_likely_disabled{base}.
func newLikelyDisabled() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "seaflow_webhook_likely_disabled",
		Help: "1 when the catch-up poll of the base found changes its SeaTable webhook never delivered (SeaTable has likely disabled it), 0 when the webhooks brought all it found.",
	}, []string{"base"})
}

// WebhookLikelyDisabled sets seaflow_webhook_likely_disabled{base} after a
// catch-up poll of base.
func (m *Metrics) WebhookLikelyDisabled(base string, disabled bool) {
	if m == nil {
		return
	}
	v := 0.0
	if disabled {
		v = 1
	}
	m.likelyDisabled.WithLabelValues(base).Set(v)
}

// ForgetWebhook drops seaflow_webhook_likely_disabled{base}, for a base
// that no longer has a catch-up.
func (m *Metrics) ForgetWebhook(base string) {
	if m == nil {
		return
	}
	m.likelyDisabled.DeleteLabelValues(base)
}
