package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// DaemonLimits are the budget limits the daemon gives a base that sets
// none (rules.BaseConfig.Budget at the legacy windows): 300 per minute,
// 5,000 per 24 hours, an urgent reserve of 500 that adapts to urgent
// demand, and the default slack.
func DaemonLimits() budget.Limits {
	b := rules.BaseConfig{Limits: seaflow.LegacyWindows(), UrgentReserve: 5000 / rules.DefaultUrgentReserveShare}
	return b.Budget()
}

// RunSeaflow runs w through seaflow's own dispatch path: the real
// actions.Dispatcher (one loop per lane, lingering, actions.Plan coalescing,
// the Executor) admitted by a real budget.Keeper at DaemonLimits,
// fed from an in-memory work queue, calling the real client, which
// corrects the budget from every response's x-ratelimit headers as the
// daemon wires it. Only the queue and the clock are the simulation's.
func RunSeaflow(w Workload) (Result, error) {
	startWall := time.Now()
	s, err := newSim(w, emulator.DefaultLimits)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	limits := DaemonLimits()
	keeper := budget.NewKeeper(nil, func(string) budget.Limits { return limits }, s.clock.Now)
	client := s.client(func(c seatable.Call) {
		if c.Limit != nil {
			// The in-memory keeper cannot fail.
			_ = keeper.Observe(ctx, BaseName, c.Limit.Limit, c.Limit.Remaining, c.Limit.Reset)
		}
	})
	q := newSimQueue(s.clock, s.applied)
	var (
		mu        sync.Mutex
		laneCalls = map[seaflow.Lane]int{}
	)
	disp := actions.NewDispatcher(actions.DispatcherConfig{
		Bases:  map[string]actions.Rows{BaseName: client},
		Source: q,
		Dead:   q,
		Budget: keeper,
		Clock:  s.clock,
		Logger: zerolog.Nop(),
		Rand:   func() float64 { return 0.5 },
		OnCall: func(c actions.CallReport) {
			if s.clock.Now().Before(w.Start) {
				return // the warm-up's: results count from Start
			}
			mu.Lock()
			defer mu.Unlock()
			laneCalls[c.Lane]++
		},
	})
	// One lane loop per lane of the one base: the clock's actors.
	s.clock.AddActors(len(seaflow.Lanes))
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()

	s.run(q.push)
	r, err := s.result("seaflow")
	r.Dead = q.deadCount()
	mu.Lock()
	r.UrgentCalls, r.BulkCalls = laneCalls[seaflow.Urgent], laneCalls[seaflow.Bulk]
	mu.Unlock()
	s.clock.Stop()
	cancel()
	if runErr := <-done; runErr != nil {
		return r, fmt.Errorf("dispatcher: %w", runErr)
	}
	r.Wall = time.Since(startWall)
	return r, err
}
