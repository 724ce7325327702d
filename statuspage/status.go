package statuspage

import "time"

// Status is the JSON document of GET /api/status: what the status page and
// `seaflow status` read. Extend it; never rename or drop a field.
type Status struct {
	// Version is the daemon's build version ("dev" for a local build).
	Version string `json:"version"`
	// Now is the daemon's clock when the status was taken. The page judges
	// every other time of the document against it, never against the
	// viewer's clock, so a skewed laptop shows the same forecast.
	Now time.Time `json:"now"`
	// Started is when the daemon started.
	Started time.Time `json:"started"`
	// DryRun is true when the daemon computes ops but does not send them.
	DryRun bool `json:"dry_run"`
	// Reload is the outcome of the last config load (the start or a
	// SIGHUP); omitted by daemons that do not report it.
	Reload *ReloadStatus `json:"reload,omitempty"`
	// Bases is every configured base, sorted by name.
	Bases []BaseStatus `json:"bases"`
	// Quotas is every quota group (budgets shared by several bases),
	// sorted by name; omitted when the config has none.
	Quotas []QuotaStatus `json:"quotas,omitempty"`
	// CatchUps is the catch-up poll of every base that has one, sorted by
	// base; omitted when none has.
	CatchUps []CatchUpStatus `json:"catch_ups,omitempty"`
	// Runs is the progress of the newest runs (cron ticks, for_each
	// runs), newest first; omitted when there is none.
	Runs []RunStatus `json:"runs,omitempty"`
	// RuleSpend is what each rule spent of each base's budget in the last
	// hour and day, every replica's calls counted, sorted by base, then by
	// calls in the day, most first; omitted when nothing was spent.
	RuleSpend []RuleSpendStatus `json:"rule_spend,omitempty"`
	// Traces is the most recent handled events, newest first.
	Traces []TraceStatus `json:"traces"`
	// Dead is the newest dead letters (50), newest first.
	Dead []DeadStatus `json:"dead"`
	// DeadTotal is how many dead letters are kept in all (GET /api/dead
	// pages through them).
	DeadTotal uint64 `json:"dead_total"`
	// StorageDamage describes each stream of the store found with lost or
	// unreadable messages (then /readyz is 503); omitted when it is sound.
	StorageDamage []string `json:"storage_damage,omitempty"`
}

// ReloadStatus is the outcome of the last config load.
type ReloadStatus struct {
	// At is when the load was tried.
	At time.Time `json:"at"`
	// OK is true when the config was applied; false when it was refused
	// and the previous one keeps running.
	OK bool `json:"ok"`
	// Error says why a reload was refused: every problem of the file, or
	// what could not be applied.
	Error string `json:"error,omitempty"`
}

// BaseStatus is one base's budget, call history, forecast and queues.
type BaseStatus struct {
	// Name is the base name from the config file.
	Name string `json:"name"`
	// Windows is every limit window of the base, shortest first.
	Windows []WindowStatus `json:"windows"`
	// History is the base's API calls per bucket, oldest first.
	History HistoryStatus `json:"history"`
	// Forecast says when the longest window runs out at the current pace;
	// nil when there is nothing to forecast.
	Forecast *ForecastStatus `json:"forecast,omitempty"`
	// Lanes is the ops queue of each lane, most urgent first.
	Lanes []LaneStatus `json:"lanes"`
	// Backlog forecasts, for each lane with ops waiting, when they finish
	// by the budget's own plan; omitted when none waits.
	Backlog []BacklogStatus `json:"backlog,omitempty"`
	// Rules is the spend of each rule whose budget_share caps it on this
	// base, by rule name; omitted when no rule is capped.
	Rules []RuleShareStatus `json:"rules,omitempty"`
}

// BacklogStatus forecasts when a lane's waiting ops finish: the budget's
// plan (its windows, reserve, bulk pacing and the urgent demand seen)
// admits their calls, at full batches of 1,000 rows, one after the other.
type BacklogStatus struct {
	// Lane is "urgent", "normal" or "bulk".
	Lane string `json:"lane"`
	// Ops is the ops waiting; Calls the calls they need at full batches.
	Ops   int `json:"ops"`
	Calls int `json:"calls"`
	// FinishAt is when the last call would be admitted at this pace; nil
	// (omitted) when they carry over past Horizon.
	FinishAt *time.Time `json:"finish_at,omitempty"`
	// Horizon is the end of the forecast: the longest window from now.
	Horizon time.Time `json:"horizon"`
	// CarriesOver is the ops still left at Horizon; 0 when they finish.
	CarriesOver int `json:"carries_over,omitempty"`
}

