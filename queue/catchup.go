package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// CatchUpCursor keeps the catch-up poll's cursors (one per base and
// table) in the state bucket, under "catchup." and the key in Token form,
// changed only by compare-and-set so replicas and restarts share them. It
// is the catchup.Store of the daemon and safe for concurrent use.
type CatchUpCursor struct{ kv jetstream.KeyValue }

// CatchUpCursor returns the catch-up cursors of the queue's state bucket.
func (q *Queue) CatchUpCursor() CatchUpCursor { return CatchUpCursor{kv: q.stateKV} }

func catchUpKey(key string) string { return "catchup." + Token(key) }

// Load returns the cursor stored under key and its revision; (nil, 0, nil)
// when there is none.
func (c CatchUpCursor) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := c.kv.Get(ctx, catchUpKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("catch-up cursor %s: %w", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// Save stores data under key if its revision is still rev (0: only if it
// has none). ok is false, without an error, when another writer saved
// first.
func (c CatchUpCursor) Save(ctx context.Context, key string, data []byte, rev uint64) (uint64, bool, error) {
	var (
		n   uint64
		err error
	)
	if rev == 0 {
		n, err = c.kv.Create(ctx, catchUpKey(key), data)
	} else {
		n, err = c.kv.Update(ctx, catchUpKey(key), data, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("catch-up cursor %s: %w", key, err)
	}
	return n, true, nil
}
