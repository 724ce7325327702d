package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/runner"
)

// routes is the daemon's HTTP surface: webhooks under their configured
// paths, health and readiness, the status API, and the in-process emulator
// under /emulator/ when one runs.
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-d.ready:
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		}
	})
	mux.Handle("GET /api/status", d.requireStatusToken(http.HandlerFunc(d.serveStatus)))
	d.adminRoutes(mux)
	if re := d.emus.first(); re != nil {
		mux.Handle("/emulator/", http.StripPrefix("/emulator", re.emu))
	}
	mux.Handle("/", d.hooks)
	return mux
}

// requireStatusToken guards the status API with server.token when one is
// configured, and always when the server listens beyond loopback.
func (d *daemon) requireStatusToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := d.cfg.Server.Token
		if token == "" && isLoopback(d.addr) {
			next.ServeHTTP(w, r)
			return
		}
		if token == "" || !bearerMatches(r, token) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "status API needs Authorization: Bearer <server.token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Status is the JSON of GET /api/status and of `seaflow status`.
type Status struct {
	Version string         `json:"version"`
	Started time.Time      `json:"started"`
	DryRun  bool           `json:"dry_run"`
	Bases   []BaseStatus   `json:"bases"`
	Traces  []runner.Trace `json:"traces"`
	Dead    []DeadStatus   `json:"dead"`
}

// BaseStatus is one base's budget and queue.
type BaseStatus struct {
	Name    string               `json:"name"`
	Windows []budget.WindowUsage `json:"windows"`
	Lanes   []LaneStatus         `json:"lanes"`
}

// LaneStatus is one lane's queue of a base.
type LaneStatus struct {
	Lane      budget.Lane `json:"lane"`
	Pending   int         `json:"pending"`
	OldestAge string      `json:"oldest_age,omitempty"`
}

// DeadStatus is one dead-lettered op.
type DeadStatus struct {
	Seq    uint64    `json:"seq"`
	Base   string    `json:"base"`
	Rule   string    `json:"rule"`
	Kind   string    `json:"kind"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

func (d *daemon) status(ctx context.Context, traces int) Status {
	st := Status{Version: version, Started: d.started, DryRun: d.opts.DryRun}
	names := make([]string, 0, len(d.cfg.Bases))
	for name := range d.cfg.Bases {
		names = append(names, name)
	}
	sort.Strings(names)
	now := d.opts.Clock.Now()
	for _, name := range names {
		bs := BaseStatus{Name: name}
		if u, err := d.keeper.Usage(ctx, name); err == nil {
			bs.Windows = u
		}
		for _, lane := range budget.Lanes {
			ls := LaneStatus{Lane: lane}
			if n, err := d.q.Pending(ctx, name, lane); err == nil {
				ls.Pending = n
			}
			if t, ok, err := d.q.OldestOp(ctx, name, lane); err == nil && ok {
				ls.OldestAge = now.Sub(t).Round(time.Second).String()
			}
			bs.Lanes = append(bs.Lanes, ls)
		}
		st.Bases = append(st.Bases, bs)
	}
	st.Traces = d.traces.Recent(traces)
	if dead, err := d.q.ListDead(ctx); err == nil {
		for _, op := range dead {
			st.Dead = append(st.Dead, DeadStatus{Seq: op.Seq, Base: op.Op.Base, Rule: op.Op.Rule, Kind: string(op.Op.Kind), Reason: op.Reason, Time: op.Time})
		}
	}
	return st
}

func (d *daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("traces"))
	if n <= 0 {
		n = 50
	}
	writeJSON(w, http.StatusOK, d.status(r.Context(), n))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
