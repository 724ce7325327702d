package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/seaflow/seaflow/adminguard"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/statuspage"
)

// adminRoutes adds the admin surface: the status page and its login, the
// status API, dead-letter retry and drop, the event history, replay, /metrics and the
// in-process emulator under /emulator/. Every route goes through the
// guard (Host, cross-site, token); the API's state changes are POSTs with
// a JSON body. /metrics is guarded too: it names bases and rules and
// shows their activity, and Prometheus sends a bearer token as easily.
func (d *daemon) adminRoutes(mux *http.ServeMux) {
	g := d.guard
	api := func(h http.HandlerFunc) http.Handler { return g.Protect(g.RequireJSON(h)) }
	mux.Handle("GET /api/status", api(d.serveStatus))
	mux.Handle("GET /api/dead", api(d.serveDeadList))
	mux.Handle("GET /api/dead/{seq}", api(d.serveDeadShow))
	mux.Handle("GET /api/events", api(d.serveEvents))
	mux.Handle("GET /api/events/{id...}", api(d.serveEvent))
	mux.Handle("POST /api/dead/retry", api(d.serveDeadAction(true)))
	mux.Handle("POST /api/dead/drop", api(d.serveDeadAction(false)))
	mux.Handle("POST /api/replay", api(d.serveReplay))
	mux.Handle("POST /api/rules/{rule}/trigger", api(d.serveTrigger))
	// Anything else under /api/ (a GET of a state change, an old URL) is a
	// JSON refusal, after the guard: probes learn nothing without a token.
	mux.Handle("/api/", api(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": r.Method + " " + r.URL.Path + " is not an API endpoint (state changes are POST with a JSON body)"})
	}))
	mux.Handle("GET /metrics", g.Protect(d.metrics.Handler()))
	// The page is static (no data): it reads /api/status with the cookie.
	mux.Handle("GET /{$}", g.Page(statuspage.Handler()))
	mux.Handle("/login", g.Login())
	if re := d.emus.first(); re != nil {
		mux.Handle("/emulator/", g.Protect(http.StripPrefix("/emulator", re.emu)))
	}
}

// adminPolicy is the guard's policy from the config in force.
func (d *daemon) adminPolicy() adminguard.Policy {
	s := d.config().Server
	return adminguard.Policy{Token: s.Token, Open: s.Open(), Hosts: s.Hosts}
}

// adminMode names how the admin surface is guarded, for the start-up log:
// "token", "none" (loopback, no token) or "closed" (no token set).
func adminMode(s rules.ServerConfig) string {
	switch {
	case s.Token != "":
		return "token"
	case s.Open():
		return "none"
	}
	return "closed"
}

// decodeBody decodes a JSON request body into v, refusing unknown fields;
// on error it has answered 400 with the reason.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON body: " + err.Error()})
		return false
	}
	return true
}

// DeadPage is the answer of GET /api/dead?limit=N&before=SEQ: up to limit
// (default 100, at most 1,000) dead letters below before, newest first.
type DeadPage struct {
	Dead []DeadStatus `json:"dead"`
	// Total is every dead letter kept, from the stream's state.
	Total uint64 `json:"total"`
	// Next is the before of the next page; 0 when there is none.
	Next uint64 `json:"next,omitempty"`
}

func (d *daemon) serveDeadList(w http.ResponseWriter, r *http.Request) {
	limit, before := 100, uint64(0)
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be from 1 to 1000"})
			return
		}
		limit = n
	}
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "before must be a sequence number"})
			return
		}
		before = n
	}
	stats, err := d.q.DeadStats(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	page, next, err := d.q.DeadPage(r.Context(), before, limit)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, DeadPage{Dead: deadStatuses(page), Total: stats.Count, Next: next})
}

