// Package e2e holds seaflow's end-to-end tests: they build the seaflow
// binary once, run it as a subprocess (`seaflow run --config FILE
// --data-dir DIR`) against a SeaTable emulator and, where a scenario needs
// one, a NATS server that both run inside the test process, and assert the
// emulator's final rows and its call log.
//
// The default run (`go test ./e2e/`) covers webhook, cron, NATS, batching,
// SIGKILL recovery, the loop guard and a five-round crash test. Environment
// variables change it:
//
//	SEAFLOW_CRASH_ROUNDS=N     rounds of the crash test (default 5)
//	SEAFLOW_CRASH_SEED=N       seed of the crash moments (default 1)
//	SEAFLOW_RECOVERY_WAIT=S    seconds a restarted daemon gets to apply what a
//	                           killed one left (default 90)
//	SEAFLOW_E2E_LOG_LEVEL=L    the daemon's --log-level (e.g. debug)
//	SEAFLOW_E2E_KEEP=DIR       copy a failed test's config, data directory
//	                           and daemon log to DIR/<test name>
//	SEAFLOW_BENCH=1            run the intake benchmark (TestIntakeBenchmark),
//	                           which drives a running daemon with the
//	                           e2e/loadgen program; SEAFLOW_BENCH_CONNS
//	                           (default 32) and SEAFLOW_BENCH_SECONDS
//	                           (default 10) set its load,
//	                           SEAFLOW_BENCH_ROUNDS (default 3) its rounds
package e2e
