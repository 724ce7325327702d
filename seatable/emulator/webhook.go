package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// webhookTimeout is SeaTable's delivery timeout (EV webhook.py).
const webhookTimeout = 30 * time.Second

// webhookMaxFailures consecutive failures (non-2xx or read timeout)
// disable a webhook; a connection error disables it at once; a 2xx resets
// the count.
const webhookMaxFailures = 5

// webhook is one outgoing webhook of a base; guarded by Emulator.mu.
type webhook struct {
	// id identifies it in the account API; creator and created are what
	// the account API lists.
	id       int
	creator  string
	created  time.Time
	url      string
	secret   string
	failures int
	disabled bool
	sent     int
	failed   int
}

// WebhookStats reports one webhook's deliveries.
type WebhookStats struct {
	URL string `json:"url"`
	// Sent counts attempted deliveries; Failed those that failed.
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
	// Failures is the current run of consecutive failures.
	Failures int  `json:"failures"`
	Disabled bool `json:"disabled"`
}

func (h *webhook) stats() WebhookStats {
	return WebhookStats{URL: h.url, Sent: h.sent, Failed: h.failed, Failures: h.failures, Disabled: h.disabled}
}

// hookJob is one event body for every webhook of a base, due at a time
// (its change plus Options.WebhookDelay).
type hookJob struct {
	b    *base
	body []byte
	due  time.Time
}

// hookLane is a queue of jobs and the senders draining it: one lane per
// base with a single sender (in order), or one lane for the whole
// emulator with Options.WebhookSenders senders, as SeaTable's two sender
// threads share one queue (EV webhook.py start), so events of a base may
// arrive out of order.
type hookLane struct {
	queue   []hookJob
	senders int
}

// queueEvent queues the event data (a table event) for the webhooks of b.
// Callers hold e.mu.
func (e *Emulator) queueEvent(b *base, data pyObj, now time.Time) {
	body := pyDumps(pyObj{{"event", "update"}, {"data", data}})
	key, max := b.uuid, 1
	if e.hookSenders > 1 {
		key, max = "", e.hookSenders
	}
	l := e.hookLanes[key]
	if l == nil {
		l = &hookLane{}
		e.hookLanes[key] = l
	}
	l.queue = append(l.queue, hookJob{b: b, body: body, due: now.Add(e.hookDelay)})
	e.pendingHooks++
	if l.senders < max {
		l.senders++
		go e.sendHooks(l)
	}
}

// pyValue converts a stored or rendered value for pyDumps: integral
// numbers become ints, as Python holds a number parsed from "100".
func pyValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && x > -1e15 && x < 1e15 {
			return int64(x)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = pyValue(e)
		}
		return out
	case map[string]any:
		// Column data: options keep SeaTable's key order.
		if opts, ok := x["options"].([]any); ok && len(x) == 1 {
			list := make([]any, len(opts))
			for i, o := range opts {
				m, _ := o.(map[string]any)
				list[i] = pyObj{{"name", m["name"]}, {"color", m["color"]}, {"textColor", m["textColor"]}, {"id", m["id"]}}
			}
			return pyObj{{"options", list}}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = pyValue(e)
		}
		return out
	}
	return v
}

// sendHooks is one sender of lane l: it delivers the lane's jobs in
// queue order, each once it is due, until the lane is empty.
func (e *Emulator) sendHooks(l *hookLane) {
	for {
		e.mu.Lock()
		if len(l.queue) == 0 {
			l.senders--
			e.mu.Unlock()
			return
		}
		job := l.queue[0]
		l.queue = l.queue[1:]
		wait := job.due.Sub(e.now())
		e.mu.Unlock()
		if wait > 0 {
			<-e.after(wait)
		}
		e.mu.Lock()
		var targets []*webhook
		for _, h := range job.b.webhooks {
			if !h.disabled {
				targets = append(targets, h)
			}
		}
		e.mu.Unlock()
		for _, h := range targets {
			e.deliver(job.b, h, job.body)
		}
		e.mu.Lock()
		e.pendingHooks--
		if e.pendingHooks == 0 {
			close(e.hooksIdle)
			e.hooksIdle = make(chan struct{})
		}
		e.mu.Unlock()
	}
}

// deliver POSTs one body to one webhook and updates its failure count.
func (e *Emulator) deliver(b *base, h *webhook, body []byte) {
	e.mu.Lock()
	url, secret, disabled := h.url, h.secret, h.disabled
	e.mu.Unlock()
	if disabled {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		e.mu.Lock()
		h.sent++
		h.failed++
		h.disabled = true
		e.mu.Unlock()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "python-requests/2.31.0")
	if secret != "" {
		req.Header.Set("X-SeaTable-Signature", Signature(secret, body))
	}
	resp, err := e.client.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h.sent++
	switch {
	case err == nil && status >= 200 && status < 300:
		h.failures = 0
		return
	case err != nil && (isDialError(err) || !isTimeout(err)):
		// A connection error (refused, DNS, a connect timeout) disables
		// the hook at once; only a read timeout counts toward 5 (EV
		// trigger_jobs: requests' ReadTimeout is counted, any other
		// exception invalidates).
		h.failed++
		h.failures++
		h.disabled = true
	default:
		h.failed++
		h.failures++
		if h.failures >= webhookMaxFailures {
			h.disabled = true
		}
	}
	e.log.Warn().Str("base", b.name).Int("status", status).AnErr("error", err).Bool("disabled", h.disabled).Msg("webhook delivery failed")
}

// isDialError reports whether err happened while connecting.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Signature is the X-SeaTable-Signature value for body:
// "sha256=" + hex HMAC-SHA256(secret, body).
func Signature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// WaitWebhooks blocks until every queued webhook delivery has finished,
// or ctx ends.
func (e *Emulator) WaitWebhooks(ctx context.Context) error {
	for {
		e.mu.Lock()
		if e.pendingHooks == 0 {
			e.mu.Unlock()
			return nil
		}
		idle := e.hooksIdle
		e.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// EnableWebhooks re-enables every disabled webhook of a base and resets
// its failure count, as re-saving it in SeaTable's UI does.
func (e *Emulator) EnableWebhooks(baseRef string) error {
	return e.eachWebhook("enable webhooks", baseRef, func(h *webhook) { h.disabled, h.failures = false, 0 })
}

// eachWebhook applies f to every webhook of a base, under e.mu.
func (e *Emulator) eachWebhook(op, baseRef string, f func(*webhook)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.baseByRef(baseRef)
	if b == nil {
		return errors.New(op + ": no base " + baseRef)
	}
	for _, h := range b.webhooks {
		f(h)
	}
	return nil
}
