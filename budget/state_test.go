package budget

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func mustAdmit(t *testing.T, s *State, l Limits, lane seaflow.Lane, at time.Time, n int) {
	t.Helper()
	for i := range n {
		if ok, next := s.Admit(l, lane, at); !ok {
			t.Fatalf("%s call %d at %s refused, next %s", lane, i+1, at, next)
		}
	}
}

// fill admits calls of lane at now until refused, returns how many were
// admitted and the next time.
func fill(s *State, l Limits, lane seaflow.Lane, now time.Time) (int, time.Time) {
	n := 0
	for {
		ok, next := s.Admit(l, lane, now)
		if !ok {
			return n, next
		}
		n++
	}
}

func TestRollingWindowIsNotABucket(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: 24 * time.Hour, Calls: 5000}}}
	s := &State{}
	n, next := fill(s, l, seaflow.Urgent, t0)
	if n != 5000 {
		t.Fatalf("admitted %d at once, want 5000", n)
	}
	if want := t0.Add(24 * time.Hour); !next.Equal(want) {
		t.Fatalf("next %s, want %s", next, want)
	}
	// A bucket refilled at 5000/day would admit ~2500 more by noon: a
	// rolling window admits none until the first call is a day old.
	if n, _ := fill(s, l, seaflow.Urgent, t0.Add(12*time.Hour)); n != 0 {
		t.Fatalf("admitted %d at noon", n)
	}
	if ok, _ := s.Admit(l, seaflow.Urgent, next.Add(-time.Nanosecond)); ok {
		t.Fatal("admitted 1ns before next")
	}
	if n, next := fill(s, l, seaflow.Urgent, t0.Add(24*time.Hour)); n != 5000 || !next.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("a day later admitted %d, next %s", n, next)
	}
}

func TestAllWindowsAtOnce(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Second, Calls: 3}, {Span: time.Minute, Calls: 5}}}
	s := &State{}
	n, next := fill(s, l, seaflow.Urgent, t0)
	if n != 3 || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("admitted %d, next %s; want 3, +1s", n, next)
	}
	// The refused calls were not recorded in the minute window.
	if u := s.Usage(l, t0); u[0].Used != 3 || u[1].Used != 3 || u[1].Remaining != 2 {
		t.Fatalf("usage %+v", u)
	}
	n, next = fill(s, l, seaflow.Urgent, t0.Add(time.Second))
	if n != 2 || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("second burst admitted %d, next %s; want 2, +1m", n, next)
	}
}

func TestNextIsExactWithSeveralCallsInOneWindow(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: 10 * time.Second, Calls: 3}}}
	s := &State{}
	for _, at := range []time.Duration{0, 2 * time.Second, 7 * time.Second} {
		mustAdmit(t, s, l, seaflow.Urgent, t0.Add(at), 1)
	}
	for _, c := range []struct{ at, next time.Duration }{
		{8 * time.Second, 10 * time.Second},
		{10*time.Second - 1, 10 * time.Second},
	} {
		if got := s.Next(l, seaflow.Urgent, t0.Add(c.at)); !got.Equal(t0.Add(c.next)) {
			t.Fatalf("next at +%s = %s, want +%s", c.at, got.Sub(t0), c.next)
		}
	}
	mustAdmit(t, s, l, seaflow.Urgent, t0.Add(10*time.Second), 1)
	if got := s.Next(l, seaflow.Urgent, t0.Add(10*time.Second)); !got.Equal(t0.Add(12 * time.Second)) {
		t.Fatalf("next %s, want +12s", got.Sub(t0))
	}
}

func TestReserveOnlyForUrgent(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 300}, {Span: 24 * time.Hour, Calls: 1000}}, UrgentReserve: 100}
	s := &State{}
	now := t0
	for i := 0; i < 900; i += 300 { // 900 normal calls, 300 a minute
		mustAdmit(t, s, l, seaflow.Normal, now, 300)
		now = now.Add(time.Minute)
	}
	for _, lane := range []seaflow.Lane{seaflow.Normal, seaflow.Bulk} {
		if ok, next := s.Admit(l, lane, now); ok || !next.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("%s: ok %v next %s; want refused until the first calls are a day old", lane, ok, next)
		}
	}
	if n, _ := fill(s, l, seaflow.Urgent, now); n != 100 {
		t.Fatalf("urgent got %d of the reserve, want 100", n)
	}
	// The minute window has no reserve: urgent and normal share it.
	s2 := &State{}
	mustAdmit(t, s2, l, seaflow.Normal, t0, 300)
	if ok, _ := s2.Admit(l, seaflow.Urgent, t0); ok {
		t.Fatal("urgent exceeded the minute window")
	}
}

