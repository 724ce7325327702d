package budget

import (
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// oracle is a naive model of the budget rules, written from the package
// documentation: it keeps every call forever and counts by definition.
type oracle struct {
	l        Limits
	calls    []int64 // every admitted call, in order (time never goes back)
	lanes    []seaflow.Lane
	frozen   int64
	capUntil int64
	capLeft  int
	capIdx   int // calls[capIdx:] count against the cap
}

// count returns the calls in (from, ∞).
func (o *oracle) after(from int64) int {
	return len(o.calls) - sort.Search(len(o.calls), func(i int) bool { return o.calls[i] > from })
}

// from returns the calls in [from, ∞).
func (o *oracle) from(from int64) int {
	return len(o.calls) - sort.Search(len(o.calls), func(i int) bool { return o.calls[i] >= from })
}

func monthOf(t int64) (start, end int64) {
	u := time.Unix(0, t).UTC()
	s := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	return s.UnixNano(), s.AddDate(0, 1, 0).UnixNano()
}

// frac returns floor(d*k/n) computed with big integers.
func frac(d int64, k, n int) int64 {
	x := new(big.Int).Mul(big.NewInt(d), big.NewInt(int64(k)))
	return x.Div(x, big.NewInt(int64(n))).Int64()
}

// allowance returns ceil(a*k/n).
func allowance(a, k, n int) int {
	x := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(k)))
	x.Add(x, big.NewInt(int64(n-1)))
	return int(x.Div(x, big.NewInt(int64(n))).Int64())
}

func (o *oracle) admits(lane seaflow.Lane, t int64) bool {
	if t < o.frozen {
		return false
	}
	if t < o.capUntil && len(o.calls)-o.capIdx >= o.capLeft {
		return false
	}
	li := o.l.Longest()
	for i, w := range o.l.Windows {
		c := w.Calls
		if i == li && lane != seaflow.Urgent {
			c -= o.l.UrgentReserve
		}
		var used int
		if w.Month {
			ms, _ := monthOf(t)
			used = o.from(ms)
		} else {
			used = o.after(t - int64(w.Span))
		}
		if used >= c {
			return false
		}
	}
	if lane != seaflow.Bulk || li < 0 {
		return true
	}
	w := o.l.Windows[li]
	a := w.Calls - o.l.UrgentReserve
	n := o.l.BulkSegments
	if n == 0 {
		n = DefaultBulkSegments
	}
	if w.Month {
		ms, me := monthOf(t)
		k := 1
		for k < n && ms+frac(me-ms, k, n) <= t {
			k++
		}
		return o.from(ms) < allowance(a, k, n)
	}
	for k := 1; k <= n; k++ {
		if o.after(t-frac(int64(w.Span), k, n)) >= allowance(a, k, n) {
			return false
		}
	}
	return true
}

func (o *oracle) observe(limit, remaining int, reset, now int64) {
	if reset <= now {
		return
	}
	remaining = max(remaining, 0)
	if limit > 0 && remaining > limit {
		remaining = limit
	}
	if now < o.capUntil && reset <= o.capUntil {
		left := max(o.capLeft-(len(o.calls)-o.capIdx), 0)
		o.capLeft, o.capIdx = min(left, remaining), len(o.calls)
		return
	}
	o.capUntil, o.capLeft, o.capIdx = reset, remaining, len(o.calls)
}

// randomLimits returns 1-3 rolling windows (and, with month, a month
// window) with small call counts so that windows fill up often.
func randomLimits(rng *rand.Rand, month bool) Limits {
	var l Limits
	for range 1 + rng.IntN(3) {
		var span time.Duration
		if month {
			span = time.Duration(1+rng.IntN(72)) * time.Hour
		} else {
			span = time.Duration(1+rng.Int64N(int64(2*time.Hour/time.Millisecond))) * time.Millisecond
		}
		l.Windows = append(l.Windows, seaflow.Window{Span: span, Calls: 1 + rng.IntN(60)})
	}
	if month {
		l.Windows = append(l.Windows, seaflow.Window{Month: true, Calls: 5 + rng.IntN(300)})
	}
	lw := l.Windows[l.Longest()]
	if rng.IntN(3) > 0 {
		l.UrgentReserve = rng.IntN(lw.Calls)
	}
	switch rng.IntN(4) {
	case 0:
		l.BulkSegments = 0
	case 1:
		l.BulkSegments = 1
	default:
		l.BulkSegments = 2 + rng.IntN(40)
	}
	return l
}

