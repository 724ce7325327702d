package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/seaflow/seaflow"
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
type ReplayProgress struct {
	Events int    `json:"events"`
	Ops    int    `json:"ops"`
	Errors int    `json:"errors"`
	Done   bool   `json:"done"`
	Error  string `json:"error,omitempty"`
}

// serveReplay re-runs stored events received in the last `since` through
// the current rules. Ops get ids of their own per replay ("replay/<start>/
// <op id>"), so they run again even if the original ops ran; with dry_run
// they are only counted.
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
	var p ReplayProgress
	emit := func() {
		_ = enc.Encode(p)
		if flusher != nil {
			flusher.Flush()
		}
	}
	start := d.opts.Clock.Now()
	prefix := "replay/" + strconv.FormatInt(start.UnixNano(), 36) + "/"
	err = d.q.ReplayEvents(r.Context(), start.Add(-since), func(ev seaflow.Event) error {
		ops, _, err := d.runner.Evaluate(r.Context(), ev)
		p.Events++
		if err != nil {
			p.Errors++
		}
		var keep []seaflow.Op
		for _, op := range ops {
			if onlyRule == "" || op.Rule == onlyRule {
				op.ID = prefix + op.ID
				keep = append(keep, op)
			}
		}
		p.Ops += len(keep)
		if !dryRun && len(keep) > 0 {
			if err := d.q.PublishOps(r.Context(), keep); err != nil {
				return fmt.Errorf("queue replayed ops: %w", err)
			}
		}
		if p.Events%200 == 0 {
			emit()
		}
		return nil
	})
	p.Done = true
	if err != nil && !errors.Is(err, r.Context().Err()) {
		p.Error = err.Error()
	}
	emit()
	d.log.Info().Dur("since", since).Str("rule", onlyRule).Bool("dry_run", dryRun).Int("events", p.Events).Int("ops", p.Ops).Msg("replay finished")
}

func (d *daemon) hasRule(name string) bool {
	for _, r := range d.config().Rules {
		if r.Name == name {
			return true
		}
	}
	return false
}
