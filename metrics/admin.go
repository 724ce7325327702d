package metrics

import "github.com/prometheus/client_golang/prometheus"

func newAdminRefused() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seaflow_admin_refused_total",
		Help: "Requests to the admin surface (status, /api/*, /metrics, /emulator/) refused, by reason (host, cross_origin, token, media_type).",
	}, []string{"reason"})
}

// AdminRefused counts a refused admin request; reason is a short fixed
// word (seaflow_admin_refused_total{reason}).
func (m *Metrics) AdminRefused(reason string) {
	if m == nil {
		return
	}
	m.adminRefused.WithLabelValues(reason).Inc()
}
