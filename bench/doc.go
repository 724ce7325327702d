// Package bench measures seaflow against the SeaTable limits: rows per call
// on a bulk job, and "a day in virtual time", a mixed workload run through
// seaflow's dispatcher and through two baselines (one call per op with
// retry-on-429 backoff, as the n8n SeaTable node does, and a token bucket
// at the daily rate), each against the real emulator and the real client.
//
// The day is a discrete-event simulation: every goroutine that takes part
// (the dispatcher's lane loops, the baselines' workers) waits only on a
// virtual Clock, and the Clock advances to the next event only once all of
// them wait, waking one at a time. A 24-hour day runs in seconds, and a run
// is deterministic for a given workload seed.
package bench
