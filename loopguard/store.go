package loopguard

import (
	"context"
	"fmt"
	"sync"

	"github.com/seaflow/seaflow"
)

// Store keeps the guard's records by key and updates them by
// compare-and-set (queue.KV on a bucket of the spine). It must be safe for
// concurrent use.
type Store interface {
	// Load returns key's data and revision; (nil, 0, nil) when there is none.
	Load(ctx context.Context, key string) (data []byte, rev uint64, err error)
	// Save stores data under key if its revision is still rev (0: only if
	// there is none) and returns the new revision; otherwise an error
	// wrapping seaflow.ErrConflict.
	Save(ctx context.Context, key string, data []byte, rev uint64) (uint64, error)
}

// MemoryStore is a Store in this process's memory (tests, `seaflow test`).
// The zero value is ready to use.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]memEntry
}

type memEntry struct {
	data []byte
	rev  uint64
}

var _ Store = (*MemoryStore)(nil)

// Load returns key's data and revision.
func (s *MemoryStore) Load(_ context.Context, key string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	return e.data, e.rev, nil
}

// Save stores data under key if its revision is rev.
func (s *MemoryStore) Save(_ context.Context, key string, data []byte, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]memEntry{}
	}
	if s.m[key].rev != rev {
		return 0, fmt.Errorf("save %s at revision %d: %w", key, rev, seaflow.ErrConflict)
	}
	n := rev + 1
	s.m[key] = memEntry{data: append([]byte(nil), data...), rev: n}
	return n, nil
}