func clone(t *testing.T, s *State) *State {
	t.Helper()
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var c State
	if err := c.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	again, _ := c.MarshalBinary()
	if string(again) != string(data) {
		t.Fatal("encoding does not round-trip")
	}
	return &c
}

// TestStateMatchesOracle drives random limits with ~100k requests at random
// times and lanes, with freezes and headers mixed in, and checks every
// answer against the naive oracle: the same decisions, and every next is
// exact (the oracle admits at next and not at next-1ns).
func TestStateMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2026))
	var st scenarioStats
	for round := 0; st.requests < 100_000; round++ {
		month := round%4 == 3
		l := randomLimits(rng, month)
		if err := l.Validate(); err != nil {
			t.Fatalf("round %d: random limits invalid: %v", round, err)
		}
		st.add(runScenario(t, rng, l, month, 400, false))
	}
	t.Logf("%+v", st)
	if st.refused < st.requests/10 || st.exact < st.refused/2 || st.calls < st.requests/4 {
		t.Fatalf("scenarios too easy to prove much: %+v", st)
	}
}

// TestDefaultLimitsMatchOracle runs the default limits with mostly bursts
// and short gaps, so the day window fills and the log holds thousands of
// calls.
func TestDefaultLimitsMatchOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	st := runScenario(t, rng, DefaultLimits(), false, 30_000, true)
	t.Logf("%+v", st)
	if st.maxLog < 5000 {
		t.Fatalf("the day window never filled: %+v", st)
	}
}

func runScenario(t *testing.T, rng *rand.Rand, l Limits, month bool, n int, calm bool) (stats scenarioStats) {
	t.Helper()
	longest := l.Windows[l.Longest()]
	span := int64(longest.Span)
	if longest.Month {
		span = int64(31 * 24 * time.Hour)
	}
	pace := span / int64(longest.Calls) // even pacing of the longest window
	if month {
		pace = min(pace, int64(3*time.Hour))
	}
	start := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC)
	now := start.UnixNano() + rng.Int64N(int64(time.Hour))
	o := &oracle{l: l}
	s := &State{}
	var lastNext int64
	for i := range n {
		r := rng.IntN(100)
		if calm && r >= 62 && rng.IntN(300) > 0 {
			r = 0 // mostly bursts and small gaps: fill the longest window
		}
		switch {
		case r < 30:
		case r < 62:
			now += rng.Int64N(pace + 1)
		case r < 80:
			now += rng.Int64N(10*pace + 1)
		case r < 90:
			if lastNext > now {
				now = lastNext - int64(rng.IntN(2)) // exactly next, or 1ns before
			}
		case r < 93:
			now += rng.Int64N(2*span + 1)
		case r < 95:
			until := now + rng.Int64N(span/4+1)
			s.Freeze(time.Unix(0, until))
			o.frozen = max(o.frozen, until)
			continue
		case r < 97:
			limit := longest.Calls
			rem := rng.IntN(limit + 5)
			reset := now + rng.Int64N(span/2+1) - span/20
			s.ObserveHeaders(limit, rem, time.Unix(0, reset), time.Unix(0, now))
			o.observe(limit, rem, reset, now)
			continue
		}
		lane := seaflow.Lanes[rng.IntN(len(seaflow.Lanes))]
		want := o.admits(lane, now)
		peek := s.Next(l, lane, time.Unix(0, now))
		ok, next := s.Admit(l, lane, time.Unix(0, now))
		if ok != want {
			t.Fatalf("request %d (%s at %s, limits %+v): Admit %v, oracle %v", i, lane, time.Unix(0, now).UTC(), l, ok, want)
		}
		if ok {
			if peek.UnixNano() > now {
				t.Fatalf("request %d: Next %s after now although Admit succeeded", i, peek)
			}
			o.calls = append(o.calls, now)
			o.lanes = append(o.lanes, lane)
			lastNext = next.UnixNano()
		} else {
			nx := next.UnixNano()
			if !peek.Equal(next) {
				t.Fatalf("request %d: Next %s, Admit next %s", i, peek, next)
			}
			if nx <= now {
				t.Fatalf("request %d: refused with next %s not after now %s", i, next, time.Unix(0, now).UTC())
			}
			if nx != never {
				if !o.admits(lane, nx) {
					t.Fatalf("request %d (%s, limits %+v): oracle refuses at next %s", i, lane, l, next)
				}
				if o.admits(lane, nx-1) {
					t.Fatalf("request %d (%s, limits %+v): oracle admits at next-1ns %s", i, lane, l, next)
				}
				c := clone(t, s)
				if ok, _ := c.Admit(l, lane, time.Unix(0, nx-1)); ok {
					t.Fatalf("request %d: clone admits at next-1ns", i)
				}
				if ok, _ := c.Admit(l, lane, next); !ok {
					t.Fatalf("request %d: clone refuses at next", i)
				}
			}
			lastNext = nx
			stats.refused++
			if nx != never {
				stats.exact++
			}
		}
		stats.maxLog = max(stats.maxLog, s.Len())
		if i%97 == 0 {
			checkUsage(t, s, o, now)
			s = clone(t, s)
		}
	}
	checkNeverExceeded(t, o)
	stats.calls, stats.requests = len(o.calls), n
	return stats
}

