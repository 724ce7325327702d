package proctest

import (
	"context"
	"sync"
)

// Signal lets goroutines wait for a condition on state that others
// change: they call Notify after each change, and Wait re-checks the
// condition after every Notify. The zero value is ready to use; it is
// safe for concurrent use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{} // closed and replaced by Notify
}

func (s *Signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every Wait to re-check its condition.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
	}
	s.ch = make(chan struct{})
}

// Wait blocks until cond holds or ctx ends (then it returns ctx's error).
// cond must take the locks of the state it reads.
func (s *Signal) Wait(ctx context.Context, cond func() bool) error {
	for {
		ch := s.wait() // before cond: a change after it closes ch
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
