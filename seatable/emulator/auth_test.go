package emulator

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenExchange(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{ServerURL: "http://127.0.0.1:9999/"})
	for _, scheme := range []string{"Token", "Bearer"} {
		t.Run(scheme, func(t *testing.T) {
			rec := do(t, e, "GET", "/api/v2.1/dtable/app-access-token/", scheme+" "+bu.crm.APIToken, nil)
			wantStatus(t, rec, http.StatusOK)
			m := decodeMap(t, rec)
			if m["dtable_uuid"] != bu.crm.UUID || len(bu.crm.UUID) != 36 {
				t.Errorf("dtable_uuid = %v, want %s", m["dtable_uuid"], bu.crm.UUID)
			}
			if m["use_api_gateway"] != true || m["dtable_server"] != "http://127.0.0.1:9999/dtable-server/" {
				t.Errorf("use_api_gateway %v, dtable_server %v", m["use_api_gateway"], m["dtable_server"])
			}
			tok, _ := m["access_token"].(string)
			if strings.Count(tok, ".") != 2 {
				t.Errorf("access_token %q is no JWT", tok)
			}
			for _, k := range []string{"app_name", "dtable_name", "workspace_id"} {
				if _, ok := m[k]; !ok {
					t.Errorf("no %s in %v", k, m)
				}
			}
			// The base token works with either scheme too.
			rec = do(t, e, "GET", gatewayPrefix+bu.crm.UUID+"/metadata/", scheme+" "+tok, nil)
			wantStatus(t, rec, http.StatusOK)
		})
	}
	t.Run("bad api token", func(t *testing.T) {
		for _, auth := range []string{"", "Token nope", "Basic " + bu.crm.APIToken} {
			rec := do(t, e, "GET", "/api/v2.1/dtable/app-access-token/", auth, nil)
			wantStatus(t, rec, http.StatusForbidden)
			if got := decodeMap(t, rec)["error_msg"]; got != "Permission denied." {
				t.Errorf("%q: error_msg = %v", auth, got)
			}
		}
	})
	t.Run("server url from request", func(t *testing.T) {
		e2, _ := setup(t, Options{})
		rec := do(t, e2, "GET", "/api/v2.1/dtable/app-access-token/", "Token "+bu.crm.APIToken, nil)
		if got := decodeMap(t, rec)["dtable_server"]; got != "http://example.com/dtable-server/" {
			t.Errorf("dtable_server = %v", got)
		}
		e2.SetServerURL("http://127.0.0.1:1234")
		rec = do(t, e2, "GET", "/api/v2.1/dtable/app-access-token/", "Token "+bu.crm.APIToken, nil)
		if got := decodeMap(t, rec)["dtable_server"]; got != "http://127.0.0.1:1234/dtable-server/" {
			t.Errorf("after SetServerURL: dtable_server = %v", got)
		}
	})
}

