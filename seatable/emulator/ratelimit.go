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

// overLimit returns the longest violated limit, if any, and when a slot of
// it frees (the oldest call in the window leaves it).
func (e *Emulator) overLimit(b *base, now time.Time) (Limit, time.Time, bool) {
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
