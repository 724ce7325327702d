// Package reliability holds seaflow's fault tests (issue 7 §2): black-box
// runs of the built `seaflow` binary against an in-process SeaTable emulator
// and in-process NATS servers on loopback, with faults injected under load:
// SeaTable 5xx answers and timeouts, 429 storms, revoked and short-lived
// tokens, an external NATS server restarted, a three-node JetStream cluster
// losing one node and one of two seaflow replicas, and a full data disk.
//
// Every scenario sends N webhook events, each turned by one rule into an
// append (a Log row carrying the event's key) and an update (of a seeded
// Items row, setting the key), and then counts from the emulator's rows what
// was accepted, applied, lost and duplicated, and checks from the emulator's
// call log that no rolling window of the base was ever exceeded. Each test
// prints one line
//
//	RESULT scenario=… events=… accepted=… ops_accepted=… applied=… lost=… duplicated=… …
//
// which docs/reliability.md copies. The package has only tests; run them with
//
//	go test ./reliability/ -v -run . -count=1
//
// Longer variants are gated by SEAFLOW_RELIABILITY_LONG=1 (see the tests).
package reliability
