package budget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
)

// ErrConflict is wrapped by Store.Save when the stored revision is not the
// one the caller loaded: another replica saved first.
var ErrConflict = seaflow.ErrConflict

// Store shares budget states between replicas, by compare-and-set on a
// revision. Implementations must be safe for concurrent use.
type Store interface {
	// Load returns the encoded state of base and its revision; rev 0 and
	// nil data mean the base has no state yet.
	Load(ctx context.Context, base string) (data []byte, rev uint64, err error)
	// Save stores data for base if its revision is still rev (rev 0:
	// only if the base has no state yet) and returns the new revision.
	// Otherwise it returns an error wrapping ErrConflict.
	Save(ctx context.Context, base string, data []byte, rev uint64) (uint64, error)
}

// maxAttempts bounds the compare-and-set loop of one Keeper operation.
const maxAttempts = 64

// Keeper holds the budgets of every base, each shared through a Store by
// compare-and-set so that replicas together stay inside the limits. It is
// safe for concurrent use; calls for one base are serialized within the
// process, so conflicts only come from other processes.
type Keeper struct {
	store  Store
	limits func(base string) Limits
	now    func() time.Time

	mu    sync.Mutex
	bases map[string]*baseState
}

// baseState is one base's lock and, without a Store, its state.
type baseState struct {
	mu    sync.Mutex
	state State
}

// NewKeeper returns a Keeper. store nil keeps every state in memory only
// (one process); limits nil gives every base DefaultLimits; now nil uses
// time.Now.
func NewKeeper(store Store, limits func(base string) Limits, now func() time.Time) *Keeper {
	if limits == nil {
		limits = func(string) Limits { return DefaultLimits() }
	}
	if now == nil {
		now = time.Now
	}
	return &Keeper{store: store, limits: limits, now: now, bases: map[string]*baseState{}}
}

// Grant is the answer to Reserve.
type Grant struct {
	// OK means the call is recorded, everywhere the Store reaches, and may
	// be sent.
	OK bool
	// At is when the call is recorded (zero unless OK): what Refund takes
	// back when the call never reached SeaTable.
	At time.Time
	// Next is, when OK, when the lane's following call could be admitted;
	// otherwise the earliest time this one could.
	Next time.Time
}

// Reserve records a call of lane for base if the budget admits it now (see
// State.Admit).
func (k *Keeper) Reserve(ctx context.Context, base string, lane seaflow.Lane) (Grant, error) {
	return k.reserveAt(ctx, base, lane, k.now())
}

// reserveAt is Reserve with the call recorded at at (a Group records one
// call in several states at one time).
func (k *Keeper) reserveAt(ctx context.Context, key string, lane seaflow.Lane, at time.Time) (Grant, error) {
	var g Grant
	err := k.update(ctx, "reserve call", key, func(s *State) bool {
		g.OK, g.Next = s.Admit(k.limits(key), lane, at)
		if g.OK {
			g.At = at
		}
		return g.OK
	})
	if err != nil {
		return Grant{}, err
	}
	return g, nil
}

// Refund takes back the call Reserve recorded at at, for a call that never
// reached SeaTable (the connection was refused, the request was never
// written): it cost SeaTable nothing, so it costs the budget nothing. A
// call not in the log (pruned, or refunded already) changes nothing.
func (k *Keeper) Refund(ctx context.Context, base string, at time.Time) error {
	return k.update(ctx, "refund call", base, func(s *State) bool {
		return s.Refund(at)
	})
}

// Next returns the earliest time a call of lane for base could be
// admitted; at or before now means now.
func (k *Keeper) Next(ctx context.Context, base string, lane seaflow.Lane) (time.Time, error) {
	var next time.Time
	err := k.view(ctx, "next call", base, func(s *State) {
		next = s.Next(k.limits(base), lane, k.now())
	})
	return next, err
}

// Observe corrects base's budget from the x-ratelimit-limit, -remaining
// and -reset headers of a response; see State.ObserveHeaders.
func (k *Keeper) Observe(ctx context.Context, base string, limit, remaining int, reset time.Time) error {
	return k.update(ctx, "observe rate limit", base, func(s *State) bool {
		return changes(s, func(s *State) { s.ObserveHeaders(limit, remaining, reset, k.now()) })
	})
}

// Freeze blocks every lane of base, in every replica, until until (a 429).
func (k *Keeper) Freeze(ctx context.Context, base string, until time.Time) error {
	return k.update(ctx, "freeze base", base, func(s *State) bool {
		return changes(s, func(s *State) { s.Freeze(until) })
	})
}

// Usage reports every window of base now; see State.Usage.
func (k *Keeper) Usage(ctx context.Context, base string) ([]WindowUsage, error) {
	var u []WindowUsage
	err := k.view(ctx, "budget usage", base, func(s *State) {
		u = s.Usage(k.limits(base), k.now())
	})
	return u, err
}

// changes applies f and reports whether it changed s's encoding.
func changes(s *State, f func(*State)) bool {
	before, _ := s.MarshalBinary()
	f(s)
	after, _ := s.MarshalBinary()
	return string(before) != string(after)
}

func (k *Keeper) base(name string) *baseState {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.bases[name]
	if !ok {
		b = &baseState{}
		k.bases[name] = b
	}
	return b
}

// view runs f on the current state of base without saving.
func (k *Keeper) view(ctx context.Context, op, base string, f func(*State)) error {
	b := k.base(base)
	b.mu.Lock()
	defer b.mu.Unlock()
	if k.store == nil {
		f(&b.state)
		return nil
	}
	s, _, err := k.load(ctx, base)
	if err != nil {
		return fmt.Errorf("%s for %s: %w", op, base, err)
	}
	f(s)
	return nil
}

// update runs f on the current state of base and, when f reports a change,
// saves it by compare-and-set, starting over from a fresh load whenever
// another replica saved first.
func (k *Keeper) update(ctx context.Context, op, base string, f func(*State) bool) error {
	b := k.base(base)
	b.mu.Lock()
	defer b.mu.Unlock()
	if k.store == nil {
		f(&b.state)
		return nil
	}
	for range maxAttempts {
		s, rev, err := k.load(ctx, base)
		if err != nil {
			return fmt.Errorf("%s for %s: %w", op, base, err)
		}
		if !f(s) {
			return nil
		}
		data, err := s.MarshalBinary()
		if err != nil {
			return fmt.Errorf("%s for %s: %w", op, base, err)
		}
		_, err = k.store.Save(ctx, base, data, rev)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("%s for %s: save: %w", op, base, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s for %s: %w", op, base, err)
		}
	}
	return fmt.Errorf("%s for %s: %d conflicting saves in a row: %w", op, base, maxAttempts, ErrConflict)
}

func (k *Keeper) load(ctx context.Context, base string) (*State, uint64, error) {
	data, rev, err := k.store.Load(ctx, base)
	if err != nil {
		return nil, 0, fmt.Errorf("load: %w", err)
	}
	s := &State{}
	if rev == 0 && len(data) == 0 {
		return s, 0, nil
	}
	if err := s.UnmarshalBinary(data); err != nil {
		return nil, 0, err
	}
	return s, rev, nil
}

// CallsSince returns a base's recorded call times at or after since,
// oldest first.
func (k *Keeper) CallsSince(ctx context.Context, base string, since time.Time) ([]time.Time, error) {
	var calls []time.Time
	err := k.view(ctx, "budget calls", base, func(s *State) {
		calls = s.CallsSince(since)
	})
	return calls, err
}
