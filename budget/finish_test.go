package budget

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestFinish(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	l := Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: 10}, {Span: time.Hour, Calls: 100}}}

	t.Run("fits", func(t *testing.T) {
		t.Parallel()
		var s State
		at, left := s.Finish(l, seaflow.Normal, 25, now, now.Add(time.Hour))
		// Ten a minute: the 25th call is admitted in the third minute.
		if left != 0 || at.Before(now.Add(2*time.Minute)) || at.After(now.Add(3*time.Minute)) {
			t.Errorf("Finish(25) = %v, %d left", at, left)
		}
		if s.Len() != 0 {
			t.Errorf("Finish changed the state: %d calls logged", s.Len())
		}
	})
	t.Run("carries over", func(t *testing.T) {
		t.Parallel()
		var s State
		for i := range 50 {
			if ok, _ := s.Admit(l, seaflow.Normal, now.Add(-30*time.Minute+time.Duration(i)*10*time.Second)); !ok {
				t.Fatal("setup call refused")
			}
		}
		// 50 of the hour's 100 are spent from 8:30 (expiring from 9:30); 200 more cannot fit
		// before 9:45.
		at, left := s.Finish(l, seaflow.Normal, 200, now, now.Add(45*time.Minute))
		if !at.IsZero() || left < 100 || left > 150 {
			t.Errorf("Finish(200) = %v, %d left; want carried over with 100 to 150 left", at, left)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		var s State
		if at, left := s.Finish(l, seaflow.Bulk, 0, now, now.Add(time.Hour)); !at.Equal(now) || left != 0 {
			t.Errorf("Finish(0) = %v, %d", at, left)
		}
	})
}
