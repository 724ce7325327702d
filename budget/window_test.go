package budget

import (
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatalf("default limits: %v", err)
	}
	if err := (Limits{}).Validate(); err != nil {
		t.Fatalf("no windows (no limit): %v", err)
	}
	bad := Limits{
		Windows:       []seaflow.Window{{Span: time.Minute, Calls: 0}, {Span: time.Hour, Calls: 100}},
		UrgentReserve: 100,
		BulkSegments:  -1,
	}
	err := bad.Validate()
	for _, want := range []string{"calls must be positive", "urgent reserve 100: must be smaller than the 100/1h window", "bulk segments -1"} {
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
		windows []seaflow.Window
		want    int
	}{
		{nil, -1},
		{DefaultLimits().Windows, 1},
		{[]seaflow.Window{{Span: time.Hour, Calls: 1}, {Span: time.Minute, Calls: 1}}, 0},
		{[]seaflow.Window{{Span: time.Hour, Calls: 1}, {Month: true, Calls: 1}, {Span: 1000 * time.Hour, Calls: 1}}, 1},
		{[]seaflow.Window{{Span: time.Hour, Calls: 1}, {Span: time.Hour, Calls: 2}}, 0},
	} {
		if got := (Limits{Windows: c.windows}).Longest(); got != c.want {
			t.Errorf("Longest(%v) = %d, want %d", c.windows, got, c.want)
		}
	}
}