// RunStatus is the progress of one run: a cron tick's or a for_each's ops
// (every op of the event, the rows of its pages too), every replica's
// counted.
type RunStatus struct {
	// EventID is the event of the run; Name its trigger (the rule of a
	// cron tick).
	EventID string `json:"event_id"`
	Name    string `json:"name"`
	// Base and Lane are where its ops wait (its first op's).
	Base string `json:"base"`
	Lane string `json:"lane"`
	// Started is when its first ops were queued; Updated its last change.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Queued, Done and Dead count its ops: queued in all, written, dead.
	Queued int `json:"queued"`
	Done   int `json:"done"`
	Dead   int `json:"dead"`
	// FinishAt forecasts when its last op is written: its lane's backlog
	// finishing (its ops wait in it, first in, first out); nil (omitted)
	// when it is finished or carries over.
	FinishAt *time.Time `json:"finish_at,omitempty"`
	// CarriesOver is, when its lane's backlog carries over past the
	// forecast's horizon, the run's ops still left then (at most what it
	// has left).
	CarriesOver int `json:"carries_over,omitempty"`
}

// RuleShareStatus is how much of its budget_share one rule has spent.
type RuleShareStatus struct {
	// Rule is the rule name.
	Rule string `json:"rule"`
	// Window is the window of the share, as configured ("24h").
	Window string `json:"window"`
	// Limit is the calls the share allows in the window; Used the calls the
	// rule's batches were charged in it; Remaining what is left.
	Limit     int `json:"limit"`
	Used      int `json:"used"`
	Remaining int `json:"remaining"`
}

// RuleSpendStatus is what one rule spent on one base: every SeaTable call
// is attributed to the rules whose ops it carried, in shares by ops, so
// calls are fractional. The hour counts whole 5-minute buckets.
type RuleSpendStatus struct {
	// Rule is the rule name; empty for calls of no rule (ops of a rule no
	// longer in the config, replays of hand-made ops).
	Rule string `json:"rule"`
	// Base is the base name.
	Base string `json:"base"`
	// Calls1h and Rows1h are the calls and the rows they carried in the
	// last hour; Calls24h and Rows24h in the last 24 hours.
	Calls1h  float64 `json:"calls_1h"`
	Rows1h   float64 `json:"rows_1h"`
	Calls24h float64 `json:"calls_24h"`
	Rows24h  float64 `json:"rows_24h"`
	// Share24h is the rule's part of the base's calls of the last 24 hours
	// (0 to 1).
	Share24h float64 `json:"share_24h"`
}

// WindowStatus is how much of one limit window is spent.
type WindowStatus struct {
	// Window is the window as configured: "1m", "24h", "month".
	Window string `json:"window"`
	// Limit is the calls the window allows; Used the calls counting in it
	// now; Remaining what it still allows (lowered by SeaTable's headers).
	Limit     int `json:"limit"`
	Used      int `json:"used"`
	Remaining int `json:"remaining"`
	// NextFree is the earliest time the window admits a call; zero (and
	// omitted) or not after now means now.
	NextFree time.Time `json:"next_free,omitzero"`
}

// HistoryStatus is API calls counted in equal buckets ending at End.
type HistoryStatus struct {
	// BucketSeconds is the width of one bucket.
	BucketSeconds int `json:"bucket_seconds"`
	// Calls is the count of calls per bucket, oldest first; the last bucket
	// ends at End.
	Calls []int `json:"calls"`
	// End is the end of the last bucket (the time the history was taken);
	// the page assumes the fetch time when it is absent.
	End time.Time `json:"end,omitzero"`
}

// ForecastStatus says when a window runs out at the current pace.
type ForecastStatus struct {
	// Window is the window forecast, as configured ("24h").
	Window string `json:"window"`
	// PacePerHour is the current pace in calls per hour.
	PacePerHour float64 `json:"pace_per_hour"`
	// ExhaustedAt is when the window runs out at that pace; nil (omitted)
	// means the budget lasts the window.
	ExhaustedAt *time.Time `json:"exhausted_at,omitempty"`
}