func TestGatewayAuth(t *testing.T) {
	t.Parallel()
	t.Run("bad tokens", func(t *testing.T) {
		e, bu := setup(t, Options{})
		for name, auth := range map[string]string{
			"none":      "",
			"garbage":   "Bearer garbage",
			"api token": "Token " + bu.crm.APIToken,
		} {
			rec := do(t, e, "GET", gatewayPrefix+bu.crm.UUID+"/metadata/", auth, nil)
			wantStatus(t, rec, http.StatusForbidden)
			if got := decodeMap(t, rec)["error_msg"]; got != "Permission denied." {
				t.Errorf("%s: error_msg = %v", name, got)
			}
		}
		// A crm token does not open shop.
		rec := gw(t, e, bu.shop, bu.token, "GET", "/metadata/", nil)
		wantStatus(t, rec, http.StatusForbidden)
	})
	t.Run("expired after 72h", func(t *testing.T) {
		e, bu := setup(t, Options{})
		bu.clock.Advance(72*time.Hour - time.Second)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusOK)
		bu.clock.Advance(time.Second)
		rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
		wantStatus(t, rec, http.StatusForbidden)
		if got := decodeMap(t, rec)["error_msg"]; got != "Token expired." {
			t.Errorf("error_msg = %v, want Token expired.", got)
		}
		// A fresh exchange works again.
		tok := exchange(t, e, bu.crm.APIToken, "Bearer")
		wantStatus(t, gw(t, e, bu.crm, tok, "GET", "/metadata/", nil), http.StatusOK)
	})
	t.Run("ExpireTokens", func(t *testing.T) {
		e, bu := setup(t, Options{})
		e.ExpireTokens()
		rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
		wantStatus(t, rec, http.StatusForbidden)
		if got := decodeMap(t, rec)["error_msg"]; got != "Token expired." {
			t.Errorf("error_msg = %v", got)
		}
	})
	t.Run("TokenTTL option and fault", func(t *testing.T) {
		e, bu := setup(t, Options{TokenTTL: time.Hour})
		bu.clock.Advance(time.Hour)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusForbidden)
		e.SetFaults(Faults{TokenTTL: time.Minute})
		tok := exchange(t, e, bu.crm.APIToken, "Token")
		bu.clock.Advance(59 * time.Second)
		wantStatus(t, gw(t, e, bu.crm, tok, "GET", "/metadata/", nil), http.StatusOK)
		bu.clock.Advance(time.Second)
		wantStatus(t, gw(t, e, bu.crm, tok, "GET", "/metadata/", nil), http.StatusForbidden)
	})
}

// readOnlyToken is crm's r token in testdata/crm.good.yaml.
const readOnlyToken = "readonly00readonly00readonly00readonly00"

func TestReadOnlyToken(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{Limits: []Limit{}})
	rec := do(t, e, "GET", "/api/v2.1/dtable/app-access-token/", "Token "+readOnlyToken, nil)
	wantStatus(t, rec, http.StatusOK)
	m := decodeMap(t, rec)
	if m["app_name"] != "reports" || m["dtable_uuid"] != bu.crm.UUID {
		t.Fatalf("exchange = %v", m)
	}
	tok := m["access_token"].(string)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil || !strings.Contains(string(payload), `"permission":"r"`) {
		t.Errorf("JWT payload %s (%v), want permission r", payload, err)
	}
	reads := []struct{ method, suffix string }{
		{"GET", "/metadata/"}, {"GET", "/rows/?table_name=Deals"},
	}
	for _, r := range reads {
		wantStatus(t, gw(t, e, bu.crm, tok, r.method, r.suffix, nil), http.StatusOK)
	}
	wantStatus(t, gw(t, e, bu.crm, tok, "POST", "/sql", map[string]any{"sql": "SELECT Name FROM Deals"}), http.StatusOK)
	writes := []struct {
		method, suffix string
		body           any
	}{
		{"POST", "/rows/", map[string]any{"table_name": "Deals", "rows": []any{map[string]any{"Name": "x"}}}},
		{"PUT", "/rows/", map[string]any{"table_name": "Deals", "updates": []any{}}},
		{"DELETE", "/rows/", map[string]any{"table_name": "Deals", "row_ids": []any{"x"}}},
		{"PUT", "/lock-rows/", map[string]any{"table_name": "Deals", "row_ids": []any{"x"}}},
		{"POST", "/links/", map[string]any{}},
		{"POST", "/sql", map[string]any{"sql": "UPDATE Deals SET Name = 'y'"}},
	}
	for _, w := range writes {
		rec := gw(t, e, bu.crm, tok, w.method, w.suffix, w.body)
		wantStatus(t, rec, http.StatusForbidden)
		if got := decodeMap(t, rec)["error_msg"]; got != "Permission denied." {
			t.Errorf("%s %s: error_msg %v", w.method, w.suffix, got)
		}
	}
	rows, _ := e.Rows(bu.crm.UUID, "Deals")
	if len(rows) != 2 || rows[0]["Name"] != "Acme" {
		t.Errorf("a read-only token changed the base: %v", rows)
	}
}
