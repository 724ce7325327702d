package statuspage

import (
	"math"
	"testing"
	"time"
)

func TestForecast(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 23, 50, 0, 0, time.UTC)
	lasts := time.Time{}
	for _, c := range []struct {
		name      string
		window    string
		remaining int
		pace      float64
		want      time.Time // zero = lasts the window
	}{
		{"runs out", "24h", 981, 410, now.Add(hours(981.0 / 410)).Truncate(time.Second)},
		{"exact hours", "24h", 100, 50, now.Add(2 * time.Hour)},
		{"just inside the window", "24h", 999, 42, now.Add(hours(999.0 / 42)).Truncate(time.Second)},
		{"covers a full window", "24h", 1000, 41.5, lasts},
		{"exactly one window", "24h", 24, 1, lasts},
		{"idle", "24h", 10, 0, lasts},
		{"negative pace", "24h", 10, -3, lasts},
		{"NaN pace", "24h", 10, math.NaN(), lasts},
		{"infinite pace", "24h", 10, math.Inf(1), lasts},
		{"nothing left", "24h", 0, 0, now},
		{"overdrawn", "1m", -2, 10, now},
		{"minute window", "1m", 5, 600, now.Add(30 * time.Second)},
		{"month runs out", "month", 100, 10, now.Add(10 * time.Hour)},
		{"month lasts", "month", 100, 1, lasts}, // 100h > the 4h10m left of November
		{"unknown window, not bounded", "fortnight", 1000, 1, now.Add(1000 * time.Hour)},
		{"absurd", "fortnight", math.MaxInt, 1e-9, lasts},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Forecast(c.window, c.remaining, c.pace, now)
			if f.Window != c.window || !(f.PacePerHour == c.pace || math.IsNaN(c.pace)) {
				t.Errorf("window %q pace %v", f.Window, f.PacePerHour)
			}
			switch {
			case c.want.IsZero() && f.ExhaustedAt != nil:
				t.Errorf("exhausted at %v, want lasts the window", f.ExhaustedAt)
			case !c.want.IsZero() && f.ExhaustedAt == nil:
				t.Errorf("lasts the window, want exhausted at %v", c.want)
			case !c.want.IsZero() && !f.ExhaustedAt.Equal(c.want):
				t.Errorf("exhausted at %v, want %v", f.ExhaustedAt, c.want)
			}
		})
	}
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
