package seaflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is one API limit of a base: at most Calls calls in any rolling
// Span, or, when Month is set, at most Calls calls per calendar month in
// UTC (Span is then zero). The config file, the budget and the emulator
// all use this one type.
type Window struct {
	// Span is the length of the rolling window. A call made at t counts
	// until t+Span and frees its slot exactly then. Zero when Month is set.
	Span time.Duration
	// Month makes the window the calendar month in UTC: every call made in
	// the month counts until the first instant of the next month.
	Month bool
	// Calls is the number of calls the window allows; it must be positive.
	Calls int
}

// ParseWindow parses the window of a limit as a config file writes it: a
// Go duration of at least a second ("1m", "24h", "90s"), whole days
// ("30d"), or "month" for the calendar month. Calls is left zero.
func ParseWindow(s string) (Window, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "month") || strings.EqualFold(s, "1month") {
		return Window{Month: true}, nil
	}
	var span time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3660 {
			return Window{}, badWindow(s)
		}
		span = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if span, err = time.ParseDuration(s); err != nil {
			return Window{}, badWindow(s)
		}
	}
	if span < time.Second {
		return Window{}, badWindow(s)
	}
	return Window{Span: span}, nil
}

func badWindow(s string) error {
	return fmt.Errorf("%q is not a window (want a duration like 1m or 24h, at least 1s, days like 30d, or \"month\")", s)
}

// Label renders the window's length as a config file writes it: "1m",
// "24h", "30d" or "month".
func (w Window) Label() string {
	switch {
	case w.Month:
		return "month"
	case w.Span >= 48*time.Hour && w.Span%(24*time.Hour) == 0:
		return strconv.Itoa(int(w.Span/(24*time.Hour))) + "d"
	}
	s := w.Span.String() // "1m0s", "24h0m0s", "1m30s", "1h30m0s"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// String renders the window as calls per length: "300/1m", "5000/month".
func (w Window) String() string { return fmt.Sprintf("%d/%s", w.Calls, w.Label()) }

// Longer reports whether w is a longer window than o: a month is longer
// than any rolling span.
func (w Window) Longer(o Window) bool {
	if o.Month {
		return false
	}
	return w.Month || w.Span > o.Span
}

// Validate reports a window that admits nothing or never frees a slot.
func (w Window) Validate() error {
	if !w.Month && w.Span <= 0 {
		return fmt.Errorf("window %s: span must be positive", w)
	}
	if w.Calls <= 0 {
		return errors.New("window " + w.Label() + ": calls must be positive")
	}
	return nil
}

// Longest returns the index of the longest of windows, -1 when there are
// none; among equals the first wins.
func Longest(windows []Window) int {
	best := -1
	for i, w := range windows {
		if best < 0 || w.Longer(windows[best]) {
			best = i
		}
	}
	return best
}

// LegacyWindows are the limits of the documents seaflow was specified
// against, and the default of a base that sets none: 300 calls per rolling
// minute and 5,000 per rolling 24 hours.
func LegacyWindows() []Window {
	return []Window{{Span: time.Minute, Calls: 300}, {Span: 24 * time.Hour, Calls: 5000}}
}
