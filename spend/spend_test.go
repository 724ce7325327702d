package spend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/clocktest"
)

// memStore is a compare-and-set store in memory; conflicts, when set,
// makes that many Saves lose a race first.
type memStore struct {
	mu        sync.Mutex
	data      map[string][]byte
	rev       map[string]uint64
	conflicts int
	fail      error
}

func newMemStore() *memStore {
	return &memStore{data: map[string][]byte{}, rev: map[string]uint64{}}
}

func (s *memStore) Load(_ context.Context, key string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, 0, s.fail
	}
	return s.data[key], s.rev[key], nil
}

func (s *memStore) Save(_ context.Context, key string, data []byte, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conflicts > 0 {
		s.conflicts--
		s.rev[key]++ // another writer got there first
		return 0, fmt.Errorf("save: %w", seaflow.ErrConflict)
	}
	if s.rev[key] != rev {
		return 0, fmt.Errorf("save: %w", seaflow.ErrConflict)
	}
	s.rev[key]++
	s.data[key] = data
	return s.rev[key], nil
}

func setup(t *testing.T) (*memStore, *clocktest.Clock) {
	t.Helper()
	return newMemStore(), clocktest.New(time.Date(2026, 11, 26, 10, 2, 0, 0, time.UTC))
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestTally(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("replicas share one tally", func(t *testing.T) {
		t.Parallel()
		store, clock := setup(t)
		a, b := New(store, clock.Now), New(store, clock.Now)
		a.Add("crm", "stamp", 0.75, 3)
		a.Add("crm", "notify", 0.25, 1)
		b.Add("crm", "stamp", 1, 10)
		b.Add("hr", "stamp", 2, 20)
		// Not flushed yet: a sees its own pending spend.
		if tot, err := a.Totals(ctx, "stamp"); err != nil || len(tot) != 1 || !near(tot[0].Calls1h, 0.75) {
			t.Fatalf("a's totals before a flush = %+v, %v", tot, err)
		}
		store.conflicts = 2 // b's flush races with a's
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		tot, err := New(store, clock.Now).Totals(ctx, "stamp")
		if err != nil || len(tot) != 2 {
			t.Fatalf("totals = %+v, %v", tot, err)
		}
		if crm := tot[0]; crm.Base != "crm" || crm.Rule != "stamp" || !near(crm.Calls1h, 1.75) || !near(crm.Rows1h, 13) || !near(crm.Calls24h, 1.75) {
			t.Errorf("crm = %+v", crm)
		}
		if hr := tot[1]; hr.Base != "hr" || !near(hr.Calls24h, 2) || !near(hr.Rows24h, 20) {
			t.Errorf("hr = %+v", hr)
		}
	})

	t.Run("the hour and the day roll", func(t *testing.T) {
		t.Parallel()
		store, clock := setup(t)
		tl := New(store, clock.Now)
		tl.Add("crm", "nightly", 5, 500)
		clock.Advance(2 * time.Hour)
		tl.Add("crm", "nightly", 1, 100)
		if err := tl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		tot, _ := tl.Totals(ctx, "nightly")
		if len(tot) != 1 || !near(tot[0].Calls1h, 1) || !near(tot[0].Calls24h, 6) || !near(tot[0].Rows24h, 600) {
			t.Errorf("after 2h: %+v", tot)
		}
		clock.Advance(23 * time.Hour)
		tot, _ = tl.Totals(ctx, "nightly")
		if len(tot) != 1 || tot[0].Calls1h != 0 || !near(tot[0].Calls24h, 1) {
			t.Errorf("after 25h: %+v", tot)
		}
		// A flush drops what is older than Keep.
		tl.Add("crm", "nightly", 1, 1)
		if err := tl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if data, _, _ := store.Load(ctx, Key("nightly")); len(data) == 0 || countBuckets(t, data) != 2 {
			t.Errorf("stored after 25h: %s", data)
		}
	})

	t.Run("a failed flush keeps the spend for the next", func(t *testing.T) {
		t.Parallel()
		store, clock := setup(t)
		tl := New(store, clock.Now)
		tl.Add("crm", "stamp", 1, 1)
		store.fail = errors.New("store away")
		if err := tl.Flush(ctx); err == nil {
			t.Fatal("flush into a failing store succeeded")
		}
		store.fail = nil
		tl.Add("crm", "stamp", 1, 1)
		if err := tl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		tot, _ := New(store, clock.Now).Totals(ctx, "stamp")
		if len(tot) != 1 || !near(tot[0].Calls24h, 2) {
			t.Errorf("totals = %+v", tot)
		}
	})
}

func countBuckets(t *testing.T, data []byte) int {
	t.Helper()
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	return len(rec.Buckets)
}
