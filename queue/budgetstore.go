package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
)

// CASStore keeps records in a KV bucket and updates them by
// compare-and-set on the KV revision, so replicas share them: each base's
// budget state, the loop guard's echoes, the loop breaker's counts. It is
// safe for concurrent use.
type CASStore struct{ kv jetstream.KeyValue }

var _ budget.Store = (*CASStore)(nil)

// BudgetStore returns the store of budget states (the seaflow_budget bucket).
func (q *Queue) BudgetStore() *CASStore { return &CASStore{kv: q.budgetKV} }

// EchoStore returns the store of the loop guard's pending echoes (the
// seaflow_echoes bucket).
func (q *Queue) EchoStore() *CASStore { return &CASStore{kv: q.echoesKV} }

// BreakerStore returns the store of the loop breaker's counts (the
// seaflow_breaker bucket).
func (q *Queue) BreakerStore() *CASStore { return &CASStore{kv: q.breakerKV} }

// SpendStore returns the store of the rule spend tallies (spend.Tally), in
// the seaflow_state bucket under keys "spend/<rule>" (encoded by Token).
func (q *Queue) SpendStore() *CASStore { return &CASStore{kv: q.stateKV} }

// Load returns the stored record of key (a base name, an echo key) and its
// revision; (nil, 0, nil) when there is none.
func (s *CASStore) Load(ctx context.Context, base string) (data []byte, rev uint64, err error) {
	e, err := s.kv.Get(ctx, Token(base))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: %w", base, err)
	}
	return e.Value(), e.Revision(), nil
}

// Save stores data under key if its revision is still rev (rev 0: only if
// there is none) and returns the new revision. If another writer got there
// first, the error wraps seaflow.ErrConflict (budget.ErrConflict).
func (s *CASStore) Save(ctx context.Context, base string, data []byte, rev uint64) (uint64, error) {
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
		return 0, fmt.Errorf("save %s at revision %d: %w (%w)", base, rev, seaflow.ErrConflict, err)
	}
	if err != nil {
		return 0, fmt.Errorf("save %s: %w", base, err)
	}
	return n, nil
}

// Delete removes the record of key; a missing one is not an error.
func (s *CASStore) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, Token(key)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
