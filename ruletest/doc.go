// Package ruletest runs rule test files: events in, expected ops out.
//
// Run runs rule test files (`seaflow test FILE...`) with no network,
// through the daemon's own code: the config is loaded by rules.Load, a
// webhook case is sent through the webhook intake (triggers.Webhooks: the
// same auth and decoding), every event is handled by the runner (the same
// matching, loop guard and depth limit, evaluation and for_each), and
// calls: counts the SeaTable calls the daemon's planner (actions.Plan)
// makes of the ops. A test file is YAML:
//
//	config: rules.example.yaml     # relative to the test file
//	env: { VAR: value }            # for ${VAR}; the process environment is not used
//	cases:
//	  - name: deal won is stamped
//	    now: 2026-11-26T10:00:00Z  # the clock (RFC 3339); cron cases default to at
//	    webhook: { name: crm-changes, headers: {...}, body: {...}, id: ..., self: false }
//	    # or nats: { subject: shop.orders.created, data: {...} or "text", id: ... }
//	    # or cron: { rule: nightly-overdue, at: 2026-11-26T01:00:00Z }
//	    #    with rows: [ {_id: ..., Due: ...} ] as the for_each query's result
//	    expect:                    # the ops in order; [] for none
//	      - { kind: update, table: Deals, row_id: R1, values: { "Won At": "2026-11-26T10:00:00Z" } }
//	    error: "text"              # optional: a rule error containing text is expected
//	    calls: 3                   # optional: the SeaTable calls the ops plan into
//
// A body or data given as a string is sent as is (for signed bodies);
// otherwise it is sent as JSON. Headers that carry the webhook's
// credentials are verified as the daemon verifies them; a case without
// them is signed with the configured secret, so auth is not what it tests.
// self: true with depth: N makes the event an echo of a write seaflow made
// at depth N, as the loop guard would see it. Expected ops
// are compared on the fields they give, by the JSON names of seaflow.Op
// (kind, base, table, row_id, values, key, link_column, other_row_ids,
// sql, params, lane, rule, depth, id, event_id, created_at); times compare
// as instants. The output is one line per case like go test, a diff under
// each failure, and an ok/FAIL line per file. ruletest/example_test.go runs
// the repository's rules.example.test.yaml through the same runner.
package ruletest
