package actions

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/clocktest"
	"github.com/seaflow/seaflow/seatable"
)

// waitSource is a fakeSource whose Fetch honours its wait on the fake
// clock when the queue is empty, like the real queue's fetch does. A
// released op is counted in released and kept aside rather than put back
// at the head of the queue (which costs O(queue) per op: thousands of held
// ops released at shutdown in front of a 17,000-op queue would dominate
// the test's run time).
type waitSource struct {
	*fakeSource
	clock    *clocktest.Clock
	released *int
}

func (s waitSource) Fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]Delivery, error) {
	var timer <-chan time.Time
	for {
		ch := s.n.wait()
		if s.queued(base, lane) > 0 || max <= 0 {
			ds, err := s.fakeSource.Fetch(ctx, base, lane, max, wait)
			for i := range ds {
				ack, id := ds[i].Ack, ds[i].Op.ID
				var settled bool
				ds[i].Ack = func(ctx context.Context) error {
					s.mu.Lock()
					was := settled
					settled = true
					s.mu.Unlock()
					if was {
						return fmt.Errorf("op %s acked after it was settled", id)
					}
					return ack(ctx)
				}
				ds[i].Release = func(context.Context) error {
					s.mu.Lock()
					defer s.mu.Unlock()
					if settled {
						s.problems = append(s.problems, fmt.Sprintf("op %s released after it was settled", id))
					}
					settled = true
					*s.released++
					return nil
				}
			}
			return ds, err
		}
		if timer == nil {
			timer = s.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer:
			return nil, nil
		case <-ch:
		}
	}
}

// sqlRows is a fakeRows whose SQL calls all succeed and are recorded with
// their time on the fake clock.
type sqlRows struct {
	*fakeRows
	clock *clocktest.Clock

	mu    sync.Mutex
	stmts []string
	times []time.Time
}

func (r *sqlRows) SQL(_ context.Context, query string, _ []any) (*seatable.SQLResult, error) {
	r.mu.Lock()
	r.stmts = append(r.stmts, query)
	r.times = append(r.times, r.clock.Now())
	r.mu.Unlock()
	r.n.bump()
	return &seatable.SQLResult{}, nil
}

func (r *sqlRows) sqlCalls() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.times)
}

// shareSetup is setup with a real budget.Keeper of 100 calls per 10
// minutes for base crm and rule "flood" capped at share of it.
func shareSetup(t *testing.T, share float64) (*bundle, waitSource, *sqlRows) {
	t.Helper()
	b := setup(t)
	src := waitSource{fakeSource: b.source, clock: b.clock, released: new(int)}
	rows := &sqlRows{fakeRows: b.rows, clock: b.clock}
	window := seaflow.Window{Span: 10 * time.Minute, Calls: 100}
	baseLimits := budget.Limits{Windows: []seaflow.Window{window}, BulkSegments: 1}
	b.cfg.Source = src
	b.cfg.Bases = map[string]Rows{"crm": rows}
	b.cfg.Budget = budget.NewKeeper(nil, func(string) budget.Limits { return baseLimits }, b.clock.Now)
	b.cfg.RuleShare = func(base, rule string) (budget.Limits, bool) {
		if base != "crm" || rule != "flood" {
			return budget.Limits{}, false
		}
		w := window
		w.Calls = int(math.Ceil(share * float64(window.Calls)))
		return budget.Limits{Windows: []seaflow.Window{w}, BulkSegments: 1}, true
	}
	return b, src, rows
}

// allLanesWaiting reports whether every lane of the one base waits on the
// fake clock (sleeping, or fetching from an empty queue): nothing more
// happens until the test advances it.
func allLanesWaiting(c *clocktest.Clock) bool {
	return c.Sleepers() == len(seaflow.Lanes)
}

