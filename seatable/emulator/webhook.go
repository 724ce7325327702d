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
	"strings"
	"time"
)

// webhookTimeout is SeaTable's delivery timeout (EV webhook.py).
const webhookTimeout = 30 * time.Second

// webhookMaxFailures consecutive failures (non-2xx or timeout) disable a
// webhook; a connection error disables it at once; a 2xx resets the count.
const webhookMaxFailures = 5

// webhook is one outgoing webhook of a base; guarded by Emulator.mu.
type webhook struct {
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

// hookDelivery is one event body for every webhook of a base.
type hookDelivery struct {
	body []byte
}

// fireRowEvent queues a row event for the webhooks of b, serialized now
// (so it reflects the table at the time of the change). Callers hold e.mu.
// Shape (seatable-api.md §4): {"event": "update", "data": {dtable_uuid as
// 32 hex, row_id, op_user, op_type, op_time, table_id, table_name,
// row_name, row_data: [{column_key, column_name, column_type,
// column_data, value, old_value}]}} with raw stored values (option ids).
// row_data lists the changed cells: every set cell for insert_row (old
// value null), the changed ones for modify_row, every set cell for
// delete_row (value null) [I].
func (e *Emulator) fireRowEvent(b *base, t *table, r *row, opType, opUser string, now time.Time, changes []change) {
	active := false
	for _, h := range b.webhooks {
		if !h.disabled {
			active = true
		}
	}
	if !active {
		return
	}
	rowData := make([]any, 0, len(changes))
	for _, ch := range changes {
		var data any
		if d := b.columnData(t, ch.col); d != nil {
			data = pyValue(d)
		}
		rowData = append(rowData, pyObj{
			{"column_key", ch.col.key},
			{"column_name", ch.col.name},
			{"column_type", ch.col.typ},
			{"column_data", data},
			{"value", pyValue(ch.new)},
			{"old_value", pyValue(ch.old)},
		})
	}
	var rowName any = ""
	if len(t.columns) > 0 {
		if v := b.readValue(t, t.columns[0], r); v != nil {
			rowName = pyValue(v)
		}
	}
	body := pyDumps(pyObj{
		{"event", "update"},
		{"data", pyObj{
			{"dtable_uuid", strings.ReplaceAll(b.uuid, "-", "")},
			{"row_id", r.id},
			{"op_user", opUser},
			{"op_type", opType},
			{"op_time", float64(now.UnixMilli()) / 1000},
			{"table_id", t.id},
			{"table_name", t.name},
			{"row_name", rowName},
			{"row_data", rowData},
		}},
	})
	b.hookQueue = append(b.hookQueue, hookDelivery{body: body})
	e.pendingHooks++
	if !b.hookRunning {
		b.hookRunning = true
		go e.drainHooks(b)
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

// drainHooks delivers b's queued events in order, one worker per base.
func (e *Emulator) drainHooks(b *base) {
	for {
		e.mu.Lock()
		if len(b.hookQueue) == 0 {
			b.hookRunning = false
			e.mu.Unlock()
			return
		}
		d := b.hookQueue[0]
		b.hookQueue = b.hookQueue[1:]
		var targets []*webhook
		for _, h := range b.webhooks {
			if !h.disabled {
				targets = append(targets, h)
			}
		}
		e.mu.Unlock()
		for _, h := range targets {
			e.deliver(b, h, d.body)
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
	case err != nil && !isTimeout(err):
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
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.baseByRef(baseRef)
	if b == nil {
		return errors.New("enable webhooks: no base " + baseRef)
	}
	for _, h := range b.webhooks {
		h.disabled, h.failures = false, 0
	}
	return nil
}
