package clocktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/clocktest"
)

var _ seaflow.Clock = (*clocktest.Clock)(nil)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fired reports whether ch has received, and what.
func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-ch:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestAdvanceFiresDueSleepers(t *testing.T) {
	t.Parallel()
	c := clocktest.New(t0)
	a, b := c.After(time.Second), c.After(time.Minute)
	if n := c.Sleepers(); n != 2 {
		t.Fatalf("Sleepers = %d, want 2", n)
	}
	c.Advance(time.Second)
	if at, ok := fired(a); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("1s sleeper: %v %v", at, ok)
	}
	if _, ok := fired(b); ok {
		t.Fatal("1m sleeper fired after 1s")
	}
	if n := c.Sleepers(); n != 1 {
		t.Fatalf("Sleepers = %d, want 1", n)
	}
	c.Set(t0.Add(time.Hour))
	if at, ok := fired(b); !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("1m sleeper after Set: %v %v", at, ok)
	}
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Now = %s", got)
	}
}

func TestAfterNotPositiveFiresAtOnce(t *testing.T) {
	t.Parallel()
	c := clocktest.New(t0)
	if at, ok := fired(c.After(0)); !ok || !at.Equal(t0) {
		t.Fatalf("After(0): %v %v", at, ok)
	}
	if at, ok := fired(c.After(-time.Second)); !ok || !at.Equal(t0) {
		t.Fatalf("After(-1s): %v %v", at, ok)
	}
	if n := c.Sleepers(); n != 0 {
		t.Fatalf("Sleepers = %d, want 0", n)
	}
	if got := c.Afters(); len(got) != 2 || got[0] != 0 || got[1] != -time.Second {
		t.Fatalf("Afters = %v", got)
	}
}

func TestAdvanceToNext(t *testing.T) {
	t.Parallel()
	c := clocktest.New(t0)
	if c.AdvanceToNext() {
		t.Fatal("AdvanceToNext with nobody sleeping reported true")
	}
	late, early, same := c.After(time.Hour), c.After(time.Minute), c.After(time.Minute)
	if at, ok := c.Next(); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Next = %v %v", at, ok)
	}
	if !c.AdvanceToNext() || !c.Now().Equal(t0.Add(time.Minute)) {
		t.Fatalf("AdvanceToNext: now %s", c.Now())
	}
	_, e := fired(early)
	_, s := fired(same)
	_, l := fired(late)
	if !e || !s || l {
		t.Fatalf("fired: 1m %v, 1m %v, 1h %v", e, s, l)
	}
	if !c.AdvanceToNext() || !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("second AdvanceToNext: now %s", c.Now())
	}
	if _, ok := c.Next(); ok {
		t.Fatal("Next after the last sleeper fired")
	}
}

func TestChangedSignalsWaitsAndMoves(t *testing.T) {
	t.Parallel()
	c := clocktest.New(t0)
	for name, change := range map[string]func(){
		"After":         func() { c.After(time.Second) },
		"Advance":       func() { c.Advance(time.Millisecond) },
		"Set":           func() { c.Set(t0) },
		"AdvanceToNext": func() { c.After(time.Second); c.AdvanceToNext() },
	} {
		ch := c.Changed()
		change()
		select {
		case <-ch:
		default:
			t.Errorf("%s did not signal Changed", name)
		}
	}
}

func TestWaitSleepers(t *testing.T) {
	t.Parallel()
	c := clocktest.New(t0)
	done := make(chan time.Time)
	go func() { done <- <-c.After(time.Minute) }()
	if err := c.WaitSleepers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if at := <-done; !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("woke at %s", at)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitSleepers(ctx, 1); err == nil {
		t.Fatal("WaitSleepers with nobody sleeping and a done context returned nil")
	}
}
