package emulator

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// The limits are rolling windows per base ("the relevant period is
// always checked at the time of access", LIM-old): a call at t is allowed
// when fewer than Calls accepted calls lie in (t-Window, t] for every
// window. Rejected calls (429, real or injected) do not consume budget, so
// a client that backs off is not punished further; this is a choice, the
// real gateway's behaviour is [?].

// inWindow counts the calls in (now-w, now]. b.calls is sorted.
func (b *base) inWindow(now time.Time, w time.Duration) (int, int) {
	from := now.Add(-w)
	i := sort.Search(len(b.calls), func(i int) bool { return b.calls[i].After(from) })
	return len(b.calls) - i, i
}

// teamCount is a team's calls in one calendar month.
type teamCount struct {
	month time.Time // the first instant of the month, UTC
	calls int
}

// monthOf returns the first instant of t's calendar month in UTC.
func monthOf(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// team returns b's team count for now's month, reset when a month began.
func (e *Emulator) team(b *base, now time.Time) *teamCount {
	tc := e.teams[b.team]
	if tc == nil {
		tc = &teamCount{}
		e.teams[b.team] = tc
	}
	if m := monthOf(now); !tc.month.Equal(m) {
		tc.month, tc.calls = m, 0
	}
	return tc
}

// overLimit returns the longest violated limit, if any, and when a slot of
// it frees (the oldest call in the window leaves it). The monthly team
// quota counts as the longest; its slots free when the month ends.
func (e *Emulator) overLimit(b *base, now time.Time) (Limit, time.Time, bool) {
	if e.monthly > 0 {
		if tc := e.team(b, now); tc.calls >= e.monthly {
			return Limit{Calls: e.monthly}, tc.month.AddDate(0, 1, 0), true
		}
	}
	for i := len(e.limits) - 1; i >= 0; i-- {
		l := e.limits[i]
		n, first := b.inWindow(now, l.Window)
		if n >= l.Calls {
			// The call that must leave for one more to fit.
			return l, b.calls[first+n-l.Calls].Add(l.Window), true
		}
	}
	return Limit{}, time.Time{}, false
}

// record notes an accepted call and prunes calls older than the longest
// window.
func (e *Emulator) record(b *base, now time.Time) {
	if e.monthly > 0 {
		e.team(b, now).calls++
	}
	b.calls = append(b.calls, now)
	if len(e.limits) == 0 {
		b.calls = b.calls[:0]
		return
	}
	longest := e.limits[len(e.limits)-1].Window
	_, first := b.inWindow(now, longest)
	if first > 1024 && first > len(b.calls)/2 {
		b.calls = append(b.calls[:0:0], b.calls[first:]...)
	}
}

// minuteLimit is the limit the x-ratelimit headers describe: the
// one-minute window, else the shortest.
func (e *Emulator) minuteLimit() (Limit, bool) {
	for _, l := range e.limits {
		if l.Window == time.Minute {
			return l, true
		}
	}
	if len(e.limits) == 0 {
		return Limit{}, false
	}
	return e.limits[0], true
}

// setRateHeaders writes x-ratelimit-limit/-remaining/-reset for limit l:
// reset is the Unix second when the oldest call in the window expires
// (now when the window is empty).
func (e *Emulator) setRateHeaders(h http.Header, b *base, l Limit, now time.Time) {
	n, first := b.inWindow(now, l.Window)
	reset := now
	if n > 0 {
		reset = b.calls[first].Add(l.Window)
	}
	remaining := l.Calls - n
	if remaining < 0 {
		remaining = 0
	}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(l.Calls))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
}

// ceilUnix rounds up to whole seconds so a client waiting until the reset
// second never arrives early.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// exchangeLimit is how many token exchanges a base's API tokens may make
// in any rolling minute: SeaTable Cloud's 60/min (LIM), applied whatever
// the plan. Counting per base rather than per client address is [?].
const exchangeLimit = 60

// overExchangeLimit reports whether one more exchange for b at now would
// exceed exchangeLimit, and how long until a slot frees; otherwise it
// records the exchange. Callers hold e.mu.
func (e *Emulator) overExchangeLimit(b *base, now time.Time) (time.Duration, bool) {
	from := now.Add(-time.Minute)
	i := sort.Search(len(b.exchanges), func(i int) bool { return b.exchanges[i].After(from) })
	b.exchanges = b.exchanges[i:]
	if len(b.exchanges) >= exchangeLimit {
		return b.exchanges[0].Add(time.Minute).Sub(now), true
	}
	b.exchanges = append(b.exchanges, now)
	return 0, false
}
