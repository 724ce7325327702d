package triggers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// MaxWebhookBody is the largest webhook body accepted, in bytes (1 MiB).
const MaxWebhookBody = 1 << 20

// Hook is one configured webhook endpoint.
type Hook struct {
	// Name is the webhook's config name; events carry it as Name.
	Name string
	// Path is the URL path it is served on, e.g. "/hooks/crm".
	Path string
	// SeaTableSecret, when set, makes this a SeaTable webhook whose
	// X-SeaTable-Signature ("sha256=" + hex HMAC-SHA256 of the raw body) is
	// verified.
	SeaTableSecret string
	// SeaTable marks a SeaTable webhook (signature header, body format).
	// Without a secret it is accepted only with NoAuth.
	SeaTable bool
	// BearerToken authenticates a generic webhook by "Authorization: Bearer
	// <token>".
	BearerToken string
	// HMACHeader and HMACSecret authenticate a generic webhook by a header
	// carrying the hex HMAC-SHA256 of the raw body, with an optional
	// "sha256=" prefix. Both or neither.
	HMACHeader, HMACSecret string
	// NoAuth accepts requests without authentication (auth: none).
	NoAuth bool
	// RateLimit caps the authenticated requests a generic hook accepts;
	// past it a request is answered 429 with Retry-After and a JSON
	// reason, and nothing is stored. SeaTable hooks take none: SeaTable
	// does not retry a refused webhook and disables it after 5 failures.
	// The zero value means no limit.
	RateLimit RateLimit
}

// seaTable reports whether the hook is a SeaTable webhook.
func (h Hook) seaTable() bool { return h.SeaTable || h.SeaTableSecret != "" }

// validate checks that the hook is reachable and authenticated exactly one way.
func (h Hook) validate() error {
	if h.Name == "" {
		return fmt.Errorf("webhook at path %q: empty name", h.Path)
	}
	if !strings.HasPrefix(h.Path, "/") {
		return fmt.Errorf("webhook %q: path %q must start with /", h.Name, h.Path)
	}
	if (h.HMACHeader == "") != (h.HMACSecret == "") {
		return fmt.Errorf("webhook %q: hmac needs both a header and a secret", h.Name)
	}
	if h.HMACHeader != "" && http.CanonicalHeaderKey(h.HMACHeader) == "Authorization" {
		return fmt.Errorf("webhook %q: hmac header cannot be Authorization", h.Name)
	}
	if err := h.RateLimit.validate(h.Name); err != nil {
		return err
	}
	if h.seaTable() && h.RateLimit.enabled() {
		return fmt.Errorf("webhook %q: a SeaTable webhook takes no rate limit (SeaTable does not retry refused webhooks)", h.Name)
	}
	methods := 0
	for _, set := range []bool{h.SeaTableSecret != "", h.BearerToken != "", h.HMACSecret != ""} {
		if set {
			methods++
		}
	}
	switch {
	case h.seaTable() && (h.BearerToken != "" || h.HMACSecret != ""):
		return fmt.Errorf("webhook %q: a SeaTable webhook is verified by its secret, not a token or hmac", h.Name)
	case methods > 1:
		return fmt.Errorf("webhook %q: set a token or an hmac, not both", h.Name)
	case h.NoAuth && methods > 0:
		return fmt.Errorf("webhook %q: auth none together with a secret", h.Name)
	case !h.NoAuth && methods == 0 && h.seaTable():
		return fmt.Errorf("webhook %q: a SeaTable webhook needs a secret (or auth: none)", h.Name)
	case !h.NoAuth && methods == 0:
		return fmt.Errorf("webhook %q: needs a token or an hmac (or auth: none)", h.Name)
	}
	return nil
}

// DecodeFunc turns a verified webhook body into an event. id is the
// Idempotency-Key (or X-Request-Id) header of a generic hook, a random id when
// a generic request carries neither, and "" for SeaTable hooks, whose decoder
// derives the id from the body (base, table, row, op_type, op_time). An error
// is answered 400 with its message, so it must not contain secrets.
type DecodeFunc func(hookName, id string, body []byte, received time.Time) (seaflow.Event, error)

// Webhooks serves the configured webhook paths (an http.Handler). A request is
// answered 202 only after its event is durably written by the Sink; every
// refused request gets a 4xx (or 503 when storage fails) with a JSON body
// {"error": "..."} and stores nothing.
type Webhooks struct {
	decode DecodeFunc
	sink   Sink
	clock  seaflow.Clock
	log    zerolog.Logger
	hooks  atomic.Pointer[map[string]Hook] // by path
	limits limiters
}

var _ http.Handler = (*Webhooks)(nil)

// NewWebhooks validates hooks and returns the handler serving them.
func NewWebhooks(hooks []Hook, decode DecodeFunc, sink Sink, clock seaflow.Clock, log zerolog.Logger) (*Webhooks, error) {
	w := &Webhooks{decode: decode, sink: sink, clock: clock, log: log}
	if err := w.Update(hooks); err != nil {
		return nil, err
	}
	return w, nil
}

