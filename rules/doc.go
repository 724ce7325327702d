// Package rules is seaflow's config and rules file: loading with every
// error reported at its position, expression compilation, the rule index
// that matches events, and rule evaluation into ops. It is the one gate:
// `seaflow validate` is exactly Load, and `seaflow run` and `seaflow test`
// (package ruletest) run what Load compiled; nothing downstream parses or
// validates the file again.
//
// # Loading
//
// Load and Parse go DefaultConfig → parse → validate for the whole file:
// server, storage, bases, webhooks, nats and rules (see rules.example.yaml
// at the repository root, and the architecture page for the contract).
// ${VAR} and ${VAR:-default} expand from the environment in every value
// except SQL statements; a missing variable is an error naming it. Unknown
// keys are errors. Every problem is reported, in file order, as
//
//	FILE:LINE:COL: rule "NAME": field: message
//
// in an ErrorList; the rule and field parts are left out where they do not
// apply. A config is returned only when the whole file is valid, so a
// reload that fails keeps the old RuleSet running.
//
// Names of bases, webhooks and rules are letters, digits, - and _ (they
// appear in NATS subjects and op ids). A webhook has exactly one of
// seatable:, token: and hmac:, or auth: none. A rule has exactly one
// trigger: on: {webhook: NAME}, on: {nats: SUBJECT} (with * and >
// wildcards) or on: {cron: SPEC, tz: ZONE, catch_up: BOOL} (5 fields or
// descriptors such as @hourly and @every 10m; tz an IANA zone, default
// UTC). priority: is urgent, normal or bulk, by default urgent for
// webhooks, normal for NATS and bulk for cron. for_each: {base, sql,
// params} is for cron rules only: a SELECT whose rows are evaluated one by
// one as item. on_self: lets a rule fire for events caused by seaflow's own
// writes (default false); max_depth: is a per-rule chain limit (0 = the
// runner's). budget_share: is the fraction 0 < x <= 1 of each base's
// longest window the rule's calls may spend (default 0.5 for webhook
// rules, 1 = no cap of its own for cron and NATS rules; see
// Config.RuleLimits). A generic webhook may set rate_limit: {events: N,
// per: DURATION}: past it the hook answers 429 with Retry-After and stores
// nothing (SeaTable's own webhooks may not: SeaTable does not retry).
//
// Expressions are bounded at load (MaxNodes nodes, MaxNesting levels of
// brackets) and at run time (MemoryBudget per evaluation: a blow-up fails
// that event's rule only).
//
// # Expressions
//
// when: is an expression that must be bool (checked at load where the type
// is known, else at run time). In actions, a value starting with = is an
// expression and "==" escapes a literal "="; lists and mappings may mix
// literals and expressions. Each expression is compiled once, at load,
// against the typed environment of its trigger kind:
//
//	webhook rules:  event, row, old, body
//	NATS rules:     event, msg
//	cron rules:     event, and item with for_each
//
// event has id, source, name, time, base, op_type, table, row_id, op_user,
// self, self_columns, depth, rule and batch_op_type; row and old are cells by column name (select
// options as names, dates as times); item dates that SeaTable returns as
// strings are turned into times too. Functions: now() (the injected
// clock, never the wall clock), days(n) and hours(n) (durations),
// addDays(t, n), format(t, layout) (Go layout), toTime(v), and expr's
// builtins (lower, upper, trim, date, duration, len, split, ...). An
// expression may have at most MaxNodes nodes, and one evaluation may
// allocate at most MemoryBudget units in expr's VM. An expression that
// fails at run time fails its rule for that event only (Evaluate returns
// the error, with no ops).
//
// Actions: append {base, table, values}; update {base, table, row, values};
// upsert {base, table, key, values} (values must contain key); delete,
// lock, unlock {base, table, row}; link {base, table, column, row,
// other_rows}; sql {base, sql, params}. base must name a configured base
// (it is never an expression). An sql statement is literal text starting
// with UPDATE or DELETE (for_each: SELECT), one statement, without ${...}
// or =; event data reaches it only through ? placeholders, whose count
// (outside quotes) must equal the number of params.
//
// # Matching
//
// A RuleSet indexes rules by trigger: webhook rules by webhook name, cron
// rules by rule name, NATS rules in a tree of subject tokens (wildcards
// included), so matching costs the same with 5 rules or 5,000. Events with
// event.self set match only rules with on_self.
//
// # Benchmarks
//
// go test ./rules -run XXX -bench . (2-core Xeon VM, Go 1.26):
//
//	BenchmarkMatch1      21 ns/op   0 allocs   (webhook, NATS, cron events in turn)
//	BenchmarkMatch5000   53 ns/op   0 allocs   (same events, 5,000 rules)
//	BenchmarkWhen       450 ns/op   2.2M evaluations/s   event.table == "Deals" && row.Stage == "Won"
//	BenchmarkEvaluate  1.5 µs/op   0.66M/s   environment, when: and one update op
//
// Matching does not grow with the rule count (the difference between 1 and
// 5,000 rules is the NATS tree walk and larger maps, a constant); a simple
// when: evaluates at over 2 million per second on one core.
package rules
