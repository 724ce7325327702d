package budget

import (
	"math"
	"sort"
	"time"

	"github.com/seaflow/seaflow"
)

// Never is what Next answers when the limits leave a lane no call at all
// (a window whose calls the reserve takes entirely). Valid limits (see
// Limits.Validate) never produce it.
var Never = time.Unix(0, math.MaxInt64).UTC()

const never = math.MaxInt64

// pruneSlack keeps log entries this long past the longest rolling window,
// so a replica whose clock runs behind the one that pruned still counts
// them. It costs at most one minute of extra entries.
const pruneSlack = int64(time.Minute)

// State is one base's budget: the exact rolling log of its call times plus
// what SeaTable told us (a freeze after a 429, a cap from x-ratelimit-*
// headers). It holds no limits of its own: every method takes them, so a
// config reload applies at the next call.
//
// Memory: the log keeps only calls younger than the longest rolling window
// (plus one minute), so at the default limits at most 5,000 entries of 8
// bytes (40 KB in memory, about 20-25 KB encoded, see MarshalBinary). A
// month window does not keep a month of timestamps: calls pruned from the
// log are folded into one counter for the current calendar month.
//
// Times should come from clocks that agree to within a minute; a call
// recorded "in the future" by a replica whose clock runs ahead counts in
// every window until it is old enough everywhere (conservative).
//
// The zero State is empty and ready to use. A State is not safe for
// concurrent use; Keeper serializes access.
type State struct {
	log         []int64 // UnixNano of each recorded call, sorted ascending
	monthStart  int64   // UnixNano of the month monthCount refers to
	monthCount  int     // calls of that month already pruned from log
	frozenUntil int64   // UnixNano; no lane is admitted before it
	capUntil    int64   // UnixNano; SeaTable's cap applies before it
	capLeft     int     // calls SeaTable said remain until capUntil
	capUsed     int     // calls recorded since the cap was set
	// urgent is the UnixNano of each urgent call within Limits.memory,
	// sorted ascending: the demand the adaptive reserve follows.
	urgent []int64
}

// WindowUsage is how much of one window is spent, for status and metrics.
type WindowUsage struct {
	seaflow.Window // Span, Month and the Calls limit of the window
	// Used is the number of calls that count in the window now.
	Used int
	// Remaining is Calls-Used; for the shortest window it is lowered to
	// what SeaTable's last x-ratelimit headers allow while they apply
	// (admission always applies that cap, whatever the window). It ignores
	// lanes.
	Remaining int
	// NextFree is the earliest time this window (at its full limit), the
	// headers cap and any freeze admit a call; at or before now means now.
	NextFree time.Time
}

// Admit records a call of lane at now if every window, the lane's rules,
// any freeze and SeaTable's last headers allow it. ok means the call is
// recorded in every window at once, and next is then when the lane's
// following call could be admitted. !ok records nothing, and next is the
// exact earliest time the lane could be admitted if no other call is made.
func (s *State) Admit(l Limits, lane seaflow.Lane, now time.Time) (ok bool, next time.Time) {
	t := now.UnixNano()
	s.prune(l, t)
	if e := s.earliest(l, lane, t); e > t {
		return false, toTime(e)
	}
	s.record(t)
	if lane == seaflow.Urgent && l.Adaptive {
		s.urgent = insertSorted(s.urgent, t)
	}
	return true, toTime(s.earliest(l, lane, t))
}

// Reserve returns the reserve in force at now: Limits.UrgentReserve, or
// with Limits.Adaptive the burst margin, twice the peak urgent demand in
// any Limits.ReservePeakSpan, bounded by the floor and UrgentReserve. An
// adaptive reserve also leaves room for the urgent calls expected at the
// rate seen (see demandNext).
func (s *State) Reserve(l Limits, now time.Time) int {
	return s.reserve(l, now.UnixNano())
}

func (s *State) reserve(l Limits, t int64) int {
	if !l.Adaptive || l.UrgentReserve <= 0 {
		return l.UrgentReserve
	}
	return min(l.UrgentReserve, max(l.floor(), 2*s.urgentPeak(l, t)))
}

