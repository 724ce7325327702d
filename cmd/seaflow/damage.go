package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/seaflow/seaflow/queue"
)

// recoverHint says what an operator does about a damaged store.
const recoverHint = "To recover: stop seaflow and restore the data directory from a backup " +
	"(docs/guide.md, \"Backup and restore\"); or start with --accept-data-loss to go on without the lost " +
	"messages, then queue lost ops again from the stored events with `seaflow replay --since DURATION`."

// damageMessage describes a damaged store and how to recover.
func damageMessage(err error) (string, bool) {
	var de *queue.DamageError
	if !errors.As(err, &de) {
		return "", false
	}
	return fmt.Sprintf("seaflow: %v\n%s", de, recoverHint), true
}

// serveReady answers /readyz: 200 once the daemon runs on a sound store;
// 503 while it starts, and while a stream is damaged (with which, how many
// messages and how to recover), so an orchestrator stops routing to it.
func (d *daemon) serveReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-d.ready:
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	if err := d.q.Writable(); err != nil {
		// Intake would answer 503: say so before a balancer sends more.
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "cannot store", "error": err.Error()})
		return
	}
	if dmg := d.q.Damage(); len(dmg) > 0 {
		parts := make([]string, len(dmg))
		for i, x := range dmg {
			parts[i] = x.String()
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "damaged",
			"error":  "storage damaged: " + strings.Join(parts, "; ") + ". " + recoverHint,
			"damage": dmg,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
