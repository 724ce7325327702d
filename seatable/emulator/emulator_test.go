package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestOverLoopback drives the emulator as a real server: the exchange
// reports the server URL the client then uses, and a DELETE carries a
// JSON body.
func TestOverLoopback(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{})
	srv := httptest.NewServer(e)
	defer srv.Close()
	e.SetServerURL(srv.URL)

	call := func(method, url, auth string, body any) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
		req, err := http.NewRequest(method, url, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}
	resp, data := call("GET", srv.URL+"/api/v2.1/dtable/app-access-token/", "Token "+bu.crm.APIToken, nil)
	var tok struct {
		AccessToken  string `json:"access_token"`
		DtableServer string `json:"dtable_server"`
		DtableUUID   string `json:"dtable_uuid"`
	}
	mustJSON(t, data, &tok)
	if resp.StatusCode != 200 || tok.DtableServer != srv.URL+"/dtable-server/" {
		t.Fatalf("exchange %d %s", resp.StatusCode, data)
	}
	base := srv.URL + gatewayPrefix + tok.DtableUUID
	rows, _ := e.Rows("crm", "Deals")
	resp, data = call("DELETE", base+"/rows/", "Bearer "+tok.AccessToken, map[string]any{"table_name": "Deals", "row_ids": []any{rows[0]["_id"]}})
	if resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit") != "300" {
		t.Fatalf("delete %d %v %s", resp.StatusCode, resp.Header, data)
	}
	for _, suffix := range []string{"/sql", "/sql/"} {
		resp, data = call("POST", base+suffix, "Token "+tok.AccessToken, map[string]any{"sql": "SELECT Name FROM Deals", "convert_keys": true})
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", suffix, resp.StatusCode, data)
		}
	}
	resp, data = call("GET", srv.URL+"/_emulator/rows?base_uuid="+tok.DtableUUID+"&table_name=Deals", "", nil)
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	mustJSON(t, data, &out)
	if resp.StatusCode != 200 || len(out.Rows) != 1 {
		t.Errorf("rows after delete: %d %s", resp.StatusCode, data)
	}
}