// demandNext is, for a call of lane normal or bulk under an adaptive
// reserve, the earliest time t' >= t at which the call leaves room, at
// every moment until it expires, for the reserve (the burst margin) plus
// the urgent calls expected at the rate seen (urgentRate) from t' on:
//
//	count(τ) + 1 + reserve + rate·(τ−t') <= calls   for every τ in [t', t'+span)
//
// where count(τ) is the number of calls already recorded that still count
// at τ. count only drops, at each call's expiry e_i = x_i+span, so the
// worst τ lies just before an expiry, where count is the number of calls
// recorded at or after x_i. That gives a bound per call: t' >= e_i −
// room_i/rate with room_i = calls − 1 − reserve − count(e_i−), or t' >=
// e_i when room_i < 0 (the call must have expired). With no urgent demand
// (rate 0) this is the fixed reserve's rule. It is exact for the demand
// measured at t; as that demand ages out, the answer only gets earlier.
func (s *State) demandNext(l Limits, span int64, calls, reserve int, t int64) int64 {
	rate := s.urgentRate(l, t)
	next := t
	n := len(s.log)
	for i := s.firstAfter(t - span); i < n; i++ {
		e := s.log[i] + span
		room := calls - 1 - reserve - (n - i)
		switch {
		case room < 0:
			next = max(next, e)
		case rate > 0:
			next = max(next, e-int64(float64(room)/rate))
		}
	}
	return next
}

// urgentRate is the urgent demand the adaptive reserve expects, in calls
// per nanosecond: the rate of the last hour, or of the whole memory when
// that is higher.
func (s *State) urgentRate(l Limits, t int64) float64 {
	if len(s.urgent) == 0 {
		return 0
	}
	hour := int64(time.Hour)
	count := func(span int64) int {
		return len(s.urgent) - sort.Search(len(s.urgent), func(i int) bool { return s.urgent[i] > t-span })
	}
	mem := l.memory()
	return max(float64(count(hour))/float64(hour), float64(count(mem))/float64(mem))
}

// urgentPeak is the most urgent calls in any span of l.peakSpan() that
// ends within l.memory() before t.
func (s *State) urgentPeak(l Limits, t int64) int {
	from := t - l.memory()
	i0 := sort.Search(len(s.urgent), func(i int) bool { return s.urgent[i] > from })
	u := s.urgent[i0:]
	span, peak, lo := l.peakSpan(), 0, 0
	for hi, c := range u {
		for u[lo] <= c-span {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

// insertSorted inserts t into the ascending log.
func insertSorted(log []int64, t int64) []int64 {
	n := len(log)
	if n == 0 || log[n-1] <= t {
		return append(log, t)
	}
	i := sort.Search(n, func(i int) bool { return log[i] > t })
	log = append(log, 0)
	copy(log[i+1:], log[i:])
	log[i] = t
	return log
}

// Refund removes the call recorded at at (see Admit), for a call that
// never reached SeaTable (or, for a Group, was not recorded everywhere),
// and gives back its slot of SeaTable's headers cap when the cap still
// applies. A call already folded into the month's count comes off that
// count. It reports whether there was one to remove.
func (s *State) Refund(at time.Time) bool {
	t := at.UnixNano()
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i] >= t })
	switch {
	case i < len(s.log) && s.log[i] == t:
		s.log = append(s.log[:i], s.log[i+1:]...)
	case t >= s.monthStart && s.monthCount > 0:
		s.monthCount-- // already folded into the month's count
	default:
		return false
	}
	if t < s.capUntil && s.capUsed > 0 {
		s.capUsed--
	}
	if j := sort.Search(len(s.urgent), func(j int) bool { return s.urgent[j] >= t }); j < len(s.urgent) && s.urgent[j] == t {
		s.urgent = append(s.urgent[:j], s.urgent[j+1:]...)
	}
	return true
}

// Next returns what Admit would answer for next without recording
// anything: the earliest time the lane could be admitted, at or before now
// meaning now.
func (s *State) Next(l Limits, lane seaflow.Lane, now time.Time) time.Time {
	return toTime(s.earliest(l, lane, now.UnixNano()))
}

// ObserveHeaders takes SeaTable's x-ratelimit-limit, -remaining and -reset
// of a response seen at now. Until reset, at most remaining further calls
// are admitted, on top of (never instead of) our own windows, so when
// SeaTable counts fewer calls remaining than we do, SeaTable wins. A later
// reset starts a new cap; the same or an earlier one keeps the stricter of
// the two. Headers without a reset in the future are ignored.
func (s *State) ObserveHeaders(limit, remaining int, reset time.Time, now time.Time) {
	t := now.UnixNano()
	if reset.IsZero() || reset.UnixNano() <= t {
		return
	}
	r := reset.UnixNano()
	remaining = max(remaining, 0)
	if limit > 0 {
		remaining = min(remaining, limit)
	}
	if s.capUntil > t && r <= s.capUntil {
		s.capLeft, s.capUsed = min(max(s.capLeft-s.capUsed, 0), remaining), 0
		return
	}
	s.capUntil, s.capLeft, s.capUsed = r, remaining, 0
}

// Freeze blocks every lane until until (a 429). An earlier until than the
// current freeze changes nothing.
func (s *State) Freeze(until time.Time) {
	if u := until.UnixNano(); u > s.frozenUntil {
		s.frozenUntil = u
	}
}

