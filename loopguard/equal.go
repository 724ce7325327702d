package loopguard

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seaflow/seaflow/seatable"
)

// sameValue reports whether a cell a webhook reports (seen: as an event
// holds it, select options as names, a date as a time or the string a
// stored event decodes it to) is the value seaflow wrote (written: as the
// op holds it). SeaTable stores what it is sent in its own form, so the
// comparison is by meaning: numbers as numbers, lists as sets, dates to
// the minute SeaTable keeps (a date-only column to the day), text trimmed.
//
// Dates come back without an offset in the server's time zone (§8 of
// docs/seatable-api.md, [?] which zone), so a date that differs from the
// written one by whole quarter hours, at most 14 hours, is the same write
// read in another zone.
func sameValue(written, seen any) bool {
	if empty(written) || empty(seen) {
		return empty(written) && empty(seen)
	}
	if a, ok := number(written); ok {
		b, ok := numberish(seen)
		return ok && sameNumber(a, b)
	}
	if b, ok := number(seen); ok {
		a, ok := numberish(written)
		return ok && sameNumber(a, b)
	}
	if a, ok := written.(bool); ok {
		b, ok := seen.(bool)
		return ok && a == b
	}
	if a, ok := list(written); ok {
		b, ok := list(seen)
		return ok && slices.Equal(a, b)
	}
	if a, ok := date(written); ok {
		if b, ok := date(seen); ok {
			return sameDate(a, b, dateOnly(seen))
		}
	}
	return strings.TrimSpace(text(written)) == strings.TrimSpace(text(seen))
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// numberish is number, or a string that reads as one.
func numberish(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil
	}
	return number(v)
}

func sameNumber(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) }

// list returns a list cell as a sorted set of its items' text.
func list(v any) ([]string, bool) {
	var items []string
	switch l := v.(type) {
	case []any:
		for _, it := range l {
			items = append(items, text(it))
		}
	case []string:
		items = append(items, l...)
	default:
		return nil, false
	}
	slices.Sort(items)
	return slices.Compact(items), true
}

func date(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		return seatable.ParseDate(t)
	}
	return time.Time{}, false
}

// dateOnly reports whether a seen date carries no time of day.
func dateOnly(v any) bool {
	s, ok := v.(string)
	return ok && len(strings.TrimSpace(s)) == len("2006-01-02")
}

// sameDate compares a written date with one SeaTable reports.
func sameDate(written, seen time.Time, seenDateOnly bool) bool {
	if seenDateOnly {
		// A date-only column keeps the day of the written time, in the
		// server's zone: within 14 hours of it either way.
		day := time.Date(seen.Year(), seen.Month(), seen.Day(), 0, 0, 0, 0, time.UTC)
		w := written.UTC()
		return !w.Before(day.Add(-14*time.Hour)) && w.Before(day.Add(38*time.Hour))
	}
	d := seen.Sub(written)
	if d < 0 {
		d = -d
	}
	if d < time.Minute {
		return true // SeaTable keeps minutes
	}
	if d > 14*time.Hour {
		return false
	}
	rest := d % (15 * time.Minute)
	return rest < time.Minute || rest > 14*time.Minute
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case map[string]any:
		if s, ok := x["text"].(string); ok { // a long-text object
			return s
		}
		if s, ok := x["display_value"].(string); ok { // a link
			return s
		}
		if s, ok := x["row_id"].(string); ok {
			return s
		}
	}
	return fmt.Sprint(v)
}
