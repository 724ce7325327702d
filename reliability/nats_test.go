package reliability

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/queue"
)

// natsNode is one in-process nats-server with JetStream on loopback that can
// be stopped and started again on the same ports and store directory.
type natsNode struct {
	name        string
	port        int
	clusterPort int
	dir         string
	routes      []int // cluster ports of every node (empty: standalone)
	srv         *server.Server
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start starts (or restarts) the node and waits until it accepts clients.
func (n *natsNode) start(t *testing.T) {
	t.Helper()
	n.startWith(t)
}

// stop shuts the node down and waits until it is gone.
func (n *natsNode) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

func (n *natsNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// startStandalone starts one JetStream server on a random loopback port.
func startStandalone(t *testing.T) *natsNode {
	t.Helper()
	n := &natsNode{name: "solo", port: freePort(t), dir: filepath.Join(t.TempDir(), "nats")}
	n.start(t)
	t.Cleanup(n.stop)
	return n
}

// cluster is three JetStream nodes routed on loopback.
type cluster struct {
	nodes []*natsNode
}

// startCluster starts a three-node JetStream cluster and waits until its
// meta group has a leader. Ports are picked free beforehand; should another
// process take one in between, the cluster is started again on new ports
// (up to three attempts).
func startCluster(t *testing.T) *cluster {
	t.Helper()
	var problems []string
	for range 3 {
		c, problem := tryStartCluster(t)
		if problem == "" {
			t.Cleanup(func() {
				for _, n := range c.nodes {
					n.stop()
				}
			})
			c.waitJetStream(t, 60*time.Second)
			return c
		}
		problems = append(problems, problem)
	}
	t.Fatalf("cluster did not start: %v", problems)
	return nil
}

// tryStartCluster starts three routed nodes together (each waits for its
// routes); on a problem it stops what started and reports it.
func tryStartCluster(t *testing.T) (*cluster, string) {
	c := &cluster{}
	var routes []int
	for i := range 3 {
		n := &natsNode{name: fmt.Sprintf("n%d", i+1), port: freePort(t), clusterPort: freePort(t), dir: filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1))}
		routes = append(routes, n.clusterPort)
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.routes = routes
	}
	errs := make(chan string, 3)
	for _, n := range c.nodes {
		go n.startNoFatal(errs)
	}
	var problem []string
	for range c.nodes {
		if e := <-errs; e != "" {
			problem = append(problem, e)
		}
	}
	if len(problem) > 0 {
		for _, n := range c.nodes {
			n.stop()
		}
		return nil, strings.Join(problem, "; ")
	}
	return c, ""
}

// startNoFatal is start for a goroutine: it reports "" or the problem.
func (n *natsNode) startNoFatal(errs chan<- string) {
	ft := &fatalT{}
	func() {
		defer func() { _ = recover() }()
		n.startWith(ft)
	}()
	errs <- ft.msg
}

// fatalT collects a Fatalf from start without stopping the goroutine's test.
type fatalT struct{ msg string }

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}

// fatalfer is the part of testing.T start uses.
type fatalfer interface {
	Helper()
	Fatalf(format string, args ...any)
}

func (n *natsNode) startWith(t fatalfer) {
	t.Helper()
	opts := &server.Options{
		ServerName: n.name,
		Host:       "127.0.0.1",
		Port:       n.port,
		JetStream:  true,
		StoreDir:   n.dir,
		NoLog:      true,
		NoSigs:     true,
	}
	if len(n.routes) > 0 {
		opts.Cluster = server.ClusterOpts{Name: "seaflow-rel", Host: "127.0.0.1", Port: n.clusterPort}
		var urls []string
		for _, p := range n.routes {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
		opts.Routes = server.RoutesFromStr(strings.Join(urls, ","))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats %s: %v", n.name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats %s not ready on port %d", n.name, n.port)
	}
	n.srv = s
}

// urls is the comma-separated client URLs of every node.
func (c *cluster) urls() string {
	var us []string
	for _, n := range c.nodes {
		us = append(us, n.url())
	}
	return strings.Join(us, ",")
}

// waitJetStream polls (every 50 ms, until d) until JetStream answers
// account info through the running nodes, i.e. the meta group has a leader.
func (c *cluster) waitJetStream(t *testing.T, d time.Duration) {
	t.Helper()
	var running []string
	for _, n := range c.nodes {
		if n.srv != nil {
			running = append(running, n.url())
		}
	}
	waitJetStream(t, strings.Join(running, ","), d)
}