// checkUsage compares Usage with the oracle's counts, and the log's length
// with what the windows can still count (it is pruned).
func checkUsage(t *testing.T, s *State, o *oracle, now int64) {
	t.Helper()
	var keep int64
	for i, u := range s.Usage(o.l, time.Unix(0, now)) {
		w := o.l.Windows[i]
		var used int
		if w.Month {
			ms, _ := monthOf(now)
			used = o.from(ms)
		} else {
			used = o.after(now - int64(w.Span))
			keep = max(keep, int64(w.Span))
		}
		if u.Used != used || u.Calls != w.Calls {
			t.Fatalf("usage of %s: used %d of %d, oracle %d of %d", w, u.Used, u.Calls, used, w.Calls)
		}
		if u.Remaining > w.Calls-used {
			t.Fatalf("usage of %s: remaining %d > %d", w, u.Remaining, w.Calls-used)
		}
	}
	if held, need := s.Len(), o.after(now-keep-pruneSlack); held > need && held > 0 {
		if s.log[0] <= now-keep-pruneSlack {
			t.Fatalf("log holds %d calls, windows need %d", held, need)
		}
	}
}

// checkNeverExceeded checks, over the whole history, that no window was
// ever exceeded in any interval, that normal and bulk never spent the
// reserve, and that bulk never spent above its curve.
func checkNeverExceeded(t *testing.T, o *oracle) {
	t.Helper()
	c := o.calls
	li := o.l.Longest()
	for wi, w := range o.l.Windows {
		if w.Month {
			for i := range c {
				ms, me := monthOf(c[i])
				first := sort.Search(len(c), func(j int) bool { return c[j] >= ms })
				end := sort.Search(len(c), func(j int) bool { return c[j] >= me })
				if end-first > w.Calls {
					t.Fatalf("month window %s exceeded: %d calls in %s", w, end-first, time.Unix(0, ms).UTC().Format("2006-01"))
				}
			}
			continue
		}
		// Any half-open interval of length Span holding Calls+1 calls would
		// contain calls i and i+Calls less than Span apart.
		for i := 0; i+w.Calls < len(c); i++ {
			if c[i+w.Calls]-c[i] < int64(w.Span) {
				t.Fatalf("window %s exceeded: %d calls within %s", w, w.Calls+1, time.Duration(c[i+w.Calls]-c[i]))
			}
		}
		if wi != li {
			continue
		}
		// Normal and bulk never made the longest window count more than
		// Calls-UrgentReserve.
		for i := range c {
			if o.lanes[i] == seaflow.Urgent {
				continue
			}
			j := sort.Search(i+1, func(j int) bool { return c[j] > c[i]-int64(w.Span) })
			if i+1-j > w.Calls-o.l.UrgentReserve {
				t.Fatalf("%s call %d spent the reserve: %d calls in %s", o.lanes[i], i, i+1-j, w)
			}
		}
	}
	lw := o.l.Windows[li]
	if lw.Month {
		return
	}
	n := o.l.BulkSegments
	if n == 0 {
		n = DefaultBulkSegments
	}
	a := lw.Calls - o.l.UrgentReserve
	for i := range c {
		if o.lanes[i] != seaflow.Bulk {
			continue
		}
		for k := 1; k <= n; k++ {
			j := sort.Search(i+1, func(j int) bool { return c[j] > c[i]-frac(int64(lw.Span), k, n) })
			if i+1-j > allowance(a, k, n) {
				t.Fatalf("bulk call %d above the curve: %d calls in the trailing %d/%d of %s", i, i+1-j, k, n, lw)
			}
		}
	}
}

// scenarioStats shows what a scenario exercised, so a test can insist that
// it reached the cases it is about.
type scenarioStats struct{ requests, calls, refused, exact, maxLog int }

func (a *scenarioStats) add(b scenarioStats) {
	a.requests += b.requests
	a.calls += b.calls
	a.refused += b.refused
	a.exact += b.exact
	a.maxLog = max(a.maxLog, b.maxLog)
}
