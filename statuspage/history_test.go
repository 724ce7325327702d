package statuspage

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestHistory(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 23, 50, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	calls := []time.Time{
		ago(0),                           // now: last bucket
		ago(time.Minute),                 // last bucket
		ago(time.Hour - time.Nanosecond), // last bucket
		ago(time.Hour),                   // boundary: ends the bucket before
		ago(90 * time.Minute),            // bucket before
		ago(3*time.Hour + time.Second),   // oldest bucket
		ago(4 * time.Hour),               // start of the oldest bucket: too old
		ago(4*time.Hour + time.Second),   // too old
		now.Add(time.Second),             // future: ignored
		ago(2 * time.Hour),               // unsorted input is fine; ends the second bucket
	}
	h := History(calls, now, 4, time.Hour)
	want := HistoryStatus{BucketSeconds: 3600, Calls: []int{1, 1, 2, 3}, End: now}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("History = %+v, want %+v", h, want)
	}

	t.Run("24 hourly buckets", func(t *testing.T) {
		var ts []time.Time
		for i := 0; i < 48; i++ { // one call every 30 minutes for a day
			ts = append(ts, ago(time.Duration(i)*30*time.Minute))
		}
		h := History(ts, now, 24, time.Hour)
		if len(h.Calls) != 24 {
			t.Fatalf("%d buckets", len(h.Calls))
		}
		for i, c := range h.Calls {
			if c != 2 {
				t.Errorf("bucket %d: %d calls, want 2", i, c)
			}
		}
	})

	t.Run("empty", func(t *testing.T) {
		for _, h := range []HistoryStatus{
			History(calls, now, 0, time.Hour),
			History(calls, now, 24, 0),
			History(calls, now, 24, time.Millisecond),
		} {
			if h.BucketSeconds != 0 || h.Calls == nil || len(h.Calls) != 0 {
				t.Errorf("History = %+v, want no buckets", h)
			}
			b, _ := json.Marshal(h)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if _, ok := m["calls"].([]any); !ok {
				t.Errorf("calls encodes as %s, want []", b)
			}
		}
		if h := History(nil, now, 3, time.Hour); !reflect.DeepEqual(h.Calls, []int{0, 0, 0}) {
			t.Errorf("no calls: %v", h.Calls)
		}
	})
}

func TestPacePerHour(t *testing.T) {
	t.Parallel()
	h := HistoryStatus{BucketSeconds: 3600, Calls: []int{10, 20, 30, 40}}
	for _, c := range []struct {
		n    int
		want float64
	}{{1, 40}, {2, 35}, {4, 25}, {9, 25}, {0, 0}, {-1, 0}} {
		if got := h.PacePerHour(c.n); got != c.want {
			t.Errorf("PacePerHour(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	quarter := HistoryStatus{BucketSeconds: 900, Calls: []int{5, 10}}
	if got := quarter.PacePerHour(2); got != 30 {
		t.Errorf("15-minute buckets: %v calls/hour, want 30", got)
	}
	if got := (HistoryStatus{}).PacePerHour(3); got != 0 {
		t.Errorf("empty: %v", got)
	}
}
