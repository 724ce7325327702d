package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// WebhookEvent turns a webhook request body into an event for the webhook
// named name. For a SeaTable webhook the body is SeaTable's payload: the id
// is derived from it (base, table, row, op type, op time), Base is the
// webhook's config base, and row/old hold the changed cells by column name
// with select options as names and dates as times; id is ignored. For other
// webhooks the body must be a JSON object or array, id is the caller's
// (e.g. a delivery id header, or a hash of the body), and Time is received.
// The caller authenticates the request first (see WebhookConfig.Authorize).
func (c *Config) WebhookEvent(name, id string, body []byte, received time.Time) (seaflow.Event, error) {
	w := c.Webhook(name)
	if w == nil {
		return seaflow.Event{}, fmt.Errorf("webhook event: unknown webhook %q", name)
	}
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		return seaflow.Event{}, fmt.Errorf("webhook event: body is not JSON: %w", err)
	}
	switch decoded.(type) {
	case map[string]any, []any:
	default:
		return seaflow.Event{}, errors.New("webhook event: body must be a JSON object or array")
	}
	// A caller's id (Idempotency-Key) is scoped to its webhook, so two
	// senders using the same key on different hooks are two events.
	ev := seaflow.Event{Source: seaflow.SourceWebhook, Name: name, ID: "webhook/" + name + "/" + id, Time: received.UTC(), Body: decoded}
	if w.SeaTable == nil {
		if id == "" {
			return seaflow.Event{}, errors.New("webhook event: empty event id")
		}
		return ev, nil
	}
	st, err := seatable.ParseWebhook(body)
	if err != nil {
		return seaflow.Event{}, fmt.Errorf("webhook event: %w", err)
	}
	ev.ID = st.ID()
	ev.Base = w.SeaTable.Base
	ev.OpType = st.OpType
	ev.Table = st.TableName
	ev.RowID = st.RowID
	ev.OpUser = st.OpUser
	if st.OpTime > 0 {
		ev.Time = st.Time()
	}
	ev.Row = make(map[string]any, len(st.Cells))
	ev.Old = make(map[string]any, len(st.Cells))
	for _, cell := range st.Cells {
		v, old := cell.Display()
		ev.Row[cell.ColumnName] = v
		ev.Old[cell.ColumnName] = old
	}
	return ev, nil
}

// NATSEvent turns a NATS message into an event. data is decoded as JSON
// into msg; data that is not JSON becomes msg as a string. id is the
// message's id (its Nats-Msg-Id, or stream sequence).
func (c *Config) NATSEvent(subject, id string, data []byte, received time.Time) (seaflow.Event, error) {
	if subject == "" || id == "" {
		return seaflow.Event{}, errors.New("nats event: empty subject or id")
	}
	var msg any
	if err := json.Unmarshal(data, &msg); err != nil {
		msg = string(data)
	}
	// Message ids are scoped to their subject.
	return seaflow.Event{ID: "nats/" + subject + "/" + id, Source: seaflow.SourceNATS, Name: subject, Time: received.UTC(), Msg: msg}, nil
}

// CronEvent is the event of a cron rule's scheduled run. Its id is
// "cron/RULE/TIME" with the scheduled time in UTC RFC 3339, so every
// replica computes the same id for the same tick.
func CronEvent(rule string, scheduled time.Time) seaflow.Event {
	t := scheduled.UTC()
	return seaflow.Event{
		ID:     "cron/" + rule + "/" + t.Format(time.RFC3339),
		Source: seaflow.SourceCron,
		Name:   rule,
		Rule:   rule,
		Time:   t,
	}
}

// ErrUnauthorized is returned by Authorize for a request without valid
// credentials.
var ErrUnauthorized = errors.New("unauthorized")

// Authorize checks a webhook request's credentials against the webhook's
// auth: the SeaTable signature (X-SeaTable-Signature), a bearer token, an
// HMAC header, or nothing for auth: none. It compares in constant time and
// returns an error wrapping ErrUnauthorized that names no secret.
func (w *WebhookConfig) Authorize(h http.Header, body []byte) error {
	switch {
	case w.SeaTable != nil:
		sig := h.Get(seatable.SignatureHeader)
		if sig == "" {
			return fmt.Errorf("missing %s header: %w", seatable.SignatureHeader, ErrUnauthorized)
		}
		if !seatable.VerifySignature(w.SeaTable.Secret, body, sig) {
			return fmt.Errorf("bad %s signature: %w", seatable.SignatureHeader, ErrUnauthorized)
		}
	case w.Token != "":
		auth := h.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(w.Token)) != 1 {
			return fmt.Errorf("missing or wrong bearer token: %w", ErrUnauthorized)
		}
	case w.HMAC != nil:
		sig := strings.TrimSpace(h.Get(w.HMAC.Header))
		if len(sig) > 7 && strings.EqualFold(sig[:7], "sha256=") {
			sig = sig[7:]
		}
		got, err := hex.DecodeString(sig)
		mac := hmac.New(sha256.New, []byte(w.HMAC.Secret))
		mac.Write(body)
		if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
			return fmt.Errorf("missing or bad %s signature: %w", w.HMAC.Header, ErrUnauthorized)
		}
	case w.Auth == "none":
	default:
		return fmt.Errorf("webhook %q has no authentication: %w", w.Name, ErrUnauthorized)
	}
	return nil
}
