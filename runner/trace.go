package runner

import (
	"sync"
	"time"
)

// Trace records what happened to one event: which rules matched, what their
// when: evaluated to, the ops produced and any error. Traces are kept in
// memory for a bounded time and count, for `seaflow status` and the HTTP API.
type Trace struct {
	EventID string        `json:"event_id"`
	Source  string        `json:"source"`
	Name    string        `json:"name"`
	Time    time.Time     `json:"time"` // when seaflow handled the event
	Rules   []RuleTrace   `json:"rules"`
	Error   string        `json:"error,omitempty"`
	Took    time.Duration `json:"took_ns"`
	// Self is true when the event reported seaflow's own write (an echo).
	Self bool `json:"self,omitempty"`
	// Redelivered is true when the event may have been handled before
	// (seaflow.Event.Redelivered): its earlier record is to be replaced.
	Redelivered bool `json:"redelivered,omitempty"`
	// Base, Table and RowID are what a SeaTable webhook event reported
	// (empty for other events).
	Base  string `json:"base,omitempty"`
	Table string `json:"table,omitempty"`
	RowID string `json:"row_id,omitempty"`
}

// stop records on the trace of rule why some of its work did not run.
func (t *Trace) stop(rule, why string) {
	for i := range t.Rules {
		if t.Rules[i].Rule == rule {
			if t.Rules[i].Stopped == "" {
				t.Rules[i].Stopped = why
			}
			return
		}
	}
	t.Rules = append(t.Rules, RuleTrace{Rule: rule, Stopped: why})
}

// RuleTrace is one rule's part of a Trace.
type RuleTrace struct {
	Rule    string `json:"rule"`
	When    bool   `json:"when"`
	Ops     int    `json:"ops"`
	Error   string `json:"error,omitempty"`
	Stopped string `json:"stopped,omitempty"` // why the rule did not run (loop guard)
}

// Traces is a bounded ring of recent traces, safe for concurrent use.
type Traces struct {
	mu     sync.Mutex
	ring   []Trace
	next   int
	full   bool
	maxAge time.Duration
	now    func() time.Time
}

// NewTraces keeps at most size traces, none older than maxAge (0 = no age
// bound). now is the clock used to age them.
func NewTraces(size int, maxAge time.Duration, now func() time.Time) *Traces {
	if size <= 0 {
		size = 1000
	}
	return &Traces{ring: make([]Trace, size), maxAge: maxAge, now: now}
}

// Add records a trace, evicting the oldest when full.
func (t *Traces) Add(tr Trace) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ring[t.next] = tr
	t.next = (t.next + 1) % len(t.ring)
	if t.next == 0 {
		t.full = true
	}
}

// Recent returns up to n traces, newest first, skipping those older than
// the age bound.
func (t *Traces) Recent(n int) []Trace {
	t.mu.Lock()
	defer t.mu.Unlock()
	count := t.next
	if t.full {
		count = len(t.ring)
	}
	if n <= 0 || n > count {
		n = count
	}
	var cutoff time.Time
	if t.maxAge > 0 {
		cutoff = t.now().Add(-t.maxAge)
	}
	out := make([]Trace, 0, n)
	for i := 1; i <= count && len(out) < n; i++ {
		tr := t.ring[(t.next-i+len(t.ring))%len(t.ring)]
		if !cutoff.IsZero() && tr.Time.Before(cutoff) {
			break
		}
		out = append(out, tr)
	}
	return out
}
