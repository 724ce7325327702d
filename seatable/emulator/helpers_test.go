package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/seaflow/seaflow/clocktest"
)

// newClock is the fake clock of every test, at 2026-03-01 12:00 UTC.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// bundle is what setup returns beside the emulator.
type bundle struct {
	clock *clocktest.Clock
	crm   BaseInfo
	shop  BaseInfo
	token string // an exchanged base token of crm
}

// setup loads testdata/crm.good.yaml into an emulator on a fake clock and
// exchanges a crm base token. opts.Now is replaced by the fake clock.
func setup(t *testing.T, opts Options) (*Emulator, *bundle) {
	t.Helper()
	bu := &bundle{clock: newClock()}
	opts.Now = bu.clock.Now
	e := New(opts)
	f, err := LoadFixtureFile("testdata/crm.good.yaml")
	if err != nil {
		t.Fatalf("load fixture: %v", err)
	}
	infos, err := e.Load(f)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	bu.crm, bu.shop = infos[0], infos[1]
	bu.token = exchange(t, e, bu.crm.APIToken, "Token")
	return e, bu
}

// exchange trades an API token for a base token.
func exchange(t *testing.T, e *Emulator, apiToken, scheme string) string {
	t.Helper()
	rec := do(t, e, "GET", "/api/v2.1/dtable/app-access-token/", scheme+" "+apiToken, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("exchange: %d %s", rec.Code, rec.Body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, rec.Body.Bytes(), &out)
	return out.AccessToken
}

// do sends one request through ServeHTTP; body is JSON-encoded unless it
// is a string.
func do(t *testing.T, e *Emulator, method, path, auth string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// gw calls the api-gateway of base info with the given base token.
func gw(t *testing.T, e *Emulator, info BaseInfo, token, method, suffix string, body any) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, e, method, gatewayPrefix+info.UUID+suffix, "Bearer "+token, body)
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// decodeMap decodes a JSON object body.
func decodeMap(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	mustJSON(t, rec.Body.Bytes(), &m)
	return m
}

// wantStatus fails unless rec has the status.
func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
}
