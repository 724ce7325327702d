package budget

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/clocktest"
)

// groupSetup returns a Group of bases a and b, each 100 per minute, sharing
// quota team (3 calls per calendar month, no reserve), and c in no group,
// on one store at a fake clock.
func groupSetup(t *testing.T, store Store) (*Group, *Keeper, *clocktest.Clock) {
	t.Helper()
	c := clocktest.New(time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC))
	bases := NewKeeper(store, minuteLimits(100), c.Now)
	quota := func(name string) Limits {
		if name != "team" {
			t.Errorf("limits of unknown quota %q", name)
		}
		return Limits{Windows: []seaflow.Window{{Month: true, Calls: 3}}}
	}
	of := func(base string) []string {
		if base == "c" {
			return nil
		}
		return []string{"team"}
	}
	return NewGroup(bases, store, quota, of, c.Now), bases, c
}

// usedOf returns the calls counting in the one window of key's usage.
func usedOf(t *testing.T, usageOf func(context.Context, string) ([]WindowUsage, error), key string) int {
	t.Helper()
	usage, err := usageOf(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 1 {
		t.Fatalf("usage %v", usage)
	}
	return usage[0].Used
}

func TestGroupSharedQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, bases, c := groupSetup(t, newMemStore())
	for _, base := range []string{"a", "b", "a"} {
		gr, err := g.Reserve(ctx, base, seaflow.Urgent)
		ok := gr.OK
		if err != nil || !ok {
			t.Fatalf("reserve %s: %v %v", base, ok, err)
		}
	}
	nextMonth := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, base := range []string{"a", "b"} {
		gr, err := g.Reserve(ctx, base, seaflow.Urgent)
		ok, next := gr.OK, gr.Next
		if err != nil || ok || !next.Equal(nextMonth) {
			t.Fatalf("spent quota: reserve %s = %v, %v, %v; want refused until %v", base, ok, next, err, nextMonth)
		}
		if n, err := g.Next(ctx, base, seaflow.Normal); err != nil || !n.Equal(nextMonth) {
			t.Errorf("next %s = %v, %v", base, n, err)
		}
	}
	// A refused call is recorded nowhere: a has its two calls, b its one.
	if n := usedOf(t, bases.Usage, "a"); n != 2 {
		t.Errorf("a used %d, want 2", n)
	}
	if n := usedOf(t, bases.Usage, "b"); n != 1 {
		t.Errorf("b used %d, want 1", n)
	}
	if n := usedOf(t, g.QuotaUsage, "team"); n != 3 {
		t.Errorf("team used %d, want 3", n)
	}
	// A base outside the group is not held back.
	if gr, err := g.Reserve(ctx, "c", seaflow.Urgent); err != nil || !gr.OK {
		t.Errorf("c: %v %v", gr.OK, err)
	}
	// The calendar month ends: the quota resets.
	c.Set(nextMonth)
	if gr, err := g.Reserve(ctx, "b", seaflow.Urgent); err != nil || !gr.OK {
		t.Errorf("next month: %v %v", gr.OK, err)
	}
	if n := usedOf(t, g.QuotaUsage, "team"); n != 1 {
		t.Errorf("team used %d in April, want 1", n)
	}
}

func TestGroupFreezeIsPerBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, _, c := groupSetup(t, nil)
	until := c.Now().Add(time.Minute)
	if err := g.Freeze(ctx, "a", until); err != nil {
		t.Fatal(err)
	}
	if n, _ := g.Next(ctx, "a", seaflow.Urgent); !n.Equal(until) {
		t.Errorf("a next %v, want %v", n, until)
	}
	if gr, err := g.Reserve(ctx, "b", seaflow.Urgent); err != nil || !gr.OK {
		t.Errorf("b is frozen with a: %v %v", gr.OK, err)
	}
}

// keyFailStore fails every Save of the keys fail says.
type keyFailStore struct {
	*memStore
	fail func(key string) bool
}

func (f keyFailStore) Save(ctx context.Context, key string, data []byte, rev uint64) (uint64, error) {
	if f.fail(key) {
		return 0, errors.New("kv unavailable")
	}
	return f.memStore.Save(ctx, key, data, rev)
}

func TestGroupRecordsInAllOrNone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("the quota's save fails: the base's call is released", func(t *testing.T) {
		t.Parallel()
		store := keyFailStore{newMemStore(), func(key string) bool { return key == QuotaKey("team") }}
		g, bases, _ := groupSetup(t, store)
		gr, err := g.Reserve(ctx, "a", seaflow.Urgent)
		ok := gr.OK
		if ok || err == nil || !strings.Contains(err.Error(), "quota team") {
			t.Fatalf("reserve = %v, %v; want the quota's error", ok, err)
		}
		if n := usedOf(t, bases.Usage, "a"); n != 0 {
			t.Errorf("a keeps %d calls, want 0", n)
		}
	})
	t.Run("another base takes the quota's last call between the check and the record", func(t *testing.T) {
		t.Parallel()
		store := newMemStore()
		g, bases, _ := groupSetup(t, store)
		for range 2 {
			if gr, err := g.Reserve(ctx, "b", seaflow.Urgent); !gr.OK || err != nil {
				t.Fatal(gr.OK, err)
			}
		}
		// When a's call is saved in the base, b takes the last quota call.
		store.beforeSave = func(key string) {
			if key == "a" {
				store.beforeSave = nil
				if gr, err := g.Reserve(ctx, "b", seaflow.Urgent); !gr.OK || err != nil {
					t.Errorf("b: %v %v", gr.OK, err)
				}
			}
		}
		gr, err := g.Reserve(ctx, "a", seaflow.Urgent)
		ok, next := gr.OK, gr.Next
		if ok || err != nil || !next.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("reserve a = %v, %v, %v; want refused until April", ok, next, err)
		}
		if n := usedOf(t, bases.Usage, "a"); n != 0 {
			t.Errorf("a keeps %d calls, want 0 (released)", n)
		}
		if n := usedOf(t, g.QuotaUsage, "team"); n != 3 {
			t.Errorf("team used %d, want 3", n)
		}
	})
	t.Run("the release fails too: the error says which state keeps the call", func(t *testing.T) {
		t.Parallel()
		var quotaFailed bool
		store := keyFailStore{newMemStore(), nil}
		store.fail = func(key string) bool {
			if key == QuotaKey("team") {
				quotaFailed = true
				return true
			}
			return quotaFailed // the base's release
		}
		g, bases, _ := groupSetup(t, store)
		_, err := g.Reserve(ctx, "a", seaflow.Urgent)
		if err == nil || !strings.Contains(err.Error(), "base a keeps a call that was not sent") {
			t.Fatalf("err = %v", err)
		}
		if n := usedOf(t, bases.Usage, "a"); n != 1 {
			t.Errorf("a keeps %d calls, want the 1 not released", n)
		}
	})
}
