package seatable

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow/clocktest"
)

const (
	testAPIToken = "0123456789abcdef0123456789abcdef01234567"
	testUUID     = "650d8a0d-7e27-4e6a-9d4f-3a1b2c3d4e5f"
)

// fakeGateway is a small SeaTable stand-in for unit tests: it exchanges
// the API token for numbered base tokens and routes base operations to
// a test-supplied handler after checking the bearer token.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	exchanges int
	issued    []string
	valid     map[string]bool
	calls     []fakeCall
	// exchangeGate, when set, is received from before answering an
	// exchange (lets a test hold exchanges open).
	exchangeGate chan struct{}
	// exchangeStarted, when set, is signalled when an exchange arrives.
	exchangeStarted chan struct{}

	// base answers base operations; path is relative to the base.
	base func(w http.ResponseWriter, r *http.Request, path string, body []byte)
}

// fakeCall is one base operation the fake received.
type fakeCall struct {
	Method string
	Path   string
	Query  string
	Body   []byte
	Token  string
}

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	f := &fakeGateway{t: t, valid: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a Client for the fake; mutate adjusts its Config.
func (f *fakeGateway) client(mutate func(*Config)) *Client {
	cfg := Config{ServerURL: f.srv.URL + "/", APIToken: testAPIToken, HTTPClient: f.srv.Client()}
	if mutate != nil {
		mutate(&cfg)
	}
	return New(cfg)
}

func (f *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/api/v2.1/dtable/app-access-token/" {
		f.exchange(w, r)
		return
	}
	prefix := "/api-gateway/api/v2/dtables/" + testUUID
	if !strings.HasPrefix(r.URL.Path, prefix+"/") {
		writeJSON(w, http.StatusNotFound, map[string]any{"error_msg": "no such path " + r.URL.Path})
		return
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix), Query: r.URL.RawQuery, Body: body, Token: tok})
	good := ok && f.valid[tok]
	handler := f.base
	f.mu.Unlock()
	if !good {
		writeJSON(w, http.StatusForbidden, map[string]any{"error_msg": "Token expired."})
		return
	}
	if handler == nil {
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
		return
	}
	handler(w, r, strings.TrimPrefix(r.URL.Path, prefix), body)
}

func (f *fakeGateway) exchange(w http.ResponseWriter, r *http.Request) {
	if f.exchangeStarted != nil {
		f.exchangeStarted <- struct{}{}
	}
	if f.exchangeGate != nil {
		<-f.exchangeGate
	}
	if r.Header.Get("Authorization") != "Token "+testAPIToken {
		writeJSON(w, http.StatusForbidden, map[string]any{"error_msg": "Permission denied."})
		return
	}
	f.mu.Lock()
	f.exchanges++
	tok := fmt.Sprintf("eyJhbGciOiJIUzI1NiJ9.base-token-%d.sig", f.exchanges)
	f.issued = append(f.issued, tok)
	f.valid[tok] = true
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "app_name": "test", "dtable_name": "CRM",
		"dtable_server": "http://example.invalid/dtable-server/", "dtable_uuid": testUUID,
		"use_api_gateway": true, "workspace_id": 1,
	})
}

func (f *fakeGateway) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func (f *fakeGateway) baseCalls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// revokeAll makes every issued base token invalid (as if expired).
func (f *fakeGateway) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = map[string]bool{}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newFakeClock is the fake clock of the client tests, at 2026-03-01 12:00 UTC.
func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// callRecorder collects what Observe receives.
type callRecorder struct {
	mu    sync.Mutex
	calls []Call
}

func (r *callRecorder) observe(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *callRecorder) all() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}