// TestBulkPacing checks the rule of the package documentation at the
// default limits: bulk alone with an endless backlog, asking at every
// next, spends ceil(4500*k/24) by hour k, exactly 4,500 in the first
// day, and never more in any later day.
func TestBulkPacing(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	s := &State{}
	var calls []time.Time
	now := t0
	for now.Before(t0.Add(72 * time.Hour)) {
		ok, next := s.Admit(l, seaflow.Bulk, now)
		if ok {
			calls = append(calls, now)
		}
		if !ok && !next.After(now) {
			t.Fatalf("refused at %s with next %s", now, next)
		}
		if !ok {
			now = next
		}
	}
	inFirst := func(d time.Duration) int {
		n := 0
		for _, c := range calls {
			if c.Before(t0.Add(d)) {
				n++
			}
		}
		return n
	}
	for k := 1; k <= 24; k++ {
		if got, want := inFirst(time.Duration(k)*time.Hour), (4500*k+23)/24; got != want {
			t.Fatalf("bulk spent %d in the first %dh, want %d", got, k, want)
		}
	}
	if got := inFirst(time.Hour); got != 188 {
		t.Fatalf("first hour %d, want 188 as documented", got)
	}
	// Any rolling 24 hours, any rolling hour.
	for i := range calls {
		j := i
		for j < len(calls) && calls[j].Before(calls[i].Add(24*time.Hour)) {
			j++
		}
		if j-i > 4500 {
			t.Fatalf("%d bulk calls in the 24h from %s", j-i, calls[i])
		}
	}
	if len(calls) < 3*4500-200 {
		t.Fatalf("bulk alone spent only %d in three days", len(calls))
	}
}

// TestBulkLeavesRoomForNormal: a bulk backlog from 9:00 cannot take the
// day, and normal work keeps its room all window long.
func TestBulkLeavesRoomForNormal(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: 24 * time.Hour, Calls: 5000}}, UrgentReserve: 500}
	s := &State{}
	// Bulk drains at every hour for 6 hours.
	for h := range 6 {
		fill(s, l, seaflow.Bulk, t0.Add(time.Duration(h)*time.Hour))
	}
	if u := s.Usage(l, t0.Add(6*time.Hour)); u[0].Used != 1125 {
		t.Fatalf("bulk spent %d in 6h, want 1125", u[0].Used)
	}
	// Normal still has the rest of the non-reserved day.
	if n, _ := fill(s, l, seaflow.Normal, t0.Add(6*time.Hour)); n != 4500-1125 {
		t.Fatalf("normal got %d, want %d", n, 4500-1125)
	}
	// And normal's calls come out of bulk's allowance: bulk gets nothing
	// until the day window frees up.
	if ok, next := s.Admit(l, seaflow.Bulk, t0.Add(7*time.Hour)); ok || !next.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("bulk: ok %v next %s", ok, next)
	}
	// With normal busy at its pace, bulk waits for what is left under the curve.
	s = &State{}
	mustAdmit(t, s, l, seaflow.Normal, t0, 188)
	if ok, next := s.Admit(l, seaflow.Bulk, t0.Add(time.Minute)); ok || !next.Equal(t0.Add(time.Hour)) {
		t.Fatalf("bulk after a normal hour's worth: ok %v next %s", ok, next)
	}
}

