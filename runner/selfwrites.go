package runner

import (
	"sync"
	"time"
)

// SelfWrites remembers the rows seaflow itself wrote recently, so that the
// webhook SeaTable sends back for such a write is marked event.self and
// carries the depth of the rule chain that caused it (the loop guard).
//
// SeaTable's webhook payload does not say reliably which client made a
// change (op_user for API-token writes is not documented), so seaflow
// matches on (base, table, row) within a time window instead. A user edit of
// the same row inside the window is then also treated as self: the window is
// short (default 2 minutes) to keep that rare.
type SelfWrites struct {
	mu   sync.Mutex
	ttl  time.Duration
	now  func() time.Time
	rows map[selfKey]selfMark
	ops  int
}

type selfKey struct{ base, table, row string }

type selfMark struct {
	at    time.Time
	depth int
}

// NewSelfWrites returns a memo whose marks expire after ttl (0 = 2 minutes).
func NewSelfWrites(ttl time.Duration, now func() time.Time) *SelfWrites {
	if ttl <= 0 {
		ttl = 2 * time.Minute
	}
	return &SelfWrites{ttl: ttl, now: now, rows: make(map[selfKey]selfMark)}
}

// Mark records that seaflow wrote these rows at the given chain depth.
func (s *SelfWrites) Mark(base, table string, rowIDs []string, depth int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range rowIDs {
		s.rows[selfKey{base, table, id}] = selfMark{at: now, depth: depth}
	}
	s.ops += len(rowIDs)
	if s.ops > 4096 {
		s.prune(now)
	}
}

// Lookup reports whether seaflow wrote the row within the window, and the
// depth of the chain that wrote it.
func (s *SelfWrites) Lookup(base, table, rowID string) (depth int, ok bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.rows[selfKey{base, table, rowID}]
	if !ok || now.Sub(m.at) > s.ttl {
		return 0, false
	}
	return m.depth, true
}

func (s *SelfWrites) prune(now time.Time) {
	for k, m := range s.rows {
		if now.Sub(m.at) > s.ttl {
			delete(s.rows, k)
		}
	}
	s.ops = 0
}
