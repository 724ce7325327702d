package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func TestClock(t *testing.T) {
	t.Run("actors wake in time order, one at a time", func(t *testing.T) {
		c := NewClock(t0)
		var mu sync.Mutex
		var log []string
		note := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, fmt.Sprintf("%s@%s", s, c.Now().Sub(t0)))
		}
		ctx := context.Background()
		for _, a := range []struct {
			name  string
			every time.Duration
		}{{"a", 3 * time.Second}, {"b", 2 * time.Second}} {
			c.Go(func() {
				for range 3 {
					if !c.Sleep(ctx, a.every) {
						return
					}
					note(a.name)
				}
			})
		}
		c.Run(t0.Add(time.Minute))
		want := []string{"b@2s", "a@3s", "b@4s", "a@6s", "b@6s", "a@9s"}
		if fmt.Sprint(log) != fmt.Sprint(want) {
			t.Errorf("log %v, want %v", log, want)
		}
		if !c.Now().Equal(t0.Add(time.Minute)) {
			t.Errorf("now %s after Run, want the end", c.Now())
		}
	})
	t.Run("events at or after the end do not run", func(t *testing.T) {
		c := NewClock(t0)
		ran := map[string]bool{}
		c.At(t0.Add(time.Second), func() { ran["before"] = true })
		c.At(t0.Add(time.Minute), func() { ran["at end"] = true })
		c.Run(t0.Add(time.Minute))
		if !ran["before"] || ran["at end"] {
			t.Errorf("ran %v, want only the event before the end", ran)
		}
	})
	t.Run("a waiter ends at Wake or at its deadline", func(t *testing.T) {
		c := NewClock(t0)
		var w1, w2 *Waiter
		got := make(chan time.Duration, 2)
		ready := make(chan struct{})
		c.Go(func() {
			w1 = c.Wait(t0.Add(time.Hour))
			close(ready)
			got <- (<-w1.C()).Sub(t0)
			w2 = c.Wait(t0.Add(10 * time.Second))
			got <- (<-w2.C()).Sub(t0)
		})
		<-ready
		c.At(t0.Add(5*time.Second), func() { c.Wake(w1) })
		c.Run(t0.Add(time.Minute))
		if a, b := <-got, <-got; a != 5*time.Second || b != 10*time.Second {
			t.Errorf("woke at %s and %s, want 5s (Wake) and 10s (deadline)", a, b)
		}
	})
	t.Run("actors started by events are waited for", func(t *testing.T) {
		c := NewClock(t0)
		var mu sync.Mutex
		done := 0
		c.At(t0.Add(time.Second), func() {
			for range 10 {
				c.Go(func() {
					c.Sleep(context.Background(), time.Second)
					mu.Lock()
					done++
					mu.Unlock()
				})
			}
		})
		c.Run(t0.Add(1500 * time.Millisecond))
		mu.Lock()
		if done != 0 {
			t.Errorf("%d actors finished before their sleep ended", done)
		}
		mu.Unlock()
		c.Run(t0.Add(3 * time.Second))
		mu.Lock()
		defer mu.Unlock()
		if done != 10 {
			t.Errorf("%d of 10 actors finished", done)
		}
	})
	t.Run("after Stop every wait ends at once", func(t *testing.T) {
		c := NewClock(t0)
		ended := make(chan time.Time, 2)
		c.Go(func() {
			ended <- <-c.After(time.Hour)
			ended <- <-c.Wait(time.Time{}).C()
		})
		c.Run(t0.Add(time.Minute))
		c.Stop()
		for range 2 {
			if got := <-ended; !got.Equal(t0.Add(time.Minute)) {
				t.Errorf("wait ended at %s, want the stop time", got)
			}
		}
	})
}
