package triggers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

const (
	crmSecret  = "crm-s3cret-value"
	shopToken  = "shop-t0ken-value"
	hubSecret  = "hub-s3cret-value"
	hubHeader  = "X-Hub-Signature-256"
	received0  = "2026-06-01T10:00:00Z"
	seaTableCT = "application/json"
)

func testHooks() []*rules.WebhookConfig {
	return []*rules.WebhookConfig{
		{Name: "crm-changes", Path: "/hooks/crm", SeaTable: &rules.SeaTableHook{Base: "crm", Secret: crmSecret}},
		{Name: "shop", Path: "/hooks/shop", Token: shopToken},
		{Name: "hub", Path: "/hooks/hub", HMAC: &rules.HMACAuth{Header: hubHeader, Secret: hubSecret}},
		{Name: "open", Path: "/hooks/open", Auth: "none"},
	}
}

type hookBundle struct {
	sink  *memSink
	clock *fakeClock
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (the logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setupWebhooks(t testing.TB) (*Webhooks, hookBundle) {
	t.Helper()
	b := hookBundle{sink: newMemSink(), clock: newFakeClock(utc(received0)), logs: &syncBuffer{}}
	w := NewWebhooks(testHooks(), b.sink, b.clock, zerolog.New(b.logs).Level(zerolog.DebugLevel))
	return w, b
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// seaTableBody is a row event serialized the way SeaTable's Python sender
// does (", " and ": " separators, non-ASCII escaped), the bytes it signs.
func seaTableBody(opTime string) []byte {
	return []byte(`{"event": "update", "data": {"dtable_uuid": "fae0a3a42ba94df88e8303fd385e37de", "row_id": "QoNno3QiTF26sxmG1sl3_g", ` +
		`"op_user": "4bc9@auth.local", "op_type": "modify_row", "op_time": ` + opTime + `, "table_id": "9g8f", ` +
		`"table_name": "Opportunities", "row_name": "M\u00fcller", "row_data": [{"column_key": "589r", "column_name": "Prio", ` +
		`"column_type": "single-select", "value": "381992", "old_value": ""}]}}`)
}

type request struct {
	method, path string
	header       map[string]string
	body         []byte
	noLength     bool // send without Content-Length (chunked)
}

func (r request) do(h http.Handler) *httptest.ResponseRecorder {
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader = bytes.NewReader(r.body)
	if r.noLength {
		body = io.MultiReader(bytes.NewReader(r.body)) // hides the length
	}
	req := httptest.NewRequest(method, r.path, body)
	if r.noLength {
		req.ContentLength = -1
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jsonBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("response Content-Type = %q", ct)
	}
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("response body %q: %v", rec.Body.String(), err)
	}
	return m
}

func TestWebhookRefusals(t *testing.T) {
	t.Parallel()
	good := seaTableBody("1649929622.589")
	var compact bytes.Buffer
	_ = json.Compact(&compact, good)
	big := append(append([]byte(`{"pad": "`), bytes.Repeat([]byte("x"), MaxWebhookBody)...), '"', '}')
	bigSeaTable := append(append([]byte(`{"pad": "`), bytes.Repeat([]byte("x"), MaxSeaTableBody)...), '"', '}')
	bearer := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + shopToken}

	tests := []struct {
		name   string
		req    request
		status int
		reason string
	}{
		{"unknown path", request{path: "/hooks/nope", header: bearer, body: []byte(`{}`)}, 404, "no webhook at this path"},
		{"GET", request{method: "GET", path: "/hooks/shop", header: bearer}, 405, "method not allowed"},
		{"PUT", request{method: "PUT", path: "/hooks/open", header: bearer, body: []byte(`{}`)}, 405, "method not allowed"},
		{"text/plain", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + shopToken}, body: []byte(`{}`)}, 415, "content type"},
		{"no content type", request{path: "/hooks/open", body: []byte(`{}`)}, 415, "content type"},
		{"form", request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte(`a=1`)}, 415, "content type"},
		{"bearer missing", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json"}, body: []byte(`{}`)}, 401, "missing Authorization"},
		{"bearer wrong", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + shopToken + "x"}, body: []byte(`{}`)}, 401, "bad bearer token"},
		{"bearer prefix of token", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + shopToken[:4]}, body: []byte(`{}`)}, 401, "bad bearer token"},
		{"basic auth", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json", "Authorization": "Basic " + shopToken}, body: []byte(`{}`)}, 401, "Bearer"},
		{"seatable signature missing", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT}, body: good}, 401, "missing X-SeaTable-Signature"},
		{"seatable signature wrong secret", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign("other", good)}, body: good}, 401, "bad signature"},
		{"seatable signature of re-serialized JSON", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, compact.Bytes())}, body: good}, 401, "bad signature"},
		{"seatable signature without prefix", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": sign(crmSecret, good)}, body: good}, 401, "bad signature"},
		{"seatable signature not hex", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=zz"}, body: good}, 401, "bad signature"},
		{"seatable old sha1 style", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha1=" + sign(crmSecret, good)}, body: good}, 401, "bad signature"},
		{"hmac missing", request{path: "/hooks/hub", header: map[string]string{"Content-Type": "application/json"}, body: []byte(`{}`)}, 401, "missing " + hubHeader},
		{"hmac wrong", request{path: "/hooks/hub", header: map[string]string{"Content-Type": "application/json", hubHeader: "sha256=" + sign(hubSecret, []byte(`{"a":1}`))}, body: []byte(`{}`)}, 401, "bad signature"},
		{"too large by length", request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/json"}, body: big}, 413, "larger than 1 MiB"},
		{"too large chunked", request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/json"}, body: big, noLength: true}, 413, "larger than 1 MiB"},
		{"seatable past 8 MiB", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, bigSeaTable)}, body: bigSeaTable}, 413, "larger than 8 MiB"},
		{"invalid JSON", request{path: "/hooks/shop", header: bearer, body: []byte(`{"a":`)}, 400, "not valid JSON"},
		{"empty body", request{path: "/hooks/shop", header: bearer}, 400, "not valid JSON"},
		{"generic body not an object", request{path: "/hooks/shop", header: bearer, body: []byte(`"text"`)}, 400, "decode body: body must be a JSON object or array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, b := setupWebhooks(t)
			rec := tt.req.do(w)
			if rec.Code != tt.status {
				t.Fatalf("status = %d (%s), want %d", rec.Code, rec.Body.String(), tt.status)
			}
			if got := jsonBody(t, rec)["error"]; !strings.Contains(got, tt.reason) {
				t.Fatalf("error = %q, want it to contain %q", got, tt.reason)
			}
			if tt.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Fatalf("Allow = %q, want POST", rec.Header().Get("Allow"))
			}
			if evs := b.sink.all(); len(evs) != 0 || b.sink.calls != 0 {
				t.Fatalf("refused request stored %d events", len(evs))
			}
			for _, secret := range []string{crmSecret, shopToken, hubSecret} {
				if strings.Contains(b.logs.String(), secret) {
					t.Fatalf("log contains a secret: %s", b.logs.String())
				}
			}
		})
	}
}