// FrozenUntil returns the end of the current freeze, the zero Time when
// there has been none since the state was last pruned.
func (s *State) FrozenUntil() time.Time {
	if s.frozenUntil == 0 {
		return time.Time{}
	}
	return toTime(s.frozenUntil)
}

// Usage reports every window of l at now, in the order of l.Windows.
func (s *State) Usage(l Limits, now time.Time) []WindowUsage {
	t := now.UnixNano()
	out := make([]WindowUsage, 0, len(l.Windows))
	// SeaTable's x-ratelimit headers describe its shortest window (the
	// minute, per its docs): their cap lowers that window's Remaining only,
	// so a day's figure is not shown as the minute's.
	shortest := -1
	for i, w := range l.Windows {
		if !w.Month && (shortest < 0 || w.Span < l.Windows[shortest].Span) {
			shortest = i
		}
	}
	for i, w := range l.Windows {
		u := WindowUsage{Window: w}
		var next int64
		if w.Month {
			u.Used = s.monthUsed(monthStartOf(t))
			next = s.monthNext(t, w.Calls)
		} else {
			u.Used = s.countAfter(t - l.span(w))
			next = s.spanNext(t, l.span(w), w.Calls)
		}
		u.Remaining = max(w.Calls-u.Used, 0)
		if t < s.capUntil && i == shortest {
			u.Remaining = min(u.Remaining, max(s.capLeft-s.capUsed, 0))
		}
		u.NextFree = toTime(max(next, s.blockedUntil(t)))
		out = append(out, u)
	}
	return out
}

// Len returns the number of call times held in the log.
func (s *State) Len() int { return len(s.log) }

// earliest is the core of Admit and Next: the earliest time >= t at which
// lane is admitted given no further calls. Every constraint below is
// monotone (once satisfied it stays satisfied while no call is added), so
// the answer is the largest of their individual earliest times.
func (s *State) earliest(l Limits, lane seaflow.Lane, t int64) int64 {
	next := s.blockedUntil(t)
	li := l.Longest()
	reserve := 0
	if lane != seaflow.Urgent {
		reserve = s.reserve(l, t)
	}
	for i, w := range l.Windows {
		c := w.Calls
		if i == li && lane != seaflow.Urgent {
			if l.Adaptive && !w.Month {
				next = max(next, s.demandNext(l, l.span(w), w.Calls, reserve, t))
				continue
			}
			c -= reserve
		}
		if w.Month {
			next = max(next, s.monthNext(t, c))
		} else {
			next = max(next, s.spanNext(t, l.span(w), c))
		}
	}
	if lane == seaflow.Bulk && li >= 0 {
		next = max(next, s.bulkNext(l, li, reserve, t))
	}
	return next
}

// blockedUntil applies the freeze and the headers cap at t.
func (s *State) blockedUntil(t int64) int64 {
	next := max(t, s.frozenUntil)
	if t < s.capUntil && s.capUsed >= s.capLeft {
		next = max(next, s.capUntil)
	}
	return next
}

// spanNext is the earliest time >= t at which fewer than c calls fall in
// the rolling window (time-span, time]. A call at x counts while time <
// x+span, so when n >= c calls count at t, the (n-c)th of them (oldest
// first) must expire: the answer is its time plus span.
func (s *State) spanNext(t, span int64, c int) int64 {
	if c <= 0 {
		return never
	}
	i0 := s.firstAfter(t - span)
	n := len(s.log) - i0
	if n < c {
		return t
	}
	return s.log[i0+n-c] + span
}

// monthNext is the earliest time >= t at which fewer than c calls count in
// the calendar month.
func (s *State) monthNext(t int64, c int) int64 {
	if c <= 0 {
		return never
	}
	ms := monthStartOf(t)
	for range 1200 {
		if s.monthUsed(ms) < c {
			return max(t, ms)
		}
		ms = nextMonthOf(ms)
	}
	return never
}

// bulkNext is the earliest time >= t at which the bulk spend curve over
// the longest window (index li) admits a call. See the package
// documentation for the rule.
func (s *State) bulkNext(l Limits, li, reserve int, t int64) int64 {
	w := l.Windows[li]
	a := w.Calls - reserve
	n := l.segments()
	if a <= 0 {
		return never
	}
	if w.Month {
		return s.bulkMonthNext(t, a, n)
	}
	next := t
	for k := 1; k < n; k++ { // k == n is the window itself, checked already
		span := mulDiv(int64(w.Span), k, n)
		if span <= 0 {
			continue
		}
		next = max(next, s.spanNext(t, span, curve(a, k, n)))
	}
	return next
}

