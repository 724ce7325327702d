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

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

// Body limits, in bytes.
const (
	// MaxWebhookBody is the largest body a generic webhook accepts (1 MiB).
	MaxWebhookBody = 1 << 20
	// MaxSeaTableBody is the largest body a SeaTable webhook accepts
	// (8 MiB): a batch edit or a long-text cell can be large, and a refused
	// delivery is lost (SeaTable does not retry) and counts toward the five
	// failures that disable the webhook.
	MaxSeaTableBody = 8 << 20
)

// Webhooks serves the configured webhook paths (an http.Handler). A request
// is answered 202 only after its event is durably written by the Sink;
// every refused request gets a 4xx (or 503 when storage fails) with a JSON
// body {"error": "..."} and stores nothing.
//
// The hooks come from the compiled config (rules.Config.Webhooks), checked
// when it was loaded; Update swaps them whole on a reload.
type Webhooks struct {
	sink   Sink
	clock  seaflow.Clock
	log    zerolog.Logger
	hooks  atomic.Pointer[map[string]*rules.WebhookConfig] // by path
	limits limiters
	// baseUUID, when set, gives the uuid of a configured base (see
	// BindBases).
	baseUUID func(base string) (uuid string, known bool)
	// wrongBase, when set, is called for every refused wrong-base request.
	wrongBase func(hook string)
	// inFlight counts the requests being served.
	inFlight atomic.Int64
}

var _ http.Handler = (*Webhooks)(nil)

// NewWebhooks returns the handler serving hooks.
func NewWebhooks(hooks []*rules.WebhookConfig, sink Sink, clock seaflow.Clock, log zerolog.Logger) *Webhooks {
	w := &Webhooks{sink: sink, clock: clock, log: log}
	w.Update(hooks)
	return w
}

// BindBases makes SeaTable webhooks check that a body comes from their
// configured base: uuid gives the base's uuid as SeaTable reports it
// (known false while no exchange has told it: such bodies are accepted),
// and a body of another base is refused 403 with a JSON reason, stored
// nowhere, and counted through refused. Call it before serving.
func (w *Webhooks) BindBases(uuid func(base string) (string, bool), refused func(hook string)) {
	w.baseUUID, w.wrongBase = uuid, refused
}

// Update replaces the served hooks at once (a reload): requests after it
// returns see only the new hooks, with their auth, decoding and limits.
func (w *Webhooks) Update(hooks []*rules.WebhookConfig) {
	m := make(map[string]*rules.WebhookConfig, len(hooks))
	for _, h := range hooks {
		m[h.Path] = h
	}
	w.limits.update(hooks)
	w.hooks.Store(&m)
}

// InFlight is how many webhook requests are being served now.
func (w *Webhooks) InFlight() int64 { return w.inFlight.Load() }