// mustParse parses a SeaTable body as the intake does.
func mustParse(t *testing.T, body []byte) *seatable.WebhookEvent {
	t.Helper()
	st, err := seatable.ParseWebhook(body)
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return st
}

func TestWebhookAccepts(t *testing.T) {
	t.Parallel()
	good := seaTableBody("1649929622.589")
	unknownOp := []byte(`{"event": "update", "data": {"dtable_uuid": "fae0a3a42ba94df88e8303fd385e37de", "op_type": "move_group_rows", "op_time": 1649929622.7, "table_id": "9g8f", "table_name": "Opportunities"}}`)
	longText := []byte(`{"event": "update", "data": {"dtable_uuid": "fae0a3a42ba94df88e8303fd385e37de", "row_id": "QoNno3QiTF26sxmG1sl3_g", "op_type": "modify_row", "op_time": 1649929623.5, "table_id": "9g8f", "table_name": "Opportunities", "row_data": [{"column_key": "a1", "column_name": "Notes", "column_type": "long-text", "value": "` + strings.Repeat("n", 3*MaxWebhookBody/2) + `", "old_value": ""}]}}`)
	seaTableID := mustParse(t, good).ID()
	json1 := []byte(`{"order": 42}`)
	exact := append(append([]byte(`{"pad": "`), bytes.Repeat([]byte("x"), MaxWebhookBody-len(`{"pad": ""}`))...), '"', '}')

	tests := []struct {
		name   string
		req    request
		wantID string // "" = a random 32-hex id
	}{
		{"seatable signed", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, good)}, body: good}, seaTableID},
		{"seatable upper-case hex", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + strings.ToUpper(sign(crmSecret, good))}, body: good}, seaTableID},
		{"seatable unknown op type", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, unknownOp)}, body: unknownOp}, mustParse(t, unknownOp).ID()},
		{"seatable past 1 MiB", request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, longText)}, body: longText}, mustParse(t, longText).ID()},
		{"bearer with idempotency key", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer " + shopToken, "Idempotency-Key": "order-42"}, body: json1}, "webhook/shop/order-42"},
		{"bearer scheme case-insensitive", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json", "Authorization": "bearer " + shopToken, "X-Request-Id": "req-7"}, body: json1}, "webhook/shop/req-7"},
		{"bearer without id", request{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + shopToken}, body: json1}, ""},
		{"hmac with prefix", request{path: "/hooks/hub", header: map[string]string{"Content-Type": "application/json", hubHeader: "sha256=" + sign(hubSecret, json1), "Idempotency-Key": "h1"}, body: json1}, "webhook/hub/h1"},
		{"hmac upper-case prefix", request{path: "/hooks/hub", header: map[string]string{"Content-Type": "application/json", hubHeader: "SHA256=" + sign(hubSecret, json1), "Idempotency-Key": "h3"}, body: json1}, "webhook/hub/h3"},
		{"hmac bare hex", request{path: "/hooks/hub", header: map[string]string{"Content-Type": "application/json", hubHeader: sign(hubSecret, json1), "Idempotency-Key": "h2"}, body: json1}, "webhook/hub/h2"},
		{"auth none", request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/json", "Idempotency-Key": "o1"}, body: json1}, "webhook/open/o1"},
		{"exactly 1 MiB", request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/json", "Idempotency-Key": "big"}, body: exact, noLength: true}, "webhook/open/big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, b := setupWebhooks(t)
			rec := tt.req.do(w)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d (%s), want 202", rec.Code, rec.Body.String())
			}
			resp := jsonBody(t, rec)
			evs := b.sink.all()
			if len(evs) != 1 {
				t.Fatalf("stored %d events, want 1", len(evs))
			}
			ev := evs[0]
			if resp["status"] != "accepted" || resp["id"] != ev.ID {
				t.Fatalf("response %v for event %s", resp, ev.ID)
			}
			if tt.wantID == "" {
				if id := strings.TrimPrefix(ev.ID, "webhook/shop/"); len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
					t.Fatalf("generated id %q, want 32 hex digits", ev.ID)
				}
			} else if ev.ID != tt.wantID {
				t.Fatalf("id = %q, want %q", ev.ID, tt.wantID)
			}
			if ev.Source != seaflow.SourceWebhook || ev.Error != "" {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

func TestWebhookIDs(t *testing.T) {
	t.Parallel()
	w, b := setupWebhooks(t)
	body := []byte(`{"order": 42}`)
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + shopToken}
	request{path: "/hooks/shop", header: hdr, body: body}.do(w)
	request{path: "/hooks/shop", header: hdr, body: body}.do(w)
	good := seaTableBody("1649929622.589")
	st := map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, good)}
	request{path: "/hooks/crm", header: st, body: good}.do(w)
	request{path: "/hooks/crm", header: st, body: good}.do(w) // a redelivery
	other := seaTableBody("1649929623.001")
	request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, other)}, body: other}.do(w)

	got := ids(b.sink.all())
	if len(got) != 5 {
		t.Fatalf("stored %d events, want 5", len(got))
	}
	if got[0] == got[1] {
		t.Errorf("two generic requests without an id share id %s", got[0])
	}
	if got[2] != got[3] {
		t.Errorf("SeaTable redelivery ids differ: %s, %s", got[2], got[3])
	}
	if got[3] == got[4] {
		t.Errorf("two SeaTable changes share id %s", got[3])
	}
}

