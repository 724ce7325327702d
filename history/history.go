// Package history is the record of what happened to each event: its trace
// (the rules it was matched against, their when: and their ops) and the
// fate of each op (queued, written by which call, or dead with the reason
// and values). The queue keeps the records in JetStream for the
// configured retention; this package holds their form and the filters
// that list them. It uses the root value types only.
package history

import (
	"slices"
	"time"
)

// The statuses of an event, for Filter.Status.
const (
	// StatusFailed: handling the event or one of its rules failed, or one
	// of its ops was dead-lettered.
	StatusFailed = "failed"
	// StatusOK: some rule matched and nothing failed.
	StatusOK = "ok"
	// StatusUnmatched: no rule matched (or every matching rule was
	// stopped by the loop guard).
	StatusUnmatched = "unmatched"
)

// Statuses lists the statuses a filter may ask for.
var Statuses = []string{StatusFailed, StatusOK, StatusUnmatched}

// The fates of an op.
const (
	FateQueued  = "queued"
	FateWritten = "written"
	FateDead    = "dead"
)

// Event is one event's record: its trace and what it targets.
type Event struct {
	// EventID is the event's id (its dedupe key).
	EventID string `json:"event_id"`
	// Source is the trigger kind: "webhook", "cron", "nats", "query".
	Source string `json:"source"`
	// Name is the trigger's name (webhook name, rule name, subject).
	Name string `json:"name"`
	// Time is when seaflow handled the event.
	Time time.Time `json:"time"`
	// Base, Table and RowID are what a SeaTable webhook event reported
	// (empty for other events).
	Base  string `json:"base,omitempty"`
	Table string `json:"table,omitempty"`
	RowID string `json:"row_id,omitempty"`
	// Targets are the distinct base, table and row the event's ops
	// target, at most MaxTargets of them.
	Targets []Target `json:"targets,omitempty"`
	// Self marks an echo: the webhook of seaflow's own write.
	Self bool `json:"self,omitempty"`
	// Rules is each rule the event was matched against.
	Rules []Rule `json:"rules"`
	// Error is why handling the event failed; empty when it did not.
	Error string `json:"error,omitempty"`
	// Took is how long handling took (JSON: nanoseconds).
	Took time.Duration `json:"took_ns"`
}

// MaxTargets bounds Event.Targets: a for_each page targets many rows.
const MaxTargets = 100

// Target is a base, table and row an op targets (the row is empty for an
// append or an sql op).
type Target struct {
	Base  string `json:"base"`
	Table string `json:"table,omitempty"`
	RowID string `json:"row_id,omitempty"`
}

// AddTarget adds t to the event's targets unless it is there or they are
// full.
func (e *Event) AddTarget(t Target) {
	if len(e.Targets) < MaxTargets && !slices.Contains(e.Targets, t) {
		e.Targets = append(e.Targets, t)
	}
}

// Rule is one rule's part of an event.
type Rule struct {
	Rule    string `json:"rule"`
	When    bool   `json:"when"`
	Ops     int    `json:"ops"`
	Error   string `json:"error,omitempty"`
	Stopped string `json:"stopped,omitempty"`
}

// Fate is what became of one op, as last recorded.
type Fate struct {
	// OpID and EventID identify the op and the event that produced it.
	OpID    string `json:"op_id"`
	EventID string `json:"event_id"`
	// Rule, Kind, Base, Table, RowID and Lane describe the op.
	Rule  string `json:"rule,omitempty"`
	Kind  string `json:"kind"`
	Base  string `json:"base"`
	Table string `json:"table,omitempty"`
	RowID string `json:"row_id,omitempty"`
	Lane  string `json:"lane,omitempty"`
	// Values are the cells the op writes; SQL is an sql or query op's
	// statement.
	Values map[string]any `json:"values,omitempty"`
	SQL    string         `json:"sql,omitempty"`
	// Fate is "queued", "written" or "dead".
	Fate string `json:"fate"`
	// Call names the call that carried the op ("update rows", "upsert key
	// lookup"), CallRows the rows it carried; empty while queued.
	Call     string `json:"call,omitempty"`
	CallRows int    `json:"call_rows,omitempty"`
	// Reason is why a dead op was refused.
	Reason string `json:"reason,omitempty"`
	// At is when the fate was recorded.
	At time.Time `json:"at"`
}

// Status is the event's status, given whether one of its ops is dead.
func (e Event) Status(deadOps bool) string {
	if deadOps || e.Error != "" || slices.ContainsFunc(e.Rules, func(r Rule) bool { return r.Error != "" }) {
		return StatusFailed
	}
	if slices.ContainsFunc(e.Rules, func(r Rule) bool { return r.When && r.Stopped == "" }) {
		return StatusOK
	}
	return StatusUnmatched
}

// Filter selects events; an empty field matches any.
type Filter struct {
	// Rule keeps events a rule matched (when: true), failed on or was
	// stopped for.
	Rule string
	// Status keeps events of one status (Statuses).
	Status string
	// Base, Table and Row keep events of a base, table or row: the
	// event's own (a SeaTable webhook's) or one its ops target.
	Base, Table, Row string
	// Echoes keeps echoes (the webhooks of seaflow's own writes) too; they
	// are left out otherwise.
	Echoes bool
}

// targets reports whether the event itself or one of its ops targets the
// filter's base, table and row.
func (f Filter) targets(e Event) bool {
	match := func(t Target) bool {
		return (f.Base == "" || t.Base == f.Base) && (f.Table == "" || t.Table == f.Table) && (f.Row == "" || t.RowID == f.Row)
	}
	return match(Target{Base: e.Base, Table: e.Table, RowID: e.RowID}) || slices.ContainsFunc(e.Targets, match)
}

// NeedsDead reports whether Match needs to know if an event has dead ops.
func (f Filter) NeedsDead() bool { return f.Status != "" }

// Match reports whether e passes the filter; deadOps says whether one of
// its ops is dead (only asked when NeedsDead).
func (f Filter) Match(e Event, deadOps bool) bool {
	switch {
	case e.Self && !f.Echoes:
		return false
	case (f.Base != "" || f.Table != "" || f.Row != "") && !f.targets(e):
		return false
	case f.Rule != "" && !slices.ContainsFunc(e.Rules, func(r Rule) bool {
		return r.Rule == f.Rule && (r.When || r.Error != "" || r.Stopped != "")
	}):
		return false
	case f.Status != "" && e.Status(deadOps) != f.Status:
		return false
	}
	return true
}
