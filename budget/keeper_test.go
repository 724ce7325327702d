package budget

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/clocktest"
)

// memStore is an in-memory Store with real compare-and-set semantics, as a
// KV bucket would have. beforeSave, when set, runs before every Save
// outside the lock, so a test can slip another writer in between a
// Keeper's Load and Save.
type memStore struct {
	mu         sync.Mutex
	vals       map[string][]byte
	revs       map[string]uint64
	seq        uint64
	conflicts  int
	beforeSave func(base string)
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{vals: map[string][]byte{}, revs: map[string]uint64{}}
}

func (m *memStore) Load(ctx context.Context, base string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.vals[base]...), m.revs[base], nil
}

func (m *memStore) Save(ctx context.Context, base string, data []byte, rev uint64) (uint64, error) {
	if h := m.beforeSave; h != nil {
		h(base)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs[base] != rev {
		m.conflicts++
		return 0, fmt.Errorf("update %s: wrong last sequence %d: %w", base, rev, ErrConflict)
	}
	m.seq++
	m.vals[base] = append([]byte(nil), data...)
	m.revs[base] = m.seq
	return m.seq, nil
}

func minuteLimits(calls int) func(string) Limits {
	return func(string) Limits { return Limits{Windows: []seaflow.Window{{Span: time.Minute, Calls: calls}}} }
}

func TestKeeper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, store := range map[string]func() Store{
		"memory": func() Store { return nil },
		"store":  func() Store { return newMemStore() },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := clocktest.New(t0)
			k := NewKeeper(store(), nil, clk.Now)
			for i := range 300 {
				if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); !g.OK || err != nil {
					t.Fatalf("call %d: ok %v err %v", i, g.OK, err)
				}
			}
			g, err := k.Reserve(ctx, "crm", seaflow.Normal)
			if g.OK || err != nil || !g.Next.Equal(t0.Add(time.Minute)) {
				t.Fatalf("call 301: ok %v next %s err %v", g.OK, g.Next, err)
			}
			if n, err := k.Next(ctx, "crm", seaflow.Normal); err != nil || !n.Equal(g.Next) {
				t.Fatalf("Next %s %v, want %s", n, err, g.Next)
			}
			// Bulk is paced: 300 calls in the first hour is past its 188.
			if n, err := k.Next(ctx, "crm", seaflow.Bulk); err != nil || !n.Equal(t0.Add(time.Hour)) {
				t.Fatalf("bulk Next %s %v, want %s", n, err, t0.Add(time.Hour))
			}
			// Bases are independent.
			if g, err := k.Reserve(ctx, "shop", seaflow.Normal); !g.OK || err != nil {
				t.Fatalf("other base: ok %v err %v", g.OK, err)
			}
			u, err := k.Usage(ctx, "crm")
			if err != nil || len(u) != 2 || u[0].Used != 300 || u[1].Used != 300 || u[1].Remaining != 4700 {
				t.Fatalf("usage %+v %v", u, err)
			}
			clk.Set(t0.Add(time.Minute))
			until := t0.Add(90 * time.Second)
			if err := k.Freeze(ctx, "crm", until); err != nil {
				t.Fatal(err)
			}
			if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); g.OK || err != nil || !g.Next.Equal(until) {
				t.Fatalf("frozen: ok %v next %s err %v", g.OK, g.Next, err)
			}
			clk.Set(until)
			err = k.Observe(ctx, "crm", 300, 1, until.Add(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); !g.OK || err != nil {
				t.Fatalf("after the freeze: ok %v err %v", g.OK, err)
			}
			if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); g.OK || err != nil || !g.Next.Equal(until.Add(10*time.Second)) {
				t.Fatalf("headers cap: ok %v next %s err %v", g.OK, g.Next, err)
			}
		})
	}
}