// headerWriter is a ResponseWriter that reports WriteHeader on a channel.
type headerWriter struct {
	header http.Header
	status chan int
	body   bytes.Buffer
}

func (h *headerWriter) Header() http.Header { return h.header }
func (h *headerWriter) WriteHeader(code int) {
	h.status <- code
}
func (h *headerWriter) Write(b []byte) (int, error) { return h.body.Write(b) }

func TestWebhookAnswersAfterStore(t *testing.T) {
	t.Parallel()
	w, b := setupWebhooks(t)
	b.sink.block = true
	req := httptest.NewRequest(http.MethodPost, "/hooks/open", strings.NewReader(`{"x": 1}`))
	req.Header.Set("Content-Type", "application/json")
	rw := &headerWriter{header: http.Header{}, status: make(chan int, 1)}
	served := make(chan struct{})
	go func() {
		w.ServeHTTP(rw, req)
		close(served)
	}()
	select {
	case <-b.sink.entered:
	case <-time.After(waitGuard):
		t.Fatal("sink never called")
	}
	select {
	case code := <-rw.status:
		t.Fatalf("response %d written while the write was pending", code)
	default:
	}
	if n := w.InFlight(); n != 1 {
		t.Errorf("%d requests in flight while one is stored, want 1", n)
	}
	close(b.sink.release)
	if code := <-rw.status; code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", code)
	}
	<-served
	if n := w.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after the answer, want 0", n)
	}
	if len(b.sink.all()) != 1 {
		t.Fatal("event not stored")
	}
}

