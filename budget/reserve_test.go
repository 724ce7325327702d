package budget

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func adaptiveLimits() Limits {
	l := DefaultLimits()
	l.Adaptive = true
	return l
}

// TestAdaptiveReserveFollowsUrgentDemand: a reserve urgent work has not
// needed goes to the other lanes (seen before: the 500 reserved calls were
// never released, so bulk alone reached 4.5 M of the 5 M rows a day), and
// it comes back as urgent calls are made.
func TestAdaptiveReserveFollowsUrgentDemand(t *testing.T) {
	t.Parallel()
	l := adaptiveLimits()
	s := &State{}
	if r := s.Reserve(l, t0); r != 50 {
		t.Fatalf("reserve with no urgent demand = %d, want the floor, 50", r)
	}
	// 40 urgent calls in ten minutes: the reserve is twice that.
	for i := range 40 {
		mustAdmit(t, s, l, seaflow.Urgent, t0.Add(time.Duration(i)*15*time.Second), 1)
	}
	at := t0.Add(10 * time.Minute)
	if r := s.Reserve(l, at); r != 80 {
		t.Fatalf("reserve after 40 urgent calls in 10 minutes = %d, want 80", r)
	}
	// Normal may spend the day but what urgent's pace (40 in the last
	// hour) needs until each call expires, and the burst margin.
	day := Limits{Windows: []seaflow.Window{{Span: 24 * time.Hour, Calls: 5000}}, UrgentReserve: 500, Adaptive: true}
	n, _ := fill(s, day, seaflow.Normal, at)
	if n < 3900 || n > 5000-80-40-900 {
		t.Fatalf("normal got %d calls; want what a day of urgent at 40 an hour leaves (about 3,920)", n)
	}
	for i := range 80 {
		if ok, next := s.Admit(day, seaflow.Urgent, at); !ok {
			t.Fatalf("urgent call %d of its burst margin refused until %s", i, next)
		}
	}
	quiet := &State{}
	if n, _ := fill(quiet, day, seaflow.Normal, t0); n != 5000-50 {
		t.Fatalf("with no urgent demand normal got %d, want all but the floor, 4,950", n)
	}
	// A day later the demand is forgotten.
	if r := s.Reserve(l, t0.Add(25*time.Hour)); r != 50 {
		t.Fatalf("reserve a day later = %d, want 50", r)
	}
	// Demand never takes more than urgent_reserve.
	for i := range 600 {
		s.Admit(l, seaflow.Urgent, t0.Add(26*time.Hour+time.Duration(i)*time.Second))
	}
	if r := s.Reserve(l, t0.Add(26*time.Hour+10*time.Minute)); r != 500 {
		t.Fatalf("reserve after a burst = %d, want urgent_reserve, 500", r)
	}
	if r := s.Reserve(DefaultLimits(), t0); r != 500 {
		t.Fatalf("fixed reserve = %d, want 500", r)
	}
}

// TestAdaptiveReserveNearTheCeiling runs bulk greedily against an urgent
// call every 20 s (the virtual day's trickle) for two days: urgent never
// waits, no rolling day holds more than 5,000 calls, and the second day
// spends at least 4,900 of them.
func TestAdaptiveReserveNearTheCeiling(t *testing.T) {
	t.Parallel()
	l := adaptiveLimits()
	s := &State{}
	end := t0.Add(48 * time.Hour)
	nextUrgent := t0
	now := t0
	for now.Before(end) {
		if !now.Before(nextUrgent) {
			if ok, next := s.Admit(l, seaflow.Urgent, now); !ok {
				t.Fatalf("urgent call at %s waits until %s", now.Sub(t0), next.Sub(t0))
			}
			nextUrgent = nextUrgent.Add(20 * time.Second)
			continue
		}
		ok, next := s.Admit(l, seaflow.Bulk, now)
		if ok {
			continue
		}
		now = next
		if nextUrgent.Before(now) {
			now = nextUrgent
		}
	}
	calls := s.CallsSince(end.Add(-24 * time.Hour))
	if len(calls) < 4900 || len(calls) > 5000 {
		t.Fatalf("the second day spent %d calls, want 4,900 to 5,000", len(calls))
	}
	for i := range calls {
		j := i
		for j < len(calls) && calls[j].Sub(calls[i]) < 24*time.Hour {
			j++
		}
		if j-i > 5000 {
			t.Fatalf("%d calls in the day from %s", j-i, calls[i].Sub(t0))
		}
	}
	t.Logf("second day: %d calls, reserve at the end %d", len(calls), s.Reserve(l, end))
}

func TestRefundGivesTheCallBack(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 2}}, Adaptive: true, UrgentReserve: 1}
	s := &State{}
	mustAdmit(t, s, l, seaflow.Urgent, t0, 2)
	if ok, _ := s.Admit(l, seaflow.Urgent, t0); ok {
		t.Fatal("third call admitted")
	}
	if !s.Refund(t0) || s.Len() != 1 || len(s.urgent) != 1 {
		t.Fatalf("refund: %d calls, %d urgent", s.Len(), len(s.urgent))
	}
	if s.Refund(t0.Add(time.Second)) {
		t.Fatal("refunded a call never made")
	}
	mustAdmit(t, s, l, seaflow.Urgent, t0, 1)
}

func TestStateRefund(t *testing.T) {
	t.Parallel()
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 10}, {Month: true, Calls: 100}}}
	t0 := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	var s State
	s.ObserveHeaders(10, 5, t0.Add(time.Minute), t0)
	for i := range 3 {
		if ok, _ := s.Admit(l, seaflow.Urgent, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatal("admit")
		}
	}
	if !s.Refund(t0.Add(time.Second)) || s.Len() != 2 || s.capUsed != 2 {
		t.Fatalf("release: len %d capUsed %d", s.Len(), s.capUsed)
	}
	if s.Refund(t0.Add(time.Second)) {
		t.Error("released a call that is not there")
	}
	// A call pruned into the month's count comes off the count.
	later := t0.Add(time.Hour)
	s.prune(l, later.UnixNano())
	if s.Len() != 0 || s.monthCount != 2 {
		t.Fatalf("pruned: len %d month %d", s.Len(), s.monthCount)
	}
	if !s.Refund(t0) || s.monthCount != 1 {
		t.Errorf("release of a pruned call: month %d", s.monthCount)
	}
}