// TestKeeperRetriesOnConflict slips a second replica's call in between the
// first replica's Load and Save: the Save conflicts, the first replica
// reloads, sees the other call and is refused (the window has one slot).
func TestKeeperRetriesOnConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newMemStore()
	clk := clocktest.New(t0)
	a := NewKeeper(store, minuteLimits(1), clk.Now)
	b := NewKeeper(store, minuteLimits(1), clk.Now)
	var slipped atomic.Bool
	store.beforeSave = func(string) {
		if slipped.Swap(true) {
			return // b's own Save, and everything after
		}
		if g, err := b.Reserve(ctx, "crm", seaflow.Urgent); !g.OK || err != nil {
			t.Errorf("replica b: ok %v err %v", g.OK, err)
		}
	}
	g, err := a.Reserve(ctx, "crm", seaflow.Urgent)
	if g.OK || err != nil || !g.Next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("replica a: ok %v next %s err %v; want refused after the conflict", g.OK, g.Next, err)
	}
	if store.conflicts != 1 {
		t.Fatalf("%d conflicts, want 1", store.conflicts)
	}
	// A freeze from one replica reaches the other.
	if err := b.Freeze(ctx, "crm", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(2 * time.Minute))
	if g, err := a.Reserve(ctx, "crm", seaflow.Urgent); g.OK || err != nil || !g.Next.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("after b's freeze: ok %v next %s err %v", g.OK, g.Next, err)
	}
}

// TestKeepersTogetherNeverExceed runs two Keepers on one store from many
// goroutines while the clock moves; together they admit exactly what the
// window allows, never more.
func TestKeepersTogetherNeverExceed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newMemStore()
	clk := clocktest.New(t0)
	keepers := []*Keeper{NewKeeper(store, minuteLimits(50), clk.Now), NewKeeper(store, minuteLimits(50), clk.Now)}
	for step := range 3 {
		clk.Set(t0.Add(time.Duration(step) * time.Minute))
		var mu sync.Mutex
		admitted := 0
		var wg sync.WaitGroup
		for g := range 8 {
			k := keepers[g%2]
			wg.Go(func() {
				for range 20 {
					grant, err := k.Reserve(ctx, "crm", seaflow.Lanes[g%3])
					if err != nil {
						t.Error(err)
						return
					}
					if grant.OK {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if admitted != 50 {
			t.Fatalf("minute %d: the replicas admitted %d together, want exactly 50", step, admitted)
		}
		u, err := keepers[1].Usage(ctx, "crm")
		if err != nil || u[0].Used != 50 {
			t.Fatalf("usage %+v %v", u, err)
		}
	}
}

type failingStore struct {
	loadErr, saveErr error
}

func (f failingStore) Load(context.Context, string) ([]byte, uint64, error) {
	if f.loadErr != nil {
		return nil, 0, f.loadErr
	}
	return nil, 0, nil
}

func (f failingStore) Save(context.Context, string, []byte, uint64) (uint64, error) {
	return 0, f.saveErr
}

func TestKeeperStoreErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	boom := errors.New("boom")
	clk := clocktest.New(t0)

	k := NewKeeper(failingStore{loadErr: boom}, nil, clk.Now)
	if _, err := k.Reserve(ctx, "crm", seaflow.Urgent); !errors.Is(err, boom) || !strings.Contains(err.Error(), "reserve call for crm: load: boom") {
		t.Fatalf("load error: %v", err)
	}
	if _, err := k.Usage(ctx, "crm"); !errors.Is(err, boom) {
		t.Fatalf("usage: %v", err)
	}

	k = NewKeeper(failingStore{saveErr: boom}, nil, clk.Now)
	if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); g.OK || !errors.Is(err, boom) {
		t.Fatalf("save error: ok %v err %v", g.OK, err)
	}

	k = NewKeeper(failingStore{saveErr: fmt.Errorf("kv: %w", ErrConflict)}, nil, clk.Now)
	if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); g.OK || !errors.Is(err, ErrConflict) {
		t.Fatalf("endless conflicts: ok %v err %v", g.OK, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := k.Freeze(cctx, "crm", t0.Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}

	bad := newMemStore()
	bad.vals["crm"], bad.revs["crm"] = []byte{42}, 7
	k = NewKeeper(bad, nil, clk.Now)
	if _, err := k.Next(ctx, "crm", seaflow.Urgent); err == nil || !strings.Contains(err.Error(), "decode budget state") {
		t.Fatalf("corrupt state: %v", err)
	}
}

// TestKeeperSkipsUselessSaves: a freeze earlier than the current one and a
// refused call write nothing.
func TestKeeperSkipsUselessSaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newMemStore()
	clk := clocktest.New(t0)
	k := NewKeeper(store, minuteLimits(1), clk.Now)
	if err := k.Freeze(ctx, "crm", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rev := store.revs["crm"]
	if err := k.Freeze(ctx, "crm", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if g, err := k.Reserve(ctx, "crm", seaflow.Urgent); g.OK || err != nil {
		t.Fatalf("ok %v err %v", g.OK, err)
	}
	if store.revs["crm"] != rev {
		t.Fatal("a no-op wrote to the store")
	}
}
