package emulator

import (
	"sort"
	"time"
)

// baseCounters are the running counters of one base.
type baseCounters struct {
	calls          int
	byEndpoint     map[string]int
	rowsPerCall    []int
	rows           int
	sent429        int
	sent5xx        int
	tokenExchanges int
}

// Stats is a snapshot of the call log; it marshals to the JSON of
// GET /_emulator/stats.
type Stats struct {
	// Bases is keyed by base name.
	Bases map[string]BaseStats `json:"bases"`
	// CallLog lists every gateway call and token exchange in order.
	CallLog []CallRecord `json:"call_log"`
}

// BaseStats counts the calls made to one base.
type BaseStats struct {
	UUID string `json:"uuid"`
	// Calls counts gateway calls, whatever their answer (403s included).
	Calls int `json:"calls"`
	// ByEndpoint counts gateway calls by "METHOD /suffix", e.g.
	// "PUT /rows/", "GET /rows/{row_id}/", "POST /sql/"; the token
	// exchange is "GET /api/v2.1/dtable/app-access-token/".
	ByEndpoint map[string]int `json:"by_endpoint"`
	// Rows is the total of rows over all calls; RowsPerCall lists the
	// rows of each gateway call in order (rows returned by reads, rows
	// sent by writes, rows matched by SQL UPDATE/DELETE).
	Rows        int   `json:"rows"`
	RowsPerCall []int `json:"rows_per_call"`
	// Sent429 and Sent5xx count the 429s (limit or injected) and the
	// injected 5xx answers.
	Sent429        int            `json:"sent_429"`
	Sent5xx        int            `json:"sent_5xx"`
	TokenExchanges int            `json:"token_exchanges"`
	Webhooks       []WebhookStats `json:"webhooks"`
}

// CallRecord is one call of the log.
type CallRecord struct {
	Time     time.Time `json:"time"`
	Base     string    `json:"base"`
	Method   string    `json:"method"`
	Endpoint string    `json:"endpoint"`
	Status   int       `json:"status"`
	Rows     int       `json:"rows"`
	// Gateway is false for the token exchange.
	Gateway bool `json:"gateway"`
}

// logCall appends to the call log and the base counters. Callers hold
// e.mu.
func (e *Emulator) logCall(now time.Time, b *base, method, endpoint string, status, rows int, gateway bool) {
	name := ""
	if b != nil {
		name = b.name
	}
	e.callLog = append(e.callLog, CallRecord{Time: now, Base: name, Method: method, Endpoint: endpoint, Status: status, Rows: rows, Gateway: gateway})
	e.notifyLocked()
	e.log.Debug().Str("base", name).Str("method", method).Str("endpoint", endpoint).Int("status", status).Int("rows", rows).Msg("emulator call")
	if b == nil {
		return
	}
	s := &b.stats
	if s.byEndpoint == nil {
		s.byEndpoint = map[string]int{}
	}
	s.byEndpoint[method+" "+endpoint]++
	if !gateway {
		return
	}
	s.calls++
	s.rows += rows
	s.rowsPerCall = append(s.rowsPerCall, rows)
	switch {
	case status == 429:
		s.sent429++
	case status >= 500:
		s.sent5xx++
	}
}

// Stats returns a snapshot of the call log and counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Stats{Bases: map[string]BaseStats{}, CallLog: append([]CallRecord{}, e.callLog...)}
	for _, b := range e.bases {
		s := b.stats
		bs := BaseStats{
			UUID: b.uuid, Calls: s.calls, ByEndpoint: map[string]int{}, Rows: s.rows,
			RowsPerCall: append([]int{}, s.rowsPerCall...), Sent429: s.sent429, Sent5xx: s.sent5xx,
			TokenExchanges: s.tokenExchanges, Webhooks: []WebhookStats{},
		}
		for k, v := range s.byEndpoint {
			bs.ByEndpoint[k] = v
		}
		for _, h := range b.webhooks {
			bs.Webhooks = append(bs.Webhooks, h.stats())
		}
		st.Bases[b.name] = bs
	}
	return st
}

// EachCall calls f with every record of the call log, oldest first,
// without copying the log (a long simulation's holds millions). f must not
// call the emulator.
func (e *Emulator) EachCall(f func(CallRecord)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.callLog {
		f(c)
	}
}

// MaxInWindow returns the highest number of gateway calls to a base (by
// name or uuid) that the call log shows in any window of length window
// (a call at t and one at t+window are not in the same window). Every
// gateway call counts, rejected ones too: it measures what the client
// sent, for "never exceeded" assertions.
func (e *Emulator) MaxInWindow(baseRef string, window time.Duration) int {
	if window <= 0 {
		return 0
	}
	e.mu.Lock()
	b := e.baseByRef(baseRef)
	var times []time.Time
	if b != nil {
		for _, c := range e.callLog {
			if c.Gateway && c.Base == b.name {
				times = append(times, c.Time)
			}
		}
	}
	e.mu.Unlock()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= window {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best = n
		}
	}
	return best
}
