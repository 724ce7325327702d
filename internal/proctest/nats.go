package proctest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Node is one nats-server in the test process on loopback. A node with a
// Dir runs JetStream there; a node with Routes is one of a cluster. A node
// with a fixed Port can be stopped and started again on the same port and
// store directory.
type Node struct {
	// Name is the server name.
	Name string
	// Port is the client port; -1 picks a random one at each start.
	Port int
	// ClusterPort is the route port of a cluster node.
	ClusterPort int
	// Dir is the JetStream store; "" = no JetStream.
	Dir string
	// Routes are the route ports of every node of the cluster (empty:
	// standalone).
	Routes []int

	mu  sync.Mutex
	srv *server.Server
}

// StartNATS starts a plain NATS server (no JetStream) on a random loopback
// port, stopped when the test ends.
func StartNATS(t testing.TB) *Node {
	t.Helper()
	n := &Node{Name: "nats", Port: server.RANDOM_PORT}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// StartJetStream starts one standalone JetStream server on a free loopback
// port and a store in a temp dir, stopped when the test ends; Stop and
// Start restart it on both.
func StartJetStream(t testing.TB) *Node {
	t.Helper()
	n := &Node{Name: "solo", Port: FreePort(t), Dir: filepath.Join(t.TempDir(), "nats")}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// Start starts (or restarts) the node and waits until it accepts clients.
// Cluster nodes wait for their routes: start them together (StartNodes).
func (n *Node) Start() error {
	opts := &server.Options{
		ServerName: n.Name,
		Host:       "127.0.0.1",
		Port:       n.Port,
		JetStream:  n.Dir != "",
		StoreDir:   n.Dir,
		NoLog:      true,
		NoSigs:     true,
	}
	if len(n.Routes) > 0 {
		opts.Cluster = server.ClusterOpts{Name: "seaflow-test", Host: "127.0.0.1", Port: n.ClusterPort}
		var urls []string
		for _, p := range n.Routes {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
		opts.Routes = server.RoutesFromStr(strings.Join(urls, ","))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("nats %s: %w", n.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("nats %s not ready on port %d", n.Name, n.Port)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
	return nil
}

// Stop shuts the node down and waits until it is gone; it does nothing
// when the node does not run.
func (n *Node) Stop() {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Running reports whether the node runs.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv != nil
}

// URL is the node's client URL.
func (n *Node) URL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return n.srv.ClientURL()
	}
	return fmt.Sprintf("nats://127.0.0.1:%d", n.Port)
}

// WaitInterest polls (every 10 ms) until a client, such as a daemon in
// another process, has subscribed to subject, or ctx ends.
func (n *Node) WaitInterest(ctx context.Context, subject string) error {
	n.mu.Lock()
	s := n.srv
	n.mu.Unlock()
	if s == nil {
		return fmt.Errorf("nats %s does not run", n.Name)
	}
	if err := Poll(ctx, 10*time.Millisecond, func() bool { return s.GlobalAccount().Interest(subject) > 0 }); err != nil {
		return fmt.Errorf("nobody subscribed to %s: %w", subject, err)
	}
	return nil
}

// StartNodes starts the nodes together (cluster nodes wait for each
// other's routes) and returns every problem.
func StartNodes(nodes ...*Node) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Start() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Cluster is three JetStream nodes routed on loopback.
type Cluster struct {
	// Nodes are n1, n2 and n3.
	Nodes []*Node
}

// StartCluster starts a three-node JetStream cluster on free loopback
// ports, stopped when the test ends. It does not wait for JetStream (its
// meta group may still elect a leader): see WaitJetStream. Should another
// process take a port in between, it starts the cluster again on new ports
// (three attempts in all).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	var problems []string
	for range 3 {
		c := &Cluster{}
		var routes []int
		for i := range 3 {
			name := fmt.Sprintf("n%d", i+1)
			n := &Node{Name: name, Port: FreePort(t), ClusterPort: FreePort(t), Dir: filepath.Join(t.TempDir(), name)}
			routes = append(routes, n.ClusterPort)
			c.Nodes = append(c.Nodes, n)
		}
		for _, n := range c.Nodes {
			n.Routes = routes
		}
		err := StartNodes(c.Nodes...)
		if err == nil {
			t.Cleanup(c.Stop)
			return c
		}
		c.Stop()
		t.Logf("cluster start: %v; trying other ports", err)
		problems = append(problems, err.Error())
	}
	t.Fatalf("cluster did not start: %v", problems)
	return nil
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// URLs is the comma-separated client URLs of every node.
func (c *Cluster) URLs() string {
	var us []string
	for _, n := range c.Nodes {
		us = append(us, n.URL())
	}
	return strings.Join(us, ",")
}

// WaitJetStream waits until JetStream answers through the running nodes,
// i.e. the meta group has a leader, or ctx ends.
func (c *Cluster) WaitJetStream(ctx context.Context) error {
	var running []string
	for _, n := range c.Nodes {
		if n.Running() {
			running = append(running, n.URL())
		}
	}
	return WaitJetStream(ctx, strings.Join(running, ","))
}

// WaitJetStream polls (every 50 ms) JetStream account info at url (one or
// more comma-separated URLs) until it answers, or ctx ends.
func WaitJetStream(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream %s: %w", url, err)
	}
	var last error
	err = Poll(ctx, 50*time.Millisecond, func() bool {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, last = js.AccountInfo(actx)
		return last == nil
	})
	if err != nil {
		return fmt.Errorf("JetStream at %s not ready: %v: %w", url, last, err)
	}
	return nil
}
