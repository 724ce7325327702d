package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reloadMetrics are the config reload gauges, named as Prometheus names its
// own: seaflow_config_last_reload_successful (1 or 0) and
// seaflow_config_last_reload_success_timestamp_seconds.
type reloadMetrics struct {
	ok   prometheus.Gauge
	last prometheus.Gauge
}

func newReloadMetrics() reloadMetrics {
	return reloadMetrics{
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seaflow_config_last_reload_successful",
			Help: "Whether the last config load (start or SIGHUP) was applied: 1, or 0 when it was refused and the old config runs on.",
		}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seaflow_config_last_reload_success_timestamp_seconds",
			Help: "When the config in force was loaded, in Unix seconds.",
		}),
	}
}

// ConfigLoaded records a config applied at at (the start, or a reload).
func (m *Metrics) ConfigLoaded(at time.Time) {
	if m == nil {
		return
	}
	m.reload.ok.Set(1)
	m.reload.last.Set(float64(at.UnixNano()) / 1e9)
}

// ConfigRefused records a reload that was refused: the old config runs on.
func (m *Metrics) ConfigRefused() {
	if m == nil {
		return
	}
	m.reload.ok.Set(0)
}
