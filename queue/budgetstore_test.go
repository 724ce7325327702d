package queue

import (
	"errors"
	"testing"

	"github.com/seaflow/seaflow/budget"
)

func TestBudgetStoreCompareAndSet(t *testing.T) {
	t.Parallel()
	q := setup(t)
	s := q.BudgetStore()
	ctx := t.Context()
	const base = "crm base/1" // needs encoding as a key

	if data, rev, err := s.Load(ctx, base); err != nil || rev != 0 || data != nil {
		t.Fatalf("load of a new base = %q, %d, %v", data, rev, err)
	}
	r1, err := s.Save(ctx, base, []byte("v1"), 0)
	if err != nil || r1 == 0 {
		t.Fatalf("create = %d, %v", r1, err)
	}
	if _, err := s.Save(ctx, base, []byte("other create"), 0); !errors.Is(err, budget.ErrConflict) {
		t.Fatalf("second create = %v, want ErrConflict", err)
	}
	r2, err := s.Save(ctx, base, []byte("v2"), r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("update = %d, %v", r2, err)
	}
	if _, err := s.Save(ctx, base, []byte("stale"), r1); !errors.Is(err, budget.ErrConflict) {
		t.Fatalf("stale update = %v, want ErrConflict", err)
	}
	data, rev, err := s.Load(ctx, base)
	if err != nil || rev != r2 || string(data) != "v2" {
		t.Fatalf("load = %q, %d, %v; want v2 at %d", data, rev, err, r2)
	}
	// Another base is independent.
	if _, err := s.Save(ctx, "hr", []byte("h1"), 0); err != nil {
		t.Fatalf("create of another base: %v", err)
	}
}
