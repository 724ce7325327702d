package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Options chooses the baselines' parameters for RunDay.
type Options struct {
	// MaxTries bounds the one-call-per-op baseline's attempts per op; 0
	// retries until the day ends.
	MaxTries int
	// Bucket is the token-bucket baseline's bucket.
	Bucket TokenBucket
}

// DefaultOptions retries without bound and uses DefaultTokenBucket.
func DefaultOptions() Options {
	return Options{Bucket: DefaultTokenBucket()}
}

// RunDay runs w through seaflow and both baselines, one after the other in
// this process, each against its own emulator, and returns their results
// in that order.
func RunDay(w Workload, o Options) ([]Result, error) {
	sf, err := RunSeaflow(w)
	if err != nil {
		return nil, fmt.Errorf("seaflow: %w", err)
	}
	one, err := RunOneCallPerOp(w, o.MaxTries)
	if err != nil {
		return nil, fmt.Errorf("one call per op: %w", err)
	}
	tb, err := RunTokenBucket(w, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("token bucket: %w", err)
	}
	return []Result{sf, one, tb}, nil
}

// WriteTable prints results side by side, one column per strategy, as a
// Markdown table.
func WriteTable(out io.Writer, rs []Result) error {
	var table [][]string
	row := func(name string, f func(Result) string) {
		cells := []string{name}
		for _, r := range rs {
			cells = append(cells, f(r))
		}
		table = append(table, cells)
	}
	row("", func(r Result) string { return r.Strategy })
	row("---", func(Result) string { return "---" })
	row("calls used (gateway, 429s included)", func(r Result) string { return fmt.Sprint(r.Calls) })
	row("429s received", func(r Result) string { return fmt.Sprint(r.Got429) })
	row("calls by lane: urgent / bulk", func(r Result) string {
		if r.UrgentCalls+r.BulkCalls == 0 {
			return "no lanes"
		}
		return fmt.Sprintf("%d / %d", r.UrgentCalls, r.BulkCalls)
	})
	row("rows written", func(r Result) string { return fmt.Sprint(r.RowsWritten) })
	row("rows per call", func(r Result) string { return fmt.Sprintf("%.1f", r.RowsPerCall()) })
	row("ops applied / queued", func(r Result) string { return fmt.Sprintf("%d / %d", r.Applied, r.Ops) })
	row("ops undone at end of day (given up)", func(r Result) string { return fmt.Sprintf("%d (%d)", r.Undone, r.GaveUp) })
	row("urgent applied / queued", func(r Result) string { return fmt.Sprintf("%d / %d", r.UrgentApplied, r.UrgentOps) })
	row("urgent delay p50", func(r Result) string { return delay(r.UrgentP50) })
	row("urgent delay p99", func(r Result) string { return delay(r.UrgentP99) })
	row("urgent delay max", func(r Result) string { return delay(r.UrgentMax) })
	row("oldest bulk op age at end", func(r Result) string {
		if r.OldestBulk == 0 {
			return "none left"
		}
		return r.OldestBulk.Round(time.Second).String()
	})
	row("last bulk op landed at", func(r Result) string {
		t := clockTime(r.LastBulk)
		if !r.BulkDone {
			t += " (bulk not done)"
		}
		return t
	})
	row("most calls in any 1 min / 24 h", func(r Result) string { return fmt.Sprintf("%d / %d", r.MaxPerMinute, r.MaxPerDay) })
	row("cells not equal to last applied op", func(r Result) string { return fmt.Sprint(r.Mismatches) })
	row("sim events / wall time", func(r Result) string {
		return fmt.Sprintf("%d / %s", r.Events, r.Wall.Round(10*time.Millisecond))
	})
	widths := make([]int, len(rs)+1)
	for _, cells := range table {
		for i, c := range cells {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for _, cells := range table {
		for i, c := range cells {
			if c == "---" {
				c = strings.Repeat("-", widths[i])
			}
			fmt.Fprintf(&b, "| %-*s ", widths[i], c)
		}
		b.WriteString("|\n")
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// delay renders an urgent delay percentile.
func delay(d time.Duration) string {
	switch {
	case d == Undone:
		return "not applied by end of day"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

// clockTime renders an offset from the start of the day as hh:mm:ss.
func clockTime(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// JSONResult is one strategy's figures as virtualday -json prints them.
type JSONResult struct {
	Name              string  `json:"name"`
	Calls             int     `json:"calls"`
	Got429            int     `json:"got_429"`
	OpsApplied        int     `json:"ops_applied"`
	RowsWritten       int     `json:"rows_written"`
	CeilingFraction   float64 `json:"ceiling_fraction"`
	UrgentP99Ms       float64 `json:"urgent_p99_ms"`
	MaxCallsPerMinute int     `json:"max_calls_per_minute"`
	MaxCallsPerDay    int     `json:"max_calls_per_day"`
}

// Ceiling is the most row ops a base can have written per rolling 24
// hours at the seed's limits: 5,000 calls of 1,000 rows.
const Ceiling = 5000 * 1000

// WriteJSON writes one JSON object per line per strategy. urgent_p99_ms is
// -1 when the percentile falls on an urgent op that never landed;
// ceiling_fraction is rows written per 24 hours of the measured day over
// Ceiling.
func WriteJSON(out io.Writer, rs []Result, day time.Duration) error {
	enc := json.NewEncoder(out)
	for _, r := range rs {
		p99 := float64(r.UrgentP99) / float64(time.Millisecond)
		if r.UrgentP99 == Undone {
			p99 = -1
		}
		frac := 0.0
		if day > 0 {
			frac = float64(r.RowsWritten) * float64(24*time.Hour) / float64(day) / Ceiling
		}
		if err := enc.Encode(JSONResult{Name: r.Strategy, Calls: r.Calls, Got429: r.Got429, OpsApplied: r.Applied,
			RowsWritten: r.RowsWritten, CeilingFraction: math.Round(frac*1000) / 1000, UrgentP99Ms: p99,
			MaxCallsPerMinute: r.MaxPerMinute, MaxCallsPerDay: r.MaxPerDay}); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	return nil
}
