// Package proctest is the process harness of seaflow's black-box tests
// (e2e/ and reliability/): it builds the seaflow binary once, runs daemons
// as subprocesses with an environment and a config, keeps their log with a
// signal per line and checks it for unexpected warnings, finds free
// loopback ports, and runs NATS servers in the test process: a plain
// node, a JetStream node, or a three-node JetStream cluster whose nodes
// can be stopped and started again on the same ports and store
// directories.
//
// Where the test process owns what it waits for (a log line, a process
// exit, an in-process server), the harness waits on a signal; only the
// state of an external process (its /readyz, its subscriptions, a
// cluster's JetStream) is polled, with a ticker and a deadline.
package proctest
