package budget

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		calls int
		want  Window
		err   string
	}{
		{in: "1m", calls: 300, want: Window{Span: time.Minute, Calls: 300}},
		{in: "24h", calls: 5000, want: Window{Span: 24 * time.Hour, Calls: 5000}},
		{in: "90s", calls: 10, want: Window{Span: 90 * time.Second, Calls: 10}},
		{in: "month", calls: 100000, want: Window{Month: true, Calls: 100000}},
		{in: "Month", calls: 1, want: Window{Month: true, Calls: 1}},
		{in: "1d", calls: 1, err: "want a duration"},
		{in: "", calls: 1, err: "want a duration"},
		{in: "-1m", calls: 1, err: "span must be positive"},
		{in: "0s", calls: 1, err: "span must be positive"},
		{in: "1m", calls: 0, err: "calls must be positive"},
		{in: "month", calls: -5, err: "calls must be positive"},
	} {
		got, err := ParseWindow(c.in, c.calls)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseWindow(%q, %d) error %v, want %q", c.in, c.calls, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseWindow(%q, %d) = %+v, %v; want %+v", c.in, c.calls, got, err, c.want)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatalf("default limits: %v", err)
	}
	if err := (Limits{}).Validate(); err != nil {
		t.Fatalf("no windows (no limit): %v", err)
	}
	bad := Limits{
		Windows:       []Window{{Span: time.Minute, Calls: 0}, {Span: time.Hour, Calls: 100}},
		UrgentReserve: 100,
		BulkSegments:  -1,
	}
	err := bad.Validate()
	for _, want := range []string{"calls must be positive", "urgent reserve 100: must be smaller than the 100/1h0m0s window", "bulk segments -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (Limits{UrgentReserve: 1}).Validate(); err == nil {
		t.Error("a reserve without windows validated")
	}
}

func TestLongest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		windows []Window
		want    int
	}{
		{nil, -1},
		{DefaultLimits().Windows, 1},
		{[]Window{{Span: time.Hour, Calls: 1}, {Span: time.Minute, Calls: 1}}, 0},
		{[]Window{{Span: time.Hour, Calls: 1}, {Month: true, Calls: 1}, {Span: 1000 * time.Hour, Calls: 1}}, 1},
		{[]Window{{Span: time.Hour, Calls: 1}, {Span: time.Hour, Calls: 2}}, 0},
	} {
		if got := (Limits{Windows: c.windows}).Longest(); got != c.want {
			t.Errorf("Longest(%v) = %d, want %d", c.windows, got, c.want)
		}
	}
}
