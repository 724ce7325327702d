package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/budget"
)

// BudgetStore keeps each base's budget state in the seaflow_budget bucket
// and updates it by compare-and-set on the KV revision, so replicas share
// one budget per base. It is safe for concurrent use.
type BudgetStore struct{ kv jetstream.KeyValue }

var _ budget.Store = (*BudgetStore)(nil)

// BudgetStore returns the budget store on the seaflow_budget bucket.
func (q *Queue) BudgetStore() *BudgetStore { return &BudgetStore{kv: q.budgetKV} }

// Load returns the stored state of base and its revision; (nil, 0, nil)
// when base has none.
func (s *BudgetStore) Load(ctx context.Context, base string) (data []byte, rev uint64, err error) {
	e, err := s.kv.Get(ctx, Token(base))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load budget %s: %w", base, err)
	}
	return e.Value(), e.Revision(), nil
}

// Save stores data for base if its revision is still rev (rev 0: only if
// base has no state) and returns the new revision. If another writer got
// there first, the error wraps budget.ErrConflict.
func (s *BudgetStore) Save(ctx context.Context, base string, data []byte, rev uint64) (uint64, error) {
	key := Token(base)
	var (
		n   uint64
		err error
	)
	if rev == 0 {
		n, err = s.kv.Create(ctx, key, data)
	} else {
		n, err = s.kv.Update(ctx, key, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, fmt.Errorf("save budget %s at revision %d: %w (%w)", base, rev, budget.ErrConflict, err)
	}
	if err != nil {
		return 0, fmt.Errorf("save budget %s: %w", base, err)
	}
	return n, nil
}