// ServeHTTP checks, decodes and stores one webhook request. The checks in
// order: known path (404), POST (405 with Allow), Content-Type
// application/json (415), credentials present (401), body size (413: 8 MiB
// for SeaTable hooks, 1 MiB for others), signature (401), the hook's rate
// limit (429 with Retry-After; only authenticated requests count, so a
// flood without credentials cannot lock the real sender out), JSON (400),
// decoding (400, generic hooks only: a signed SeaTable body is stored
// whatever its content). Then the event is written (503 when that fails)
// and answered 202 {"id": "...", "status": "accepted"}.
func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.inFlight.Add(1)
	defer w.inFlight.Add(-1)
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
	if status, reason := checkHeader(hook, r.Header); status != 0 {
		w.refuse(rw, r, hook.Name, status, reason)
		return
	}
	limit, limitText := int64(MaxWebhookBody), "1 MiB"
	if hook.SeaTable != nil {
		limit, limitText = MaxSeaTableBody, "8 MiB"
	}
	if r.ContentLength > limit {
		w.refuse(rw, r, hook.Name, http.StatusRequestEntityTooLarge, "body larger than "+limitText)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.refuse(rw, r, hook.Name, http.StatusRequestEntityTooLarge, "body larger than "+limitText)
			return
		}
		w.refuse(rw, r, hook.Name, http.StatusBadRequest, "body could not be read")
		return
	}
	if !verifyBody(hook, r.Header, body) {
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
	if hook.SeaTable == nil && !json.Valid(body) {
		w.refuse(rw, r, hook.Name, http.StatusBadRequest, "body is not valid JSON")
		return
	}
	ev, baseUUID, err := decodeWebhook(hook, requestID(hook, r.Header), body, w.clock.Now())
	if err != nil {
		w.refuse(rw, r, hook.Name, http.StatusBadRequest, "decode body: "+err.Error())
		return
	}
	if hook.SeaTable != nil && !w.fromBase(hook, baseUUID) {
		if w.wrongBase != nil {
			w.wrongBase(hook.Name)
		}
		w.refuse(rw, r, hook.Name, http.StatusForbidden, "the body comes from another base than "+hook.SeaTable.Base+" (data.dtable_uuid does not match): point this SeaTable webhook at the webhook of its own base")
		return
	}
	if ev.Error != "" {
		w.log.Warn().Str("webhook", hook.Name).Str("event_id", ev.ID).Str("reason", ev.Error).Msg("webhook body not understood; stored as a failed event")
	}
	dup, err := w.sink.Accept(r.Context(), ev)
	if err != nil {
		// Whether it was stored is not known (a timeout may come after the
		// write): the id lets a retry that carries it (an Idempotency-Key,
		// the same signed body) be recognised as the same event.
		w.log.Error().Err(err).Str("webhook", hook.Name).Str("event_id", ev.ID).Msg("webhook event not stored")
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": "event could not be stored; retry later", "id": ev.ID})
		return
	}
	if dup {
		w.log.Debug().Str("webhook", hook.Name).Str("event_id", ev.ID).Msg("webhook event already stored")
		writeJSON(rw, http.StatusOK, answer{ID: ev.ID, Status: "duplicate"})
		return
	}
	w.log.Debug().Str("webhook", hook.Name).Str("event_id", ev.ID).Msg("webhook event accepted")
	writeJSON(rw, http.StatusAccepted, answer{ID: ev.ID, Status: "accepted"})
}

// fromBase reports whether a SeaTable body's dtable_uuid is the hook's
// base's, or cannot be told (no uuid in the body, the base's uuid not
// known yet).
func (w *Webhooks) fromBase(hook *rules.WebhookConfig, uuid string) bool {
	if w.baseUUID == nil || uuid == "" {
		return true
	}
	want, known := w.baseUUID(hook.SeaTable.Base)
	return !known || seatable.CanonicalUUID(uuid) == seatable.CanonicalUUID(want)
}

// refuse answers a request that is not stored.
func (w *Webhooks) refuse(rw http.ResponseWriter, r *http.Request, hook string, status int, reason string) {
	w.log.Info().Str("webhook", hook).Str("path", r.URL.Path).Str("method", r.Method).
		Int("status", status).Str("reason", reason).Msg("webhook refused")
	writeJSON(rw, status, map[string]string{"error": reason})
}

// answer is the body of a stored request's answer.
type answer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
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

// requestID returns the id of a generic hook's request: the caller's
// Idempotency-Key (or X-Request-Id); for an HMAC hook without one, a digest
// of the signature, so a replayed signed request is the same event; else a
// random id, so two identical bodies without an id are two events. SeaTable
// hooks derive their id from the body ("" here).
func requestID(h *rules.WebhookConfig, hdr http.Header) string {
	if h.SeaTable != nil {
		return ""
	}
	for _, k := range []string{"Idempotency-Key", "X-Request-Id"} {
		if v := strings.TrimSpace(hdr.Get(k)); v != "" {
			return v
		}
	}
	if h.HMAC != nil {
		return "sig-" + digest(h.Name, []byte(strings.ToLower(hmacHex(hdr.Get(h.HMAC.Header)))))
	}
	return randomID()
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}

// digest is 128 bits of the SHA-256 of a hook name and some bytes, in hex.
func digest(hook string, b []byte) string {
	sum := sha256.New()
	sum.Write([]byte(hook))
	sum.Write([]byte{0})
	sum.Write(b)
	return hex.EncodeToString(sum.Sum(nil)[:16])
}
