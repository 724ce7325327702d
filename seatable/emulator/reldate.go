package emulator

import (
	"strconv"
	"strings"
	"time"
)

// A fixture's date cell may be written relative to the day the fixture is
// loaded: "today", "today+7d" or "today-11d" (whole calendar days, on the
// emulator's clock, in the server's time zone). Fixtures that a
// walk-through or a test relies on use it, so that "overdue" and "due
// soon" keep their meaning as the calendar moves; an absolute date in a
// fixture silently changes meaning the day it passes.

// relativeDays parses a relative date cell and returns its day offset.
func relativeDays(s string) (int, bool) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, "today")
	if !ok {
		return 0, false
	}
	if rest == "" {
		return 0, true
	}
	if len(rest) < 3 || (rest[0] != '+' && rest[0] != '-') || !strings.HasSuffix(rest, "d") {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1 : len(rest)-1])
	if err != nil || n < 0 || n > 100000 {
		return 0, false
	}
	if rest[0] == '-' {
		n = -n
	}
	return n, true
}

// resolveRelativeDate turns a relative date cell into the date it names
// on now's day in now's location ("2006-01-02"); other values are
// returned unchanged.
func resolveRelativeDate(v any, now time.Time) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	days, ok := relativeDays(s)
	if !ok {
		return v
	}
	return now.AddDate(0, 0, days).Format("2006-01-02")
}
