package seaflow

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		want  Window
		label string
		err   string
	}{
		{in: "1m", want: Window{Span: time.Minute}, label: "1m"},
		{in: "24h", want: Window{Span: 24 * time.Hour}, label: "24h"},
		{in: "90s", want: Window{Span: 90 * time.Second}, label: "1m30s"},
		{in: "30d", want: Window{Span: 30 * 24 * time.Hour}, label: "30d"},
		{in: "1d", want: Window{Span: 24 * time.Hour}, label: "24h"},
		{in: "month", want: Window{Month: true}, label: "month"},
		{in: "Month", want: Window{Month: true}, label: "month"},
		{in: "", err: "is not a window"},
		{in: "-1m", err: "is not a window"},
		{in: "0s", err: "is not a window"},
		{in: "500ms", err: "is not a window"},
		{in: "0d", err: "is not a window"},
		{in: "xd", err: "is not a window"},
	} {
		got, err := ParseWindow(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseWindow(%q) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || got.Label() != c.label {
			t.Errorf("ParseWindow(%q) = %+v (%s), %v; want %+v (%s)", c.in, got, got.Label(), err, c.want, c.label)
		}
	}
}

func TestWindowValidateAndLongest(t *testing.T) {
	t.Parallel()
	if err := (Window{Span: time.Minute}).Validate(); err == nil || !strings.Contains(err.Error(), "calls must be positive") {
		t.Errorf("no calls: %v", err)
	}
	if err := (Window{Calls: 3}).Validate(); err == nil || !strings.Contains(err.Error(), "span must be positive") {
		t.Errorf("no span: %v", err)
	}
	ws := []Window{{Span: time.Minute, Calls: 200}, {Month: true, Calls: 9}, {Span: 24 * time.Hour, Calls: 5}}
	if i := Longest(ws); i != 1 {
		t.Errorf("Longest = %d, want the month", i)
	}
	if i := Longest(LegacyWindows()); i != 1 || LegacyWindows()[i].String() != "5000/24h" {
		t.Errorf("Longest(legacy) = %d", i)
	}
	if Longest(nil) != -1 {
		t.Error("Longest(nil) != -1")
	}
}
