package bench

import (
	"context"
	"sync"
	"time"

	"github.com/seaflow/seaflow/seatable/emulator"
)

// Backoff of the one-call-per-op baseline after a failed call: doubling
// from MinRetryBackoff to MaxRetryBackoff.
const (
	MinRetryBackoff = time.Second
	MaxRetryBackoff = 60 * time.Second
)

// RunOneCallPerOp runs w the way the n8n SeaTable node does: every trigger
// (a webhook, a run of a job) starts its own execution, and executions run
// concurrently; an execution sends its ops in order, one row per call
// through the client, and after a failed call waits (1 s, doubling to
// 60 s) and retries the same op. There is no budget model: it learns of
// the limits only from 429s. maxTries bounds the attempts per op (the op is
// then given up, as an n8n execution fails); 0 retries until the day ends.
func RunOneCallPerOp(w Workload, maxTries int) (Result, error) {
	startWall := time.Now()
	s, err := newSim(w, emulator.DefaultLimits)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := s.client(nil)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		gaveUp int
	)
	execute := func(a Arrival) {
		defer wg.Done()
		for i := range a.N {
			op := a.Op(i)
			backoff := MinRetryBackoff
			for try := 1; ; try++ {
				if err := updateOne(ctx, client, op); err == nil {
					s.applied(op)
					break
				}
				if ctx.Err() != nil {
					break
				}
				if maxTries > 0 && try >= maxTries {
					mu.Lock()
					gaveUp++
					mu.Unlock()
					break
				}
				if !s.clock.Sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, MaxRetryBackoff)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
	s.run(func(a Arrival) {
		wg.Add(1)
		s.clock.Go(func() { execute(a) })
	})
	r, err := s.result("one call per op, retry on 429")
	mu.Lock()
	r.GaveUp = gaveUp
	mu.Unlock()
	s.clock.Stop()
	cancel()
	wg.Wait()
	r.Wall = time.Since(startWall)
	return r, err
}
