package reliability

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/internal/proctest"
	"github.com/seaflow/seaflow/queue"
)

// TestReplicasStartTogetherOnFreshCluster: two replicas opening the spine
// in the same instant on a 3-node cluster that was just started (its
// JetStream meta group still electing a leader) both come up: stream and
// bucket setup is retried with backoff instead of failing on the first
// "context deadline exceeded".
func TestReplicasStartTogetherOnFreshCluster(t *testing.T) {
	t.Parallel()
	c := proctest.StartCluster(t) // not waiting for JetStream: the cluster is fresh
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			<-start
			// Setup may take as long as the test allows: on a loaded
			// machine a fresh cluster's elections are slow, never stuck.
			q, err := queue.Open(ctx, queue.Options{URL: c.URLs(), SetupTimeout: 3 * time.Minute, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
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