// waitJetStream polls JetStream account info at url until it answers.
func waitJetStream(t *testing.T, url string, d time.Duration) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = js.AccountInfo(actx)
		acancel()
		if last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("JetStream at %s not ready within %s: %v", url, d, last)
		case <-tick.C:
		}
	}
}

// spineState is what is still queued in the spine: ops in the OPS work
// queue and events the runner has not acked.
type spineState struct {
	opsQueued     uint64
	eventsPending uint64 // not yet delivered to the runner
	eventsUnacked int    // delivered, not acked
}

// readSpine reads the streams and the runner's consumer at url.
func readSpine(ctx context.Context, url string) (spineState, error) {
	var s spineState
	nc, err := nats.Connect(url)
	if err != nil {
		return s, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return s, err
	}
	ops, err := js.Stream(ctx, queue.OpsStream)
	if err != nil {
		return s, fmt.Errorf("ops stream: %w", err)
	}
	oi, err := ops.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("ops stream info: %w", err)
	}
	s.opsQueued = oi.State.Msgs
	evs, err := js.Stream(ctx, queue.EventsStream)
	if err != nil {
		return s, fmt.Errorf("events stream: %w", err)
	}
	cons, err := evs.Consumer(ctx, "runner")
	if err != nil {
		return s, fmt.Errorf("runner consumer: %w", err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("runner consumer info: %w", err)
	}
	s.eventsPending, s.eventsUnacked = ci.NumPending, ci.NumAckPending
	return s, nil
}

// findKeys scans every message of stream at url and counts, per key, the
// messages whose data contain it (events carry the webhook body, ops the
// values), so a test can tell "stored but not yet applied" from "lost".
func findKeys(ctx context.Context, url, stream string, keys []string) (map[string]int, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s info: %w", stream, err)
	}
	found := make(map[string]int, len(keys))
	if info.State.Msgs == 0 {
		return found, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted (acked work-queue messages leave gaps)
		}
		for _, k := range keys {
			if strings.Contains(string(m.Data), k) {
				found[k]++
			}
		}
	}
	return found, nil
}

// explainMissing logs, for an incomplete run on spine url, where each
// missing key is: its event in EVENTS, its ops still in OPS, the runner's
// consumer state. It returns how many missing ops are still queued in OPS
// or still to be turned into ops (their event unacked by the runner).
func explainMissing(t *testing.T, l *load, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	missing := l.missingKeys()
	if len(missing) == 0 {
		return 0
	}
	st, err := readSpine(ctx, url)
	if err != nil {
		t.Logf("SPINE unreadable: %v", err)
		return 0
	}
	evs, err1 := findKeys(ctx, url, queue.EventsStream, missing)
	ops, err2 := findKeys(ctx, url, queue.OpsStream, missing)
	if err1 != nil || err2 != nil {
		t.Logf("SPINE scan: %v %v", err1, err2)
		return 0
	}
	queued := 0
	var lines []string
	for _, k := range missing {
		lines = append(lines, fmt.Sprintf("%s: events=%d ops_queued=%d", k, evs[k], ops[k]))
		queued += ops[k]
	}
	if st.eventsUnacked > 0 || st.eventsPending > 0 {
		for _, k := range missing {
			if evs[k] > 0 && ops[k] == 0 {
				queued += 2 // the runner has not finished this event: it is redelivered
			}
		}
	}
	t.Logf("SPINE ops_queued=%d events_pending=%d events_unacked=%d; missing: %s", st.opsQueued, st.eventsPending, st.eventsUnacked, strings.Join(lines, "; "))
	return queued
}

// settle waits until every accepted op is applied. The default run waits
// wait; ops it then finds still queued in the spine at url (fetched by a
// consumer that died or lost its connection, so redelivered only after the
// ack wait) are counted as still queued, not lost. The long run waits
// longWait and requires everything applied.
func settle(t *testing.T, l *load, url string, wait, longWait time.Duration) error {
	t.Helper()
	if longRuns {
		wait = longWait
	}
	err := l.waitApplied(wait)
	if err == nil {
		return nil
	}
	missing := l.countQuiet().lost
	queued := explainMissing(t, l, url)
	switch {
	case longRuns || missing > queued:
		t.Error(err)
	default:
		l.stillQueued = missing
		t.Logf("%d ops not applied within %s are still queued in the spine (redelivered after the ack wait; SEAFLOW_RELIABILITY_LONG=1 waits for them)", missing, wait)
	}
	return err
}