// Update replaces the served hooks at once (a reload). On a validation error
// the served hooks are kept and every problem is returned.
func (w *Webhooks) Update(hooks []Hook) error {
	m := make(map[string]Hook, len(hooks))
	names := make(map[string]bool, len(hooks))
	var errs []error
	for _, h := range hooks {
		if err := h.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := m[h.Path]; dup {
			errs = append(errs, fmt.Errorf("webhook %q: path %q already served", h.Name, h.Path))
			continue
		}
		if names[h.Name] {
			errs = append(errs, fmt.Errorf("webhook %q: name listed twice", h.Name))
			continue
		}
		names[h.Name] = true
		m[h.Path] = h
	}
	if len(errs) > 0 {
		return fmt.Errorf("webhooks: %w", errors.Join(errs...))
	}
	w.limits.update(m)
	w.hooks.Store(&m)
	return nil
}

// ServeHTTP checks, decodes and stores one webhook request. The checks in
// order: known path (404), POST (405 with Allow), Content-Type
// application/json (415), credentials present (401), body at most
// MaxWebhookBody bytes (413), signature (401), the hook's rate limit (429
// with Retry-After; only authenticated requests count, so a flood without
// credentials cannot lock the real sender out), JSON (400), decoding (400).
// Then the event is written (503 when that fails) and answered 202
// {"id": "...", "status": "accepted"}.
func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	hook, ok := (*w.hooks.Load())[r.URL.Path]
	if !ok {
		w.refuse(rw, r, "", http.StatusNotFound, "no webhook at this path")
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.refuse(rw, r, hook.Name, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		w.refuse(rw, r, hook.Name, http.StatusUnsupportedMediaType, "content type must be application/json")
		return
	}
	if status, reason := hook.checkHeader(r.Header); status != 0 {
		w.refuse(rw, r, hook.Name, status, reason)
		return
	}
	if r.ContentLength > MaxWebhookBody {
		w.refuse(rw, r, hook.Name, http.StatusRequestEntityTooLarge, "body larger than 1 MiB")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxWebhookBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.refuse(rw, r, hook.Name, http.StatusRequestEntityTooLarge, "body larger than 1 MiB")
			return
		}
		w.refuse(rw, r, hook.Name, http.StatusBadRequest, "body could not be read")
		return
	}
	if !hook.verifyBody(r.Header, body) {
		w.refuse(rw, r, hook.Name, http.StatusUnauthorized, "bad signature")
		return
	}
	if ok, retry := w.limits.take(hook.Name, w.clock.Now()); !ok {
		secs := retryAfterSeconds(retry)
		rw.Header().Set("Retry-After", strconv.Itoa(secs))
		w.refuse(rw, r, hook.Name, http.StatusTooManyRequests,
			fmt.Sprintf("rate limit: at most %d requests per %s on this webhook; retry after %d s", hook.RateLimit.Events, hook.RateLimit.Per, secs))
		return
	}
	if !json.Valid(body) {
		w.refuse(rw, r, hook.Name, http.StatusBadRequest, "body is not valid JSON")
		return
	}
	received := w.clock.Now()
	id := ""
	if !hook.seaTable() {
		id = requestID(r.Header)
	}
	ev, err := w.decode(hook.Name, id, body, received)
	if err != nil {
		w.refuse(rw, r, hook.Name, http.StatusBadRequest, "decode body: "+err.Error())
		return
	}
	if ev.ID == "" {
		ev.ID = fallbackID(hook, id, body)
	}
	if err := w.sink.Accept(r.Context(), ev); err != nil {
		w.log.Error().Err(err).Str("webhook", hook.Name).Str("event_id", ev.ID).Msg("webhook event not stored")
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": "event could not be stored; retry later"})
		return
	}
	w.log.Debug().Str("webhook", hook.Name).Str("event_id", ev.ID).Msg("webhook event accepted")
	writeJSON(rw, http.StatusAccepted, map[string]string{"id": ev.ID, "status": "accepted"})
}

// refuse answers a request that is not stored.
func (w *Webhooks) refuse(rw http.ResponseWriter, r *http.Request, hook string, status int, reason string) {
	w.log.Info().Str("webhook", hook).Str("path", r.URL.Path).Str("method", r.Method).
		Int("status", status).Str("reason", reason).Msg("webhook refused")
	writeJSON(rw, status, map[string]string{"error": reason})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Length", strconv.Itoa(len(b)))
	rw.WriteHeader(status)
	_, _ = rw.Write(b)
}

// requestID returns the caller's idempotency id, or a random one so that two
// identical bodies without an id are two events.
func requestID(h http.Header) string {
	for _, k := range []string{"Idempotency-Key", "X-Request-Id"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return v
		}
	}
	return randomID()
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}

// fallbackID names an event the decoder left without an id: the request id of
// a generic hook, or for a SeaTable hook a hash of the hook name and the raw
// body (SeaTable sends the same bytes again for the same change).
func fallbackID(h Hook, id string, body []byte) string {
	if id != "" {
		return id
	}
	sum := sha256.New()
	sum.Write([]byte(h.Name))
	sum.Write([]byte{0})
	sum.Write(body)
	return "webhook/" + h.Name + "/" + hex.EncodeToString(sum.Sum(nil)[:16])
}