// maxInWindow is the most times falling in any rolling window of span.
func maxInWindow(times []time.Time, span time.Duration) int {
	best := 0
	for i, t := range times {
		n := 0
		for _, u := range times[i:] {
			if u.Sub(t) < span {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestDispatcherCapsFloodingRuleAtItsShare(t *testing.T) {
	t.Parallel()
	b, src, rows := shareSetup(t, 0.1)
	const floodOps = 20000
	flood := func(i int) seaflow.Op {
		return seaflow.Op{ID: fmt.Sprintf("flood-%d", i), Kind: seaflow.KindSQL, Base: "crm", Lane: seaflow.Urgent, Rule: "flood",
			Statement: "UPDATE T1 SET K = ? WHERE _id = ?", Params: []any{i, "r0"}}
	}
	var ops []seaflow.Op
	for i := range 2000 {
		ops = append(ops, flood(i))
	}
	// Another rule's ops in the same lane, behind the first 2,000 of the flood.
	for i := range 5 {
		op := u(fmt.Sprintf("calm-%d", i), seaflow.Urgent, fmt.Sprintf("s%d", i), map[string]any{"K": "calm"})
		op.Table, op.Rule = "T2", "calm"
		ops = append(ops, op)
	}
	for i := 2000; i < floodOps; i++ {
		ops = append(ops, flood(i))
	}
	src.push(ops...)
	b.start(t)
	t0 := b.clock.Now()

	calmLanded := func() bool {
		for i := range 5 {
			if b.cell("T2", fmt.Sprintf("s%d", i), "K") != "calm" {
				return false
			}
		}
		return true
	}
	// The lane spends the flood's 10 calls, reaches past 2,000 of its ops
	// to the calm rule's, holds DefaultMaxHeld ops and sleeps (15 settled:
	// 10 flood, 5 calm).
	waitUntil(t, b.n, "the flood's share spent and the calm ops landed", func() bool {
		return calmLanded() && len(rows.sqlCalls()) == 10 &&
			src.queued("crm", seaflow.Urgent) == floodOps+5-DefaultMaxHeld-15 && allLanesWaiting(b.clock)
	})
	if got := b.clock.Now(); !got.Equal(t0) {
		t.Fatalf("clock moved to %v", got)
	}
	if n := rows.callCount(); n != 1 {
		t.Errorf("calm rule: %d update calls, want 1 (its 5 ops in one batch)", n)
	}

	// A window later the flood gets its next 10 calls, and no more.
	b.clock.Advance(10 * time.Minute)
	waitUntil(t, b.n, "the flood's second share spent", func() bool {
		return len(rows.sqlCalls()) == 20 && allLanesWaiting(b.clock)
	})
	calls := rows.sqlCalls()
	if got := maxInWindow(calls, 10*time.Minute); got != 10 {
		t.Errorf("flood made at most %d calls in a 10-minute window, want exactly its cap 10", got)
	}
	if got := src.count(src.released); got != 0 {
		t.Errorf("%d ops released, want 0 (held ops are extended, not released)", got)
	}
	if got := src.count(&src.extended); got == 0 {
		t.Error("held ops were never extended")
	}
	if got := src.ackedCount(); got != 25 {
		t.Errorf("%d ops acked, want 25 (20 flood, 5 calm)", got)
	}
	if dead := b.dead.all(); len(dead) != 0 {
		t.Errorf("dead letters: %v", dead)
	}
	t.Logf("flood: %d of %d ops sent in 2 windows, at most %d calls per window (cap 10); base used %d of 200",
		len(calls), floodOps, maxInWindow(calls, 10*time.Minute), len(calls)+1)
}

func TestDispatcherHoldsOtherRulesOpsOnTheSameRow(t *testing.T) {
	t.Parallel()
	b, src, rows := shareSetup(t, 0.01) // one call per window
	op := func(id, rule, row, v string) seaflow.Op {
		o := u(id, seaflow.Urgent, row, map[string]any{"K": v})
		o.Rule = rule
		return o
	}
	src.push(
		seaflow.Op{ID: "flood-sql", Kind: seaflow.KindSQL, Base: "crm", Lane: seaflow.Urgent, Rule: "flood", Statement: "UPDATE T1 SET K = 1"},
		op("flood-r1", "flood", "r1", "flood"),
		op("calm-r1", "calm", "r1", "calm"),
		op("calm-r2", "calm", "r2", "calm"),
	)
	b.start(t)
	waitUntil(t, b.n, "calm-r2 landed and the rest waiting", func() bool {
		return b.cell("T1", "r2", "K") == "calm" && allLanesWaiting(b.clock)
	})
	if got := b.cell("T1", "r1", "K"); got != "k1" {
		t.Fatalf("r1 = %v before the flood rule's next slot, want k1 (both its ops waiting)", got)
	}
	if n := len(rows.sqlCalls()); n != 1 {
		t.Fatalf("%d sql calls, want 1", n)
	}
	b.clock.Advance(10 * time.Minute)
	waitUntil(t, b.n, "r1 updated in queue order", func() bool {
		return src.ackedCount() == 4
	})
	if got := b.cell("T1", "r1", "K"); got != "calm" {
		t.Errorf("r1 = %v, want calm (the calm rule's later update last)", got)
	}
	if got := src.count(src.released); got != 0 {
		t.Errorf("%d ops released, want 0", got)
	}
}

func TestDispatcherWithoutRuleShareIgnoresRules(t *testing.T) {
	t.Parallel()
	b, src, rows := shareSetup(t, 0.1)
	b.cfg.RuleShare = nil
	for i := range 30 {
		src.push(seaflow.Op{ID: fmt.Sprintf("flood-%d", i), Kind: seaflow.KindSQL, Base: "crm", Lane: seaflow.Urgent, Rule: "flood",
			Statement: "UPDATE T1 SET K = 1"})
	}
	b.start(t)
	waitUntil(t, b.n, "every op sent", func() bool { return src.ackedCount() == 30 })
	if n := len(rows.sqlCalls()); n != 30 {
		t.Errorf("%d sql calls, want 30", n)
	}
}
