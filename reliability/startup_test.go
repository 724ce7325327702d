package reliability

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/queue"
)

// TestReplicasStartTogetherOnFreshCluster: two replicas opening the spine
// in the same instant on a 3-node cluster that was just started (its
// JetStream meta group still electing a leader) both come up: stream and
// bucket setup is retried with backoff instead of failing on the first
// "context deadline exceeded".
func TestReplicasStartTogetherOnFreshCluster(t *testing.T) {
	t.Parallel()
	var c *cluster
	for range 3 {
		var problem string
		if c, problem = tryStartCluster(t); problem == "" {
			break
		}
		t.Logf("cluster start: %s; trying other ports", problem)
	}
	if c == nil {
		t.Fatal("cluster did not start")
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			<-start
			q, err := queue.Open(ctx, queue.Options{URL: c.urls(), Logger: zerolog.Nop()})
			if err == nil {
				err = q.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i+1, err)
		}
	}
}