func TestWebhookSinkFailure(t *testing.T) {
	t.Parallel()
	w, b := setupWebhooks(t)
	b.sink.fail = 1
	rec := request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/json"}, body: []byte(`{}`)}.do(w)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
	if got := jsonBody(t, rec)["error"]; !strings.Contains(got, "could not be stored") {
		t.Fatalf("error = %q", got)
	}
	if strings.Contains(rec.Body.String(), errSinkDown.Error()) {
		t.Fatalf("internal error leaked to the caller: %s", rec.Body.String())
	}
	if len(b.sink.all()) != 0 {
		t.Fatal("event stored")
	}
}

func TestWebhookUpdate(t *testing.T) {
	t.Parallel()
	w, b := setupWebhooks(t)
	hdr := map[string]string{"Content-Type": "application/json"}
	w.Update([]*rules.WebhookConfig{{Name: "new", Path: "/hooks/new", Auth: "none"}})
	if rec := (request{path: "/hooks/open", header: hdr, body: []byte(`{}`)}).do(w); rec.Code != 404 {
		t.Fatalf("removed hook: status %d, want 404", rec.Code)
	}
	if rec := (request{path: "/hooks/new", header: hdr, body: []byte(`{}`)}).do(w); rec.Code != 202 {
		t.Fatalf("new hook: status %d, want 202", rec.Code)
	}
	if evs := b.sink.all(); len(evs) != 1 || evs[0].Name != "new" {
		t.Fatalf("events = %+v", evs)
	}
}

