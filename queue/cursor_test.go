package queue

import (
	"sync"
	"testing"
	"time"
)

// TestCronCursor: the cursor survives in the state bucket, never moves
// back, and replicas saving at once keep the latest tick.
func TestCronCursor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := setup(t)
	c := q.CronCursor()
	if _, ok, err := c.Last(ctx, "nightly"); ok || err != nil {
		t.Fatalf("Last before any save = %v, %v", ok, err)
	}
	t0 := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	if err := c.Save(ctx, "nightly", t0); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, "nightly", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.Last(ctx, "nightly"); !ok || err != nil || !got.Equal(t0) {
		t.Fatalf("Last after an older save = %v %v %v, want %v (never moves back)", got, ok, err, t0)
	}
	// Eight replicas save ticks 1..8 hours later at once: the latest wins.
	var wg sync.WaitGroup
	for i := 1; i <= 8; i++ {
		wg.Go(func() {
			if err := c.Save(ctx, "nightly", t0.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, _, _ := c.Last(ctx, "nightly"); !got.Equal(t0.Add(8 * time.Hour)) {
		t.Fatalf("Last after racing saves = %v, want %v", got, t0.Add(8*time.Hour))
	}
}
