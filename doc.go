// Package seaflow holds the value types every part of seaflow shares: the
// Event a trigger produces, the Op a rule produces, the Kind of an op, the
// Lane it is dispatched in, the limit Window of a base, and the Clock.
//
// It imports only the standard library, so the durable spine (queue/) and
// the triggers name their payloads without importing the rule compiler,
// and the budget stays free of the SeaTable client. Dependencies point one
// way: cmd → runner/triggers → rules/actions/budget → seatable, and every
// package may use these types.
package seaflow