// FuzzWebhookHandler sends random bodies and headers: the handler never
// panics, every answer is JSON, a 2xx comes only with valid auth and a JSON
// body and stores exactly one event, and nothing else is stored.
func FuzzWebhookHandler(f *testing.F) {
	good := seaTableBody("1649929622.589")
	f.Add(uint8(0), "POST", "application/json", "sha256="+sign(crmSecret, good), good)
	f.Add(uint8(1), "POST", "application/json", "Bearer "+shopToken, []byte(`{"a": 1}`))
	f.Add(uint8(2), "POST", "application/json", "sha256="+sign(hubSecret, []byte(`[1,2]`)), []byte(`[1,2]`))
	f.Add(uint8(3), "POST", "application/json; charset=utf-8", "", []byte(`null`))
	f.Add(uint8(4), "POST", "application/json", "", []byte(`{"event": "update"}`))
	f.Add(uint8(1), "GET", "text/plain", "Bearer x", []byte(`{`))
	f.Add(uint8(0), "POST", "application/json", "sha256=", []byte{0xff, 0xfe})
	paths := []string{"/hooks/crm", "/hooks/shop", "/hooks/hub", "/hooks/open", "/nope"}

	sink := &countSink{}
	w := NewWebhooks(testHooks(), sink, newFakeClock(utc(received0)), zerolog.Nop())
	f.Fuzz(func(t *testing.T, pathIdx uint8, method, contentType, auth string, body []byte) {
		path := paths[int(pathIdx)%len(paths)]
		req, err := http.NewRequest(method, "http://127.0.0.1"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a server could receive
		}
		req.Header.Set("Content-Type", contentType)
		// The one auth value goes where each hook looks for it.
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-SeaTable-Signature", auth)
		req.Header.Set(hubHeader, auth)
		before := sink.count()
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		after := sink.count()

		var resp map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d with non-JSON body %q", rec.Code, rec.Body.String())
		}
		if rec.Code < 200 || rec.Code > 299 {
			if after != before {
				t.Fatalf("status %d stored an event", rec.Code)
			}
			if resp["error"] == "" {
				t.Fatalf("status %d without an error reason", rec.Code)
			}
			return
		}
		if after != before+1 {
			t.Fatalf("status %d stored %d events", rec.Code, after-before)
		}
		if method != http.MethodPost || (path != "/hooks/crm" && !json.Valid(body)) || len(body) > MaxSeaTableBody {
			t.Fatalf("accepted %s with body %q", method, body)
		}
		var authOK bool
		switch path {
		case "/hooks/crm":
			sig := strings.TrimSpace(auth)
			ok := len(sig) >= 7 && strings.EqualFold(sig[:7], "sha256=")
			want, _ := hex.DecodeString(sign(crmSecret, body))
			got, err := hex.DecodeString(sig[min(len(sig), 7):])
			authOK = ok && err == nil && hmac.Equal(got, want)
		case "/hooks/shop":
			authOK = strings.EqualFold(auth[:min(len(auth), 7)], "bearer ") && strings.TrimSpace(auth[7:]) == shopToken
		case "/hooks/hub":
			want, _ := hex.DecodeString(sign(hubSecret, body))
			got, err := hex.DecodeString(strings.TrimSpace(strings.TrimPrefix(auth, "sha256=")))
			authOK = err == nil && hmac.Equal(got, want)
		case "/hooks/open":
			authOK = true
		}
		if !authOK {
			t.Fatalf("accepted %s with auth %q", path, auth)
		}
	})
}

// countSink counts events and drops them (fuzzing, benchmarks).
type countSink struct {
	mu sync.Mutex
	n  int
}

func (s *countSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *countSink) Accept(_ context.Context, _ seaflow.Event) (bool, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return false, nil
}

// BenchmarkWebhookAccept measures one signed SeaTable webhook from request to
// 202 with an in-memory sink (signature check, JSON check, decode, store).
func BenchmarkWebhookAccept(b *testing.B) {
	sink := &countSink{}
	w := NewWebhooks(testHooks(), sink, seaflow.SystemClock{}, zerolog.Nop())
	body := seaTableBody("1649929622.589")
	sig := "sha256=" + sign(crmSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/hooks/crm", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-SeaTable-Signature", sig)
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}

