package statuspage

import (
	"math"
	"strings"
	"time"
)

// maxForecast bounds a forecast; a budget that lasts longer lasts the window.
const maxForecast = 100 * 365 * 24 * time.Hour

// Forecast says when window, with remaining calls left, runs out at a pace
// of pacePerHour calls per hour from now. The budget lasts the window (nil
// ExhaustedAt) when the pace is not positive or when the remaining calls
// cover one full window length at that pace; a window of "month" lasts to
// the first instant of the next month in UTC, and a window that is not a Go
// duration is not bounded. No remaining call means exhausted at now. The
// estimate is conservative: it ignores slots freed as old calls leave a
// rolling window.
func Forecast(window string, remaining int, pacePerHour float64, now time.Time) *ForecastStatus {
	f := &ForecastStatus{Window: window, PacePerHour: pacePerHour}
	if remaining <= 0 {
		t := now
		f.ExhaustedAt = &t
		return f
	}
	if !(pacePerHour > 0) || math.IsInf(pacePerHour, 1) {
		return f
	}
	hours := float64(remaining) / pacePerHour
	if hours*float64(time.Hour) >= float64(maxForecast) {
		return f
	}
	d := time.Duration(hours * float64(time.Hour))
	if span, ok := windowSpan(window, now); ok && d >= span {
		return f
	}
	t := now.Add(d).Truncate(time.Second)
	f.ExhaustedAt = &t
	return f
}

// windowSpan is how long window lasts from now: its span for a rolling
// window, the rest of the UTC month for "month".
func windowSpan(window string, now time.Time) (time.Duration, bool) {
	w := strings.TrimSpace(window)
	if strings.EqualFold(w, "month") {
		u := now.UTC()
		next := time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		return next.Sub(now), true
	}
	d, err := time.ParseDuration(w)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}