func TestFreezeBlocksEveryLane(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	s := &State{}
	until := t0.Add(37 * time.Second)
	s.Freeze(until)
	s.Freeze(t0.Add(time.Second)) // an earlier freeze changes nothing
	for _, lane := range seaflow.Lanes {
		if ok, next := s.Admit(l, lane, t0); ok || !next.Equal(until) {
			t.Fatalf("%s: ok %v next %s", lane, ok, next)
		}
		if ok, _ := s.Admit(l, lane, until.Add(-time.Nanosecond)); ok {
			t.Fatalf("%s admitted 1ns before the end of the freeze", lane)
		}
	}
	for _, lane := range seaflow.Lanes {
		mustAdmit(t, s, l, lane, until, 1)
	}
	if !s.FrozenUntil().IsZero() {
		t.Fatalf("freeze kept after it ended: %s", s.FrozenUntil())
	}
}

func TestObserveHeadersLowersOurView(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	s := &State{}
	mustAdmit(t, s, l, seaflow.Urgent, t0, 10)
	reset := t0.Add(40 * time.Second)
	// SeaTable counts other clients too: 2 remain, not our 290.
	s.ObserveHeaders(300, 2, reset, t0)
	// The cap shows on the minute window, the one SeaTable's headers describe.
	if u := s.Usage(l, t0); u[0].Remaining != 2 || u[1].Remaining != 4990 {
		t.Fatalf("usage %+v", u)
	}
	if n, next := fill(s, l, seaflow.Normal, t0); n != 2 || !next.Equal(reset) {
		t.Fatalf("admitted %d, next %s; want 2 then the reset", n, next)
	}
	// An older response with more remaining does not loosen it.
	s.ObserveHeaders(300, 50, reset, t0.Add(time.Second))
	if ok, _ := s.Admit(l, seaflow.Urgent, t0.Add(time.Second)); ok {
		t.Fatal("a stale header loosened the cap")
	}
	if n, _ := fill(s, l, seaflow.Normal, reset); n != 300-12 {
		t.Fatalf("after the reset admitted %d, want the minute's remaining %d", n, 300-12)
	}
	// Headers saying more remain than our windows do never let us exceed them.
	s2 := &State{}
	mustAdmit(t, s2, l, seaflow.Urgent, t0, 300)
	s2.ObserveHeaders(300, 300, t0.Add(time.Minute), t0)
	if ok, _ := s2.Admit(l, seaflow.Urgent, t0); ok {
		t.Fatal("headers let us exceed our minute window")
	}
	// A new period (later reset) replaces the cap.
	s3 := &State{}
	s3.ObserveHeaders(300, 0, t0.Add(10*time.Second), t0)
	s3.ObserveHeaders(300, 5, t0.Add(70*time.Second), t0.Add(time.Second))
	if n, next := fill(s3, l, seaflow.Urgent, t0.Add(time.Second)); n != 5 || !next.Equal(t0.Add(70*time.Second)) {
		t.Fatalf("new period: admitted %d, next %s", n, next)
	}
	// Resets in the past are ignored.
	s4 := &State{}
	s4.ObserveHeaders(300, 0, t0.Add(-time.Second), t0)
	s4.ObserveHeaders(300, 0, time.Time{}, t0)
	mustAdmit(t, s4, l, seaflow.Urgent, t0, 1)
}

func TestMonthRollsAtCalendarMonthUTC(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Hour, Calls: 100}, {Month: true, Calls: 10}}}
	s := &State{}
	// 23:59 UTC on 31 January, given in a zone where it is already February.
	east := time.FixedZone("UTC+3", 3*3600)
	end := time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC).In(east)
	mustAdmit(t, s, l, seaflow.Urgent, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), 4) // pruned from the log later
	mustAdmit(t, s, l, seaflow.Urgent, end, 6)
	if s.Len() != 6 {
		t.Fatalf("log holds %d calls, want only the last hour's 6", s.Len())
	}
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if ok, next := s.Admit(l, seaflow.Urgent, end); ok || !next.Equal(feb) {
		t.Fatalf("ok %v next %s, want refused until %s", ok, next, feb)
	}
	if u := s.Usage(l, end); u[1].Used != 10 || u[1].Remaining != 0 || !u[1].NextFree.Equal(feb) {
		t.Fatalf("usage %+v", u[1])
	}
	mustAdmit(t, s, l, seaflow.Urgent, feb, 10)
	// February has 28 days in 2026.
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if ok, next := s.Admit(l, seaflow.Urgent, feb.Add(27*24*time.Hour)); ok || !next.Equal(mar) {
		t.Fatalf("ok %v next %s, want refused until %s", ok, next, mar)
	}
}

