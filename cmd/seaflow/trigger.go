package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/triggers"
)

func init() {
	commands["trigger"] = command{summary: "fire a cron rule of a running daemon now, through the normal path (trigger RULE)", run: runTrigger}
}

// TriggerAnswer is the JSON of POST /api/rules/{rule}/trigger.
type TriggerAnswer struct {
	// ID is the stored event's id: cron/RULE/manual/TIME.
	ID     string `json:"id"`
	Rule   string `json:"rule"`
	Status string `json:"status"`
}

func runTrigger(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("trigger")
	api := addAPIFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("seaflow trigger nightly-overdue", "trigger needs one cron rule name: seaflow trigger RULE")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := api.post(ctx, "/api/rules/"+url.PathEscape(rest[0])+"/trigger", struct{}{})
	if err != nil {
		return fmt.Errorf("trigger %s: %w", rest[0], err)
	}
	defer resp.Body.Close()
	var a TriggerAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return fmt.Errorf("trigger %s: read the daemon's answer: %w", rest[0], err)
	}
	fmt.Fprintf(m.Stdout, "fired %s: event %s stored; `seaflow status` shows what it did\n", a.Rule, a.ID)
	return nil
}

// serveTrigger fires a cron rule now: it stores a ManualCronEvent through
// the same sink as the cron trigger, so the runner, the budget and the
// dispatcher treat it as a tick. The cron cursor is not moved: the next
// scheduled tick fires as planned. Unknown and non-cron rules are refused.
func (d *daemon) serveTrigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("rule")
	rule := d.config().Rule(name)
	switch {
	case rule == nil:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no rule named %q", name)})
		return
	case rule.On.NATS != "":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("rule %q is a NATS rule: only cron rules can be triggered by hand (publish to %s instead: seaflow publish %s JSON)", name, rule.On.NATS, rule.On.NATS)})
		return
	case rule.Source() != seaflow.SourceCron:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("rule %q is a webhook rule: only cron rules can be triggered by hand (send a request to its webhook %s instead)", name, rule.On.Webhook)})
		return
	}
	ev := triggers.ManualCronEvent(name, d.opts.Clock.Now())
	ctx, cancel := context.WithTimeout(r.Context(), intakeTimeout)
	defer cancel()
	if _, err := d.sink(ctx, ev); err != nil {
		d.log.Error().Err(err).Str("rule", name).Str("event_id", ev.ID).Msg("manual cron event not stored")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the event could not be stored; retry later"})
		return
	}
	d.log.Info().Str("rule", name).Str("event_id", ev.ID).Msg("cron rule fired by hand")
	writeJSON(w, http.StatusOK, TriggerAnswer{ID: ev.ID, Rule: name, Status: "accepted"})
}