// DeadAction is the body of POST /api/dead/retry and /api/dead/drop: one
// dead letter by Seq, or every one of a rule, a base or both.
type DeadAction struct {
	// Seq is the dead letter's sequence number; 0 with Rule or Base.
	Seq uint64 `json:"seq,omitempty"`
	// Rule and Base, without Seq, select every dead letter of the rule, of
	// the base, or of the rule on the base.
	Rule string `json:"rule,omitempty"`
	Base string `json:"base,omitempty"`
}

// DeadActionResult is the answer of POST /api/dead/retry and /drop.
type DeadActionResult struct {
	// Seq is the dead letter acted on, when the request named one.
	Seq uint64 `json:"seq,omitempty"`
	// Status is "requeued" or "dropped".
	Status string `json:"status"`
	// Count is how many dead letters were acted on; Seqs their sequence
	// numbers, oldest first.
	Count int      `json:"count"`
	Seqs  []uint64 `json:"seqs"`
}

func (d *daemon) serveDeadAction(retry bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body DeadAction
		if !decodeBody(w, r, &body) {
			return
		}
		byFilter := body.Rule != "" || body.Base != ""
		if body.Seq == 0 && !byFilter {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name a dead letter (seq, a positive integer) or select them by rule and/or base"})
			return
		}
		if body.Seq != 0 && byFilter {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give either seq or rule/base, not both"})
			return
		}
		act, action := d.q.DropDead, "dropped"
		if retry {
			act, action = d.q.RetryDead, "requeued"
		}
		res := DeadActionResult{Seq: body.Seq, Status: action, Seqs: []uint64{}}
		if body.Seq != 0 {
			if err := act(r.Context(), body.Seq); err != nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
				return
			}
			d.log.Info().Uint64("seq", body.Seq).Str("action", action).Msg("dead letter")
			res.Count, res.Seqs = 1, []uint64{body.Seq}
			writeJSON(w, http.StatusOK, res)
			return
		}
		found, err := d.q.FindDead(r.Context(), queue.DeadFilter{Base: body.Base, Rule: body.Rule})
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		for _, dl := range found {
			if err := act(r.Context(), dl.Seq); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": fmt.Sprintf("%v (%d of %d %s before it)", err, res.Count, len(found), action)})
				return
			}
			res.Count++
			res.Seqs = append(res.Seqs, dl.Seq)
		}
		d.log.Info().Str("rule", body.Rule).Str("base", body.Base).Int("count", res.Count).Str("action", action).Msg("dead letters")
		writeJSON(w, http.StatusOK, res)
	}
}

// serveDeadShow answers GET /api/dead/{seq}: one dead letter with its op.
func (d *daemon) serveDeadShow(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the dead letter's sequence number must be a positive integer"})
		return
	}
	dl, err := d.q.GetDead(r.Context(), seq)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, deadStatus(dl))
}

// ReplayRequest is the body of POST /api/replay.
type ReplayRequest struct {
	// Since is how far back to replay, as a Go duration ("2h").
	Since string `json:"since"`
	// Rule, when set, keeps only the ops of this rule.
	Rule string `json:"rule,omitempty"`
	// DryRun counts the ops and queues nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// ReplayProgress is one line of the NDJSON stream POST /api/replay answers.
type ReplayProgress = runner.ReplayProgress

// serveReplay re-runs stored events received in the last `since` through
// the current rules (runner.Replay); with dry_run the ops are only counted.
func (d *daemon) serveReplay(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if !decodeBody(w, r, &req) {
		return
	}
	since, err := time.ParseDuration(req.Since)
	if err != nil || since <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since must be a positive duration, e.g. 2h"})
		return
	}
	if req.Rule != "" && !d.hasRule(req.Rule) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("no rule named %q", req.Rule)})
		return
	}
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
	emit(d.runner.Replay(r.Context(), d.q.ReplayEvents, runner.ReplayOptions{Since: since, Rule: req.Rule, DryRun: req.DryRun}, emit))
}

func (d *daemon) hasRule(name string) bool {
	for _, r := range d.config().Rules {
		if r.Name == name {
			return true
		}
	}
	return false
}