func TestBulkPacingOverAMonth(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Month: true, Calls: 3100}}, UrgentReserve: 100, BulkSegments: 30}
	s := &State{}
	apr := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) // 30 days: one step a day
	if n, next := fill(s, l, seaflow.Bulk, apr); n != 100 || !next.Equal(apr.Add(24*time.Hour)) {
		t.Fatalf("first day: %d, next %s", n, next)
	}
	if n, _ := fill(s, l, seaflow.Normal, apr.Add(time.Hour)); n != 2900 {
		t.Fatalf("normal got %d, want the rest of the month's 2,900", n)
	}
	if ok, next := s.Admit(l, seaflow.Bulk, apr.Add(48*time.Hour)); ok || !next.Equal(apr.AddDate(0, 1, 0)) {
		t.Fatalf("bulk: ok %v next %s", ok, next)
	}
}

func TestNeverWhenLimitsLeaveNoCall(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 5}}, UrgentReserve: 5}
	s := &State{}
	if ok, next := s.Admit(l, seaflow.Normal, t0); ok || !next.Equal(Never) {
		t.Fatalf("ok %v next %s, want Never", ok, next)
	}
	mustAdmit(t, s, l, seaflow.Urgent, t0, 5)
}

func TestClockSkewKeepsFutureCalls(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 2}}}
	s := &State{}
	mustAdmit(t, s, l, seaflow.Urgent, t0.Add(2*time.Second), 1) // a replica running ahead
	mustAdmit(t, s, l, seaflow.Urgent, t0, 1)
	if s.log[0] > s.log[1] {
		t.Fatal("log out of order")
	}
	if ok, next := s.Admit(l, seaflow.Urgent, t0); ok || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ok %v next %s", ok, next)
	}
}

func TestUsageAtDefaultLimits(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	s := &State{}
	mustAdmit(t, s, l, seaflow.Normal, t0, 120)
	u := s.Usage(l, t0.Add(30*time.Second))
	want := []WindowUsage{
		{Window: l.Windows[0], Used: 120, Remaining: 180, NextFree: t0.Add(30 * time.Second)},
		{Window: l.Windows[1], Used: 120, Remaining: 4880, NextFree: t0.Add(30 * time.Second)},
	}
	for i := range want {
		if u[i] != want[i] {
			t.Fatalf("window %d: %+v, want %+v", i, u[i], want[i])
		}
	}
}

func TestCallsSince(t *testing.T) {
	t.Parallel()
	var s State
	l := Limits{Windows: []seaflow.Window{{Span: time.Hour, Calls: 10}}}
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		if ok, _ := s.Admit(l, seaflow.Urgent, base.Add(time.Duration(i)*time.Minute)); !ok {
			t.Fatalf("call %d refused", i)
		}
	}
	got := s.CallsSince(base.Add(90 * time.Second))
	if len(got) != 2 || !got[0].Equal(base.Add(2*time.Minute)) || !got[1].Equal(base.Add(3*time.Minute)) {
		t.Errorf("CallsSince = %v, want the calls at +2m and +3m", got)
	}
	if got := s.CallsSince(base.Add(time.Hour)); len(got) != 0 {
		t.Errorf("CallsSince(after every call) = %v", got)
	}
}

func TestSlackLengthensWindows(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 2}}, Slack: time.Second}
	var s State
	mustAdmit(t, &s, l, seaflow.Urgent, t0, 2)
	next := s.Next(l, seaflow.Urgent, t0)
	if want := t0.Add(time.Minute + time.Second); !next.Equal(want) {
		t.Fatalf("next = %s, want the window plus its slack (%s)", next, want)
	}
	if ok, _ := s.Admit(l, seaflow.Urgent, t0.Add(time.Minute)); ok {
		t.Fatalf("admitted at exactly one window later, inside the slack")
	}
	if u := s.Usage(l, t0.Add(time.Minute)); u[0].Used != 2 || u[0].Span != time.Minute {
		t.Errorf("usage inside the slack = %+v, want both calls counted and the window shown as configured", u[0])
	}
}
