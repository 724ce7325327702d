package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// smallDay is a 2-hour day with a drain of 1 minute: an urgent update every
// 20 s, 500-op hourly jobs and a 20,000-op nightly job at 00:30 over 2,000
// rows; more ops than 5,000 one-op calls can carry.
func smallDay() Workload {
	w := DefaultWorkload()
	w.Length = 2 * time.Hour
	w.Drain = time.Minute
	w.Rows = 2000
	w.HourlyOps = 500
	w.NightlyAt = 30 * time.Minute
	w.NightlyOps = 20000
	w.NightlyRows = 2000
	return w
}

func TestVirtualDaySmall(t *testing.T) {
	w := smallDay()
	rs, err := RunDay(w, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	sf, one, tb := rs[0], rs[1], rs[2]
	var table bytes.Buffer
	if err := WriteTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())

	t.Run("seaflow stays inside the limits", func(t *testing.T) {
		if sf.Got429 != 0 {
			t.Errorf("seaflow got %d 429s, want 0", sf.Got429)
		}
		if sf.MaxPerMinute > 300 || sf.MaxPerDay > 5000 {
			t.Errorf("seaflow sent %d calls in a minute and %d in 24 h, limits 300 and 5000", sf.MaxPerMinute, sf.MaxPerDay)
		}
	})
	t.Run("seaflow applies every op, urgent ones within the linger", func(t *testing.T) {
		if sf.UrgentOps == 0 || sf.UrgentApplied != sf.UrgentOps {
			t.Errorf("urgent applied %d of %d", sf.UrgentApplied, sf.UrgentOps)
		}
		if sf.UrgentMax == Undone || sf.UrgentMax > time.Second {
			t.Errorf("urgent max delay %s, want at most 1 s", sf.UrgentMax)
		}
		if sf.Applied != sf.Ops || sf.Undone != 0 || !sf.BulkDone || sf.Dead != 0 {
			t.Errorf("applied %d of %d ops (%d undone, %d dead, bulk done %v)", sf.Applied, sf.Ops, sf.Undone, sf.Dead, sf.BulkDone)
		}
	})
	t.Run("seaflow's final rows equal the last applied ops", func(t *testing.T) {
		if sf.Mismatches != 0 {
			t.Errorf("%d cells differ from the last applied op", sf.Mismatches)
		}
		if sf.RowsWritten < sf.Applied*9/10 || sf.RowsWritten > sf.Applied {
			t.Errorf("rows written %d for %d ops applied", sf.RowsWritten, sf.Applied)
		}
	})
	t.Run("baselines fall behind", func(t *testing.T) {
		if one.Got429 == 0 {
			t.Error("one call per op got no 429s on a workload over the daily limit")
		}
		for _, b := range []Result{one, tb} {
			if b.Applied >= sf.Applied || b.RowsPerCall() > 1 {
				t.Errorf("%s: applied %d (seaflow %d), %.2f rows per call", b.Strategy, b.Applied, sf.Applied, b.RowsPerCall())
			}
			if b.Mismatches != 0 {
				t.Errorf("%s: %d cells differ from the last applied op", b.Strategy, b.Mismatches)
			}
		}
	})
	t.Run("the table shows every strategy", func(t *testing.T) {
		for _, r := range rs {
			if !strings.Contains(table.String(), r.Strategy) {
				t.Errorf("table lacks %q", r.Strategy)
			}
		}
	})
}

func TestSeaflowDeterministic(t *testing.T) {
	w := smallDay()
	w.Length = 40 * time.Minute
	a, err := RunSeaflow(w)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunSeaflow(w)
	if err != nil {
		t.Fatal(err)
	}
	a.Wall, b.Wall = 0, 0
	if a != b {
		t.Errorf("two runs of one workload differ:\n%+v\n%+v", a, b)
	}
}

// BenchmarkVirtualDay runs the full day of DefaultWorkload through the
// three strategies and reports seaflow's figures; -v prints the table.
// The one-call-per-op baseline makes millions of 429'd calls: expect about
// a minute and 2 GB per iteration. Run it with -benchtime 1x.
func BenchmarkVirtualDay(b *testing.B) {
	for b.Loop() {
		rs, err := RunDay(DefaultWorkload(), DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		var table bytes.Buffer
		if err := WriteTable(&table, rs); err != nil {
			b.Fatal(err)
		}
		b.Logf("\n%s", table.String())
		for i, name := range []string{"seaflow", "percall", "bucket"} {
			b.ReportMetric(float64(rs[i].RowsWritten), name+"-rows")
			b.ReportMetric(float64(rs[i].Calls), name+"-calls")
			b.ReportMetric(float64(rs[i].Got429), name+"-429s")
		}
	}
}

// TestSaturatedCallsAreFull: with a bulk backlog larger than the budget can
// carry, every call is full whichever lane makes it: an urgent call
// carries bulk's updates of the same table (cross-lane fill), the urgent
// ops still land within their linger plus one call, and no window is
// exceeded. The day is short and starts after an hour of warm-up, so the
// windows are not empty.
func TestSaturatedCallsAreFull(t *testing.T) {
	w := SaturatedWorkload()
	w.Rows = 2000
	w.Backlog = 1_500_000
	w.Warmup = time.Hour
	w.Length = time.Hour
	sf, err := RunSeaflow(w)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sf)
	if sf.Got429 != 0 || sf.MaxPerMinute > 300 || sf.MaxPerDay > 5000 {
		t.Errorf("%d 429s, %d calls in a minute, %d in 24 h; want 0 and within 300 and 5000", sf.Got429, sf.MaxPerMinute, sf.MaxPerDay)
	}
	if sf.UrgentCalls == 0 || sf.BulkCalls == 0 {
		t.Fatalf("urgent calls %d, bulk calls %d: want both lanes calling", sf.UrgentCalls, sf.BulkCalls)
	}
	// Every call carries 1,000 rows but the few whose urgent row was one
	// a bulk op also names (that bulk op stays behind).
	if rpc := sf.RowsPerCall(); rpc < 990 {
		t.Errorf("%.1f rows per call, want at least 990 (calls %d, rows %d)", rpc, sf.Calls, sf.RowsWritten)
	}
	// The day ends with a call in flight: its urgent op may not be
	// answered yet.
	if sf.UrgentOps-sf.UrgentApplied > 1 || sf.UrgentP99 == Undone || sf.UrgentP99 > time.Second {
		t.Errorf("urgent applied %d of %d, p99 delay %s; want all but one in flight within 1 s", sf.UrgentApplied, sf.UrgentOps, sf.UrgentP99)
	}
	if sf.Mismatches != 0 {
		t.Errorf("%d cells differ from the last applied op", sf.Mismatches)
	}
}