// LaneStatus is the ops queue of one lane of a base.
type LaneStatus struct {
	// Lane is "urgent", "normal" or "bulk".
	Lane string `json:"lane"`
	// Pending is the number of ops waiting.
	Pending int `json:"pending"`
	// OldestAge is the age of the oldest waiting op as a Go duration
	// ("3m20s"); empty (omitted) when none waits.
	OldestAge string `json:"oldest_age,omitempty"`
}

// TraceStatus is what happened to one event: the same JSON as runner.Trace.
type TraceStatus struct {
	// EventID is the event's id (its dedupe key).
	EventID string `json:"event_id"`
	// Source is the trigger kind: "webhook", "cron", "nats".
	Source string `json:"source"`
	// Name is the trigger's name (webhook name, rule name, subject).
	Name string `json:"name"`
	// Time is when seaflow handled the event.
	Time time.Time `json:"time"`
	// Rules is each rule the event was matched against.
	Rules []RuleStatus `json:"rules"`
	// Error is why handling the event failed; empty when it did not.
	Error string `json:"error,omitempty"`
	// Took is how long handling took (JSON: nanoseconds).
	Took time.Duration `json:"took_ns"`
	// Self marks an echo: the webhook of seaflow's own write (the page
	// collapses them).
	Self bool `json:"self,omitempty"`
}

// RuleStatus is one rule's part of a trace.
type RuleStatus struct {
	// Rule is the rule name.
	Rule string `json:"rule"`
	// When is the value of the rule's when: expression.
	When bool `json:"when"`
	// Ops is the number of ops the rule queued.
	Ops int `json:"ops"`
	// Error is why evaluating the rule failed; empty when it did not.
	Error string `json:"error,omitempty"`
	// Stopped is why the rule did not run (loop guard); empty when it ran.
	Stopped string `json:"stopped,omitempty"`
}

// DeadStatus is one dead-lettered op.
type DeadStatus struct {
	// Seq identifies the op in POST /api/dead/retry and /drop ({"seq": N}).
	Seq uint64 `json:"seq"`
	// Base, Rule and Kind say where the op came from and what it does.
	Base string `json:"base"`
	Rule string `json:"rule"`
	Kind string `json:"kind"`
	// Reason is why SeaTable refused the op.
	Reason string `json:"reason"`
	// Time is when the op was dead-lettered.
	Time time.Time `json:"time"`
	// Table, RowID and Lane say what the op targets and how it is sent;
	// empty (omitted) when the op has none (an sql op has no row).
	Table string `json:"table,omitempty"`
	RowID string `json:"row_id,omitempty"`
	Lane  string `json:"lane,omitempty"`
	// Values are the cells a retry would write, by column name; Key is an
	// upsert's key column; SQL and Params an sql op's statement.
	Values map[string]any `json:"values,omitempty"`
	Key    string         `json:"key,omitempty"`
	SQL    string         `json:"sql,omitempty"`
	Params []any          `json:"params,omitempty"`
	// OpID and EventID are the op's id and the event that produced it
	// (`seaflow events show EVENT_ID`).
	OpID    string `json:"op_id,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

// QuotaStatus is how much of one quota group (quotas: in the config, a
// budget shared by several bases) is spent.
type QuotaStatus struct {
	// Name is the quota's name from the config file.
	Name string `json:"name"`
	// Bases are the bases sharing it.
	Bases []string `json:"bases"`
	// Windows is every limit window of the quota, as for a base.
	Windows []WindowStatus `json:"windows"`
}

// CatchUpStatus is one base's catch-up poll (webhooks[].seatable.catch_up):
// whether SeaTable still delivers the base's webhook.
type CatchUpStatus struct {
	// Base is the base's name; Webhook the webhook caught up.
	Base    string `json:"base"`
	Webhook string `json:"webhook"`
	// Tables are the tables polled; Every the interval ("5m0s").
	Tables []string `json:"tables"`
	Every  string   `json:"every"`
	// LastPoll is the latest poll of any of its tables, by any replica;
	// zero (omitted) before the first.
	LastPoll time.Time `json:"last_poll,omitzero"`
	// LikelyDisabled is true when the latest poll that found changes found
	// some the webhook never delivered: SeaTable has likely disabled it
	// (seaflow_webhook_likely_disabled{base} is 1).
	LikelyDisabled bool `json:"likely_disabled"`
	// MissedAt is when a poll last found such changes, and MissedRows how
	// many; zero (omitted) when none was ever found.
	MissedAt   time.Time `json:"missed_at,omitzero"`
	MissedRows int       `json:"missed_rows,omitempty"`
}
