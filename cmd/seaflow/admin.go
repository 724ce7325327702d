package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/seaflow/seaflow/runner"
)

// adminRoutes adds the write side of the HTTP API: dead-letter retry and
// drop, and replay. They share the status API's token guard.
func (d *daemon) adminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/dead", d.requireStatusToken(http.HandlerFunc(d.serveDeadList)))
	mux.Handle("POST /api/dead/{seq}/retry", d.requireStatusToken(http.HandlerFunc(d.serveDeadAction)))
	mux.Handle("POST /api/dead/{seq}/drop", d.requireStatusToken(http.HandlerFunc(d.serveDeadAction)))
	mux.Handle("POST /api/replay", d.requireStatusToken(http.HandlerFunc(d.serveReplay)))
	mux.Handle("POST /api/rules/{rule}/trigger", d.requireStatusToken(http.HandlerFunc(d.serveTrigger)))
}

func (d *daemon) serveDeadList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"dead": d.status(r.Context(), 0).Dead})
}

func (d *daemon) serveDeadAction(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "seq must be a positive integer"})
		return
	}
	retry := len(r.URL.Path) > 6 && r.URL.Path[len(r.URL.Path)-6:] == "/retry"
	if retry {
		err = d.q.RetryDead(r.Context(), seq)
	} else {
		err = d.q.DropDead(r.Context(), seq)
	}
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	action := "dropped"
	if retry {
		action = "requeued"
	}
	d.log.Info().Uint64("seq", seq).Str("action", action).Msg("dead letter")
	writeJSON(w, http.StatusOK, map[string]any{"seq": seq, "status": action})
}

// ReplayProgress is one line of the NDJSON stream POST /api/replay answers.
type ReplayProgress = runner.ReplayProgress

// serveReplay re-runs stored events received in the last `since` through
// the current rules (runner.Replay); with dry_run the ops are only counted.
func (d *daemon) serveReplay(w http.ResponseWriter, r *http.Request) {
	since, err := time.ParseDuration(r.URL.Query().Get("since"))
	if err != nil || since <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since must be a positive duration, e.g. 2h"})
		return
	}
	onlyRule := r.URL.Query().Get("rule")
	if onlyRule != "" && !d.hasRule(onlyRule) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("no rule named %q", onlyRule)})
		return
	}
	dryRun := r.URL.Query().Get("dry_run") == "true"
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	emit := func(p ReplayProgress) {
		_ = enc.Encode(p)
		if flusher != nil {
			flusher.Flush()
		}
	}
	emit(d.runner.Replay(r.Context(), d.q.ReplayEvents, runner.ReplayOptions{Since: since, Rule: onlyRule, DryRun: dryRun}, emit))
}

func (d *daemon) hasRule(name string) bool {
	for _, r := range d.config().Rules {
		if r.Name == name {
			return true
		}
	}
	return false
}