// bulkMonthNext applies the calendar form of the curve: in the kth of n
// equal parts of the month, at most curve(a, k, n) calls of the month.
func (s *State) bulkMonthNext(t int64, a, n int) int64 {
	ms := monthStartOf(t)
	start := t
	for range 1200 {
		me := nextMonthOf(ms)
		used := s.monthUsed(ms)
		length := me - ms
		from := max(start, ms)
		k := min(int((from-ms)/length*int64(n)+(from-ms)%length*int64(n)/length), n-1)
		for k > 0 && ms+mulDiv(length, k, n) > from {
			k--
		}
		for k+1 < n && ms+mulDiv(length, k+1, n) <= from {
			k++
		}
		// from lies in part k+1 (1-based), which starts at ms+mulDiv(length, k, n).
		for j := k + 1; j <= n; j++ {
			if used < curve(a, j, n) {
				return max(from, ms+mulDiv(length, j-1, n))
			}
		}
		ms = me
	}
	return never
}

// curve is the bulk allowance of k of n steps of a window of a calls:
// ceil(a*k/n).
func curve(a, k, n int) int {
	return int((int64(a)*int64(k) + int64(n) - 1) / int64(n))
}

// mulDiv returns floor(d*k/n) without overflow for n, k <= maxBulkSegments.
func mulDiv(d int64, k, n int) int64 {
	return d/int64(n)*int64(k) + d%int64(n)*int64(k)/int64(n)
}

// monthUsed counts the calls in the calendar month starting at ms, and any
// recorded later (conservative when clocks disagree).
func (s *State) monthUsed(ms int64) int {
	used := s.countFrom(ms)
	if ms <= s.monthStart {
		used += s.monthCount
	}
	return used
}

// record adds a call at t to the log (and to the headers cap).
func (s *State) record(t int64) {
	if t < s.capUntil {
		s.capUsed++
	}
	n := len(s.log)
	if n == 0 || s.log[n-1] <= t {
		s.log = append(s.log, t)
		return
	}
	i := s.firstAfter(t)
	s.log = append(s.log, 0)
	copy(s.log[i+1:], s.log[i:])
	s.log[i] = t
}

// prune drops what no window of l can count at t or later: log entries
// older than the longest rolling span (plus pruneSlack), folding those of
// the current month into monthCount, and a freeze or cap that has ended.
func (s *State) prune(l Limits, t int64) {
	if ms := monthStartOf(t); ms > s.monthStart {
		// Everything pruned before was older than an earlier prune time,
		// hence older than ms: the new month starts from zero pruned calls.
		s.monthStart, s.monthCount = ms, 0
	}
	if s.frozenUntil != 0 && t >= s.frozenUntil {
		s.frozenUntil = 0
	}
	if s.capUntil != 0 && t >= s.capUntil {
		s.capUntil, s.capLeft, s.capUsed = 0, 0, 0
	}
	var keep int64
	for _, w := range l.Windows {
		if !w.Month {
			keep = max(keep, l.span(w))
		}
	}
	if len(s.urgent) > 0 {
		j := sort.Search(len(s.urgent), func(j int) bool { return s.urgent[j] > t-l.memory()-pruneSlack })
		s.urgent = s.urgent[j:]
	}
	i := s.firstAfter(t - keep - pruneSlack)
	if i == 0 {
		return
	}
	for _, c := range s.log[:i] {
		if c >= s.monthStart {
			s.monthCount++
		}
	}
	s.log = s.log[i:]
}

// firstAfter returns the index of the first entry > x.
func (s *State) firstAfter(x int64) int {
	return sort.Search(len(s.log), func(i int) bool { return s.log[i] > x })
}

// countAfter counts the entries > x.
func (s *State) countAfter(x int64) int { return len(s.log) - s.firstAfter(x) }

// countFrom counts the entries >= x.
func (s *State) countFrom(x int64) int {
	return len(s.log) - sort.Search(len(s.log), func(i int) bool { return s.log[i] >= x })
}

func monthStartOf(ns int64) int64 {
	t := time.Unix(0, ns).UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).UnixNano()
}

func nextMonthOf(ms int64) int64 {
	t := time.Unix(0, ms).UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
}

func toTime(ns int64) time.Time {
	if ns == never {
		return Never
	}
	return time.Unix(0, ns).UTC()
}

// CallsSince returns the recorded call times at or after since, oldest
// first (for the status page's call history). The log keeps the longest
// rolling window plus a minute, so older calls are not there.
func (s *State) CallsSince(since time.Time) []time.Time {
	from := since.UnixNano()
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i] >= from })
	out := make([]time.Time, 0, len(s.log)-i)
	for _, t := range s.log[i:] {
		out = append(out, time.Unix(0, t))
	}
	return out
}