// TestWebhookDuplicateAnswers200: a request whose event the store already
// holds (the same SeaTable change delivered again, the same
// Idempotency-Key, the same signed HMAC body) is answered 200 with the
// original id and stores nothing new; a store failure answers 503 with the
// id, so a retry that carries it is recognised.
func TestWebhookDuplicateAnswers200(t *testing.T) {
	t.Parallel()
	w, b := setupWebhooks(t)
	b.sink.dedupe = true
	good := seaTableBody("1649929622.589")
	json1 := []byte(`{"order": 42}`)
	reqs := []request{
		{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, good)}, body: good},
		{path: "/hooks/shop", header: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + shopToken, "Idempotency-Key": "order-42"}, body: json1},
		{path: "/hooks/hub", header: map[string]string{"Content-Type": "application/json", hubHeader: "sha256=" + sign(hubSecret, json1)}, body: json1},
	}
	for _, req := range reqs {
		first := req.do(w)
		again := req.do(w)
		if first.Code != http.StatusAccepted || again.Code != http.StatusOK {
			t.Fatalf("%s: status %d then %d, want 202 then 200", req.path, first.Code, again.Code)
		}
		a, b := jsonBody(t, first), jsonBody(t, again)
		if a["id"] == "" || b["id"] != a["id"] || b["status"] != "duplicate" {
			t.Fatalf("%s: answers %v then %v, want the original id", req.path, a, b)
		}
	}
	if n := len(b.sink.all()); n != len(reqs) {
		t.Fatalf("stored %d events, want %d", n, len(reqs))
	}
	b.sink.fail = 1
	rec := reqs[1].do(w)
	if body := jsonBody(t, rec); rec.Code != http.StatusServiceUnavailable || body["id"] != "webhook/shop/order-42" {
		t.Fatalf("store failure: %d %v, want 503 with the id", rec.Code, body)
	}
}

// TestWebhookRefusesAnotherBase: a correctly signed SeaTable body whose
// dtable_uuid is not the webhook's base (another base's webhook pointed at
// this URL, sharing the secret) is refused 403 with a JSON reason and
// stored nowhere; the base's own bodies, and any body while the base's
// uuid is not known yet, are accepted.
func TestWebhookRefusesAnotherBase(t *testing.T) {
	t.Parallel()
	w, b := setupWebhooks(t)
	known := true
	var refused []string
	w.BindBases(func(base string) (string, bool) {
		if base != "crm" {
			t.Errorf("asked for base %q", base)
		}
		return "FAE0A3A4-2BA9-4DF8-8E83-03FD385E37DE", known
	}, func(hook string) { refused = append(refused, hook) })
	own := seaTableBody("1649929622.589")
	other := bytes.Replace(seaTableBody("1649929622.589"), []byte("fae0a3a42ba94df88e8303fd385e37de"), []byte("0123456789abcdef0123456789abcdef"), 1)
	send := func(body []byte) *httptest.ResponseRecorder {
		return request{path: "/hooks/crm", header: map[string]string{"Content-Type": seaTableCT, "X-SeaTable-Signature": "sha256=" + sign(crmSecret, body)}, body: body}.do(w)
	}
	if rec := send(own); rec.Code != http.StatusAccepted {
		t.Fatalf("own base: %d %s", rec.Code, rec.Body.String())
	}
	rec := send(other)
	if rec.Code != http.StatusForbidden || !strings.Contains(jsonBody(t, rec)["error"], "another base than crm") {
		t.Fatalf("other base: %d %s, want 403 with the reason", rec.Code, rec.Body.String())
	}
	if n := len(b.sink.all()); n != 1 || len(refused) != 1 || refused[0] != "crm-changes" {
		t.Fatalf("stored %d, refusals counted %v; want 1 and [crm-changes]", n, refused)
	}
	known = false
	if rec := send(other); rec.Code != http.StatusAccepted {
		t.Fatalf("base uuid not known yet: %d, want the body accepted", rec.Code)
	}
}
