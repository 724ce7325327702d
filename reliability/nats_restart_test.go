package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow/internal/proctest"
)

// TestExternalNATSRestart: the daemon runs on one external nats-server
// (storage.nats_url); mid-load the server is shut down and a new one is
// started on the same port and store directory. The daemon reconnects and
// every event answered 202 is applied.
func TestExternalNATSRestart(t *testing.T) {
	skipShort(t)
	t.Parallel()
	n := proctest.StartJetStream(t)
	e := newEnv(t, faultEvents, seedLimits)
	d, err := tryStartDaemon(t, "seaflow", e.writeConfig(fmt.Sprintf("{ nats_url: %q }", n.URL())), "")
	if err != nil {
		t.Fatalf("seaflow run with storage.nats_url = one nats-server (JetStream, not clustered) does not start: %v\n"+
			"The queue creates every stream and bucket with queue.DefaultExternalReplicas (3) when the config gives a URL, "+
			"and the config has no way to ask for 1, so a single external server refuses them.\nlog: %s",
			err, proctest.LastLines(d.Log.String(), 3))
	}
	defer dumpLogs(t, d)
	restartUnderLoad(t, e, d, []*proctest.Node{n}, "external-nats-restart",
		"one external nats-server stopped (Shutdown) at 1/3 of the events, a new one started on the same port and store dir")
}

// TestExternalClusterRestart: the daemon runs on a three-node JetStream
// cluster (R3); mid-load every node is shut down (a full outage of the
// external spine) and started again on the same ports and store
// directories. The daemon reconnects and every event answered 202 is
// applied.
func TestExternalClusterRestart(t *testing.T) {
	skipShort(t)
	t.Parallel()
	c := startCluster(t)
	e := newEnv(t, faultEvents, seedLimits)
	d := startDaemon(t, "seaflow", e.writeConfig(fmt.Sprintf("{ nats_url: %q }", c.URLs())), "")
	defer dumpLogs(t, d)
	restartUnderLoad(t, e, d, c.Nodes, "external-cluster-restart",
		"all three nodes of an R3 cluster stopped at 1/3 of the events, then started again on the same ports and store dirs")
}

// restartUnderLoad sends the load, stops every node once a third of the
// events is accepted, waits until the daemon noticed, starts the nodes
// again and checks that every accepted op lands.
func restartUnderLoad(t *testing.T, e *env, d *proctest.Daemon, nodes []*proctest.Node, scenario, faults string) {
	t.Helper()
	l := newLoad(e, strings.ReplaceAll(scenario, "-", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	done := runLoad(ctx, l, faultEvents, func() []string { return []string{d.URL()} })
	if err := l.waitAccepted(ctx, faultEvents/3); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.Stop()
	}
	if err := d.Log.WaitFor(ctx, "nats disconnected"); err != nil {
		t.Fatalf("the daemon did not notice the outage: %v", err)
	}
	outage := time.Now()
	// Restart together: cluster nodes wait for each other's routes.
	if err := proctest.StartNodes(nodes...); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL())
	}
	jctx, jcancel := context.WithTimeout(ctx, time.Minute)
	defer jcancel()
	if err := proctest.WaitJetStream(jctx, strings.Join(urls, ",")); err != nil {
		t.Fatal(err)
	}
	if err := d.Log.WaitFor(ctx, "nats reconnected"); err != nil {
		t.Fatalf("the daemon did not reconnect: %v", err)
	}
	t.Logf("OUTAGE down_to_reconnected=%s", time.Since(outage).Round(100*time.Millisecond))
	waitDone(t, ctx, done)
	settle(t, l, strings.Join(urls, ","), 30*time.Second, 7*time.Minute)
	if !d.Running() {
		t.Errorf("the daemon exited during the outage: %v", d.Err())
	} else {
		checkCleanExit(t, d)
	}
	l.report(t, scenario, faults)
}
