package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule computes the ticks of one cron rule in its time zone. It is the
// one parser of cron specs: `seaflow validate`, `seaflow test` and the
// daemon's cron trigger all read the Schedule the config load built.
//
// Standard specs ("0 2 * * *", "@daily") are parsed by robfig/cron and
// evaluated in the job's zone, with two daylight-saving corrections that make
// a schedule behave like a classic cron daemon:
//   - spring forward: a tick whose wall-clock time does not exist that day
//     (02:30 when clocks jump from 02:00 to 03:00) fires at the instant of the
//     jump instead of being skipped for the day;
//   - fall back: wall-clock times that repeat (02:00–03:00 when clocks go back)
//     fire only once, in their first occurrence.
//
// "@every D" ticks are aligned to multiples of D since the Unix epoch, so every
// replica computes the same ticks (and the same event ids) whenever it started.
type Schedule struct {
	spec  *cron.SpecSchedule // nil for @every
	every time.Duration      // > 0 for @every
	loc   *time.Location
}

// ParseSchedule parses spec with cron.ParseStandard (5 fields or a
// descriptor, or "@every D" with D at least a second) for the zone loc
// (nil means UTC).
func ParseSchedule(spec string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, errors.New("set the time zone with tz:, not in the spec")
	}
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, err
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every %s is below one second", d)
		}
		return &Schedule{every: d, loc: loc}, nil
	}
	parsed, err := cron.ParseStandard(s)
	if err != nil {
		return nil, err
	}
	p, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %T", parsed)
	}
	cp := *p
	cp.Location = loc
	return &Schedule{spec: &cp, loc: loc}, nil
}

// Next returns the first tick strictly after t, or the zero time when the
// schedule has none within five years (e.g. "0 0 30 2 *").
func (s *Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		d := s.every
		// Floor to a multiple of d since the epoch, then step one interval.
		base := t.UTC().Truncate(d)
		return base.Add(d).In(s.loc)
	}
	t = t.In(s.loc)
	n := s.spec.Next(t)
	if n.IsZero() {
		return n
	}
	if g, ok := s.gapTick(t, n); ok {
		return g
	}
	// Fall back: skip ticks whose wall-clock time repeats one at or before t.
	for i := 0; !n.IsZero() && !wall(n).After(wall(t)) && i < 1000; i++ {
		n = s.spec.Next(n)
	}
	return n
}

// gapTick reports whether a clock change that jumps forward lies in (t, n)
// and the schedule has a tick in the wall-clock times it skips; the tick then
// fires at the instant of the change.
func (s *Schedule) gapTick(t, n time.Time) (time.Time, bool) {
	cur := t
	for i := 0; i < 64; i++ {
		_, end := cur.ZoneBounds()
		if end.IsZero() || !end.Before(n) {
			return time.Time{}, false
		}
		_, before := end.Add(-time.Nanosecond).Zone()
		_, after := end.Zone()
		if gap := after - before; gap > 0 {
			// Wall-clock times [wall(end-), wall(end-)+gap) do not exist. Ask
			// the schedule in a fixed zone that keeps the old offset.
			fixed := *s.spec
			fixed.Location = time.FixedZone("", before)
			start := end.In(fixed.Location) // wall clock at the jump, old offset
			if m := fixed.Next(start.Add(-time.Second)); !m.IsZero() && m.Before(start.Add(time.Duration(gap)*time.Second)) {
				return end.In(s.loc), true
			}
		}
		cur = end
	}
	return time.Time{}, false
}

// wall returns the wall-clock reading of t as a UTC time, so readings from
// different offsets compare by their digits.
func wall(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}
