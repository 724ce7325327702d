package emulator

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// account sends one account-API request with a url-encoded form (or a
// multipart one when multi) and decodes the answer.
func account(t *testing.T, e *Emulator, method, path, auth string, form url.Values, multi bool) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	ctype := "application/x-www-form-urlencoded"
	if multi {
		mw := multipart.NewWriter(&body)
		for k, vs := range form {
			for _, v := range vs {
				_ = mw.WriteField(k, v)
			}
		}
		_ = mw.Close()
		ctype = mw.FormDataContentType()
	} else {
		body.WriteString(form.Encode())
	}
	req := httptest.NewRequest(method, path, &body)
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	var out map[string]any
	mustJSON(t, rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestAccountWebhooks(t *testing.T) {
	t.Parallel()
	old, fresh := newSink(t), newSink(t)
	e, _, info := hookSetupWith(t, old.srv.URL, Options{AccountToken: strings.Repeat("a", 40)})
	auth := "Token " + e.AccountToken()
	hooks := "/api/v2.1/workspace/1/dtable/crm/webhooks/"
	edit := func() {
		t.Helper()
		if _, err := e.Edit(EditRequest{BaseUUID: info.Name, TableName: "Kunden", Op: "insert"}); err != nil {
			t.Fatal(err)
		}
		waitHooks(t, e)
	}

	t.Run("auth and addressing", func(t *testing.T) {
		if code, _ := account(t, e, "GET", hooks, "", nil, false); code != http.StatusForbidden {
			t.Errorf("no token: %d, want 403", code)
		}
		if code, _ := account(t, e, "GET", hooks, "Token "+strings.Repeat("b", 40), nil, false); code != http.StatusUnauthorized {
			t.Errorf("wrong token: %d, want 401", code)
		}
		if code, _ := account(t, e, "GET", "/api/v2.1/workspace/2/dtable/crm/webhooks/", auth, nil, false); code != http.StatusNotFound {
			t.Errorf("other workspace: %d, want 404", code)
		}
		if code, _ := account(t, e, "POST", hooks, auth, url.Values{"url": {"ftp://x"}}, false); code != http.StatusBadRequest {
			t.Errorf("ftp url: %d, want 400", code)
		}
	})

	code, list := account(t, e, "GET", hooks, "Bearer "+e.AccountToken(), nil, false)
	hl, _ := list["webhook_list"].([]any)
	if code != http.StatusOK || len(hl) != 1 {
		t.Fatalf("list: %d %v", code, list)
	}
	first := hl[0].(map[string]any)
	if first["url"] != old.srv.URL || first["settings"].(map[string]any)["secret"] != "s3cret" || first["dtable_uuid"] != "650d8a0d7d4c4c4e9f2b0123456789ab" {
		t.Errorf("fixture webhook listed as %v", first)
	}

	// Create: 200, not 201; deliveries go to both hooks.
	code, created := account(t, e, "POST", hooks, auth, url.Values{"url": {fresh.srv.URL}, "secret": {"new"}}, true)
	if code != http.StatusOK {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["webhook"].(map[string]any)["id"].(float64)
	edit()
	if b, h := fresh.received(); len(b) != 1 || h[0].Get("X-SeaTable-Signature") != Signature("new", b[0]) {
		t.Fatalf("created hook got %d deliveries", len(b))
	}

	// A disabled hook: an update re-enables it, with the new secret.
	if err := e.DisableWebhooks("crm"); err != nil {
		t.Fatal(err)
	}
	edit()
	if b, _ := fresh.received(); len(b) != 1 {
		t.Fatalf("disabled hook got a delivery")
	}
	one := hooks + strconv.Itoa(int(id)) + "/"
	if code, out := account(t, e, "PUT", one, auth, url.Values{"secret": {"newer"}}, false); code != http.StatusOK {
		t.Fatalf("update: %d %v", code, out)
	}
	edit()
	if b, h := fresh.received(); len(b) != 2 || h[1].Get("X-SeaTable-Signature") != Signature("newer", b[1]) {
		t.Fatalf("updated hook: %d deliveries", len(b))
	}
	if b, _ := old.received(); len(b) != 1 {
		t.Errorf("the fixture's hook, still disabled, got %d deliveries, want 1", len(b))
	}

	// Delete: no more deliveries to it.
	if code, out := account(t, e, "DELETE", one, auth, nil, false); code != http.StatusOK || out["success"] != true {
		t.Fatalf("delete: %d %v", code, out)
	}
	if code, _ := account(t, e, "DELETE", one, auth, nil, false); code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", code)
	}
	edit()
	if b, _ := fresh.received(); len(b) != 2 {
		t.Errorf("deleted hook got %d deliveries", len(b))
	}
}
