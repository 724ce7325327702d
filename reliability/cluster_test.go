package reliability

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow/seatable/emulator"
)

// clusterLimits bind hard, so the two replicas must share one budget for
// the base to stay inside it: 10 calls in any 10 s.
var clusterLimits = []emulator.Limit{{Window: 10 * time.Second, Calls: 10}, {Window: time.Minute, Calls: 300}, {Window: 24 * time.Hour, Calls: 5000}}

const clusterEvents = 200

// TestClusterNodeAndReplicaLoss: a three-node JetStream cluster on loopback
// (R3 streams and KV) and two seaflow replicas on it with the same config;
// the load goes to both replicas' webhooks. Mid-load one NATS node is shut
// down and one replica is killed with SIGKILL; the load continues on the
// survivor. Every accepted event must be applied (ops the killed replica
// had fetched come back after the work queue's ack wait of five minutes:
// the default run accepts them still queued in the spine, the long run
// waits for them), and the emulator's call log must never show a window of
// the base exceeded: the replicas share the budget by KV compare-and-set.
func TestClusterNodeAndReplicaLoss(t *testing.T) {
	skipShort(t)
	t.Parallel()
	c := startCluster(t)
	e := newEnv(t, clusterEvents, clusterLimits)
	cfg := e.writeConfig(fmt.Sprintf("{ nats_url: %q }", c.URLs()))
	a := startDaemon(t, "replica-a", cfg, "")
	b := startDaemon(t, "replica-b", cfg, "")
	defer dumpLogs(t, a, b)

	var mu sync.Mutex
	targets := []string{a.URL(), b.URL()}
	urls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return targets
	}
	l := newLoad(e, "s5")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.send(ctx, all(clusterEvents), urls, faultRate, true)
	}()

	if err := l.waitAccepted(ctx, clusterEvents/3); err != nil {
		t.Fatal(err)
	}
	// Both replicas have made calls by now? Not required: the budget is
	// shared whatever the split. Stop one node, then kill one replica.
	c.Nodes[0].Stop()
	mu.Lock()
	targets = []string{a.URL()}
	mu.Unlock()
	b.Kill()
	killedAt := time.Now()
	waitDone(t, ctx, done)

	applyErr := settle(t, l, c.Nodes[1].URL()+","+c.Nodes[2].URL(), 30*time.Second, 7*time.Minute)
	t.Logf("RECOVERY killed_to_applied=%s complete=%v", time.Since(killedAt).Round(100*time.Millisecond), applyErr == nil)
	if !a.Running() {
		t.Errorf("the surviving replica exited: %v", a.Err())
	} else {
		checkCleanExit(t, a)
	}
	faults := "R3 cluster: node n1 Shutdown + replica-b SIGKILL at 1/3 of the events; load continues on replica-a"
	tl := l.report(t, "cluster-node+replica-loss", faults)
	if tl.sent429 != 0 {
		t.Errorf("%d 429s: the replicas together exceeded the base's limits", tl.sent429)
	}
}

// TestTightBudgetOneReplica is the control of the cluster scenario: the
// same tight limits and load on one embedded replica without faults, so a
// window exceeded in the cluster run can be told apart from one a single
// replica exceeds by itself.
func TestTightBudgetOneReplica(t *testing.T) {
	skipShort(t)
	t.Parallel()
	e := newEnv(t, clusterEvents, clusterLimits)
	d := startDaemon(t, "seaflow", e.writeConfig(embeddedStorage(t)), "")
	defer dumpLogs(t, d)
	l := newLoad(e, "c1")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := runLoad(ctx, l, clusterEvents, func() []string { return []string{d.URL()} })
	waitDone(t, ctx, done)
	if err := l.waitApplied(2 * time.Minute); err != nil {
		t.Error(err)
	}
	checkCleanExit(t, d)
	tl := l.report(t, "tight-budget-one-replica", "none (control): limits 10/10s, 300/1m, 5000/24h on one embedded replica")
	if tl.sent429 != 0 {
		t.Errorf("%d 429s: one replica exceeded the base's limits", tl.sent429)
	}
}
