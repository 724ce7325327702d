// Package triggers turns what seaflow receives from the outside world into
// seaflow.Event values and writes them durably before it answers: cron ticks
// (Cron), HTTP webhooks (Webhooks, an http.Handler) and NATS messages (NATS).
//
// Every trigger hands its events to a Sink and treats a returned nil as
// "stored": a webhook answers 202 only after that, a JetStream delivery is
// acked only after that. Event ids are chosen so that redeliveries and
// replicas produce the same id, and the EVENTS stream drops the duplicates.
package triggers
