package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestStatsEndpoint(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{})
	rows, _ := e.Rows("crm", "Deals")
	gw(t, e, bu.crm, bu.token, "GET", "/rows/?table_name=Deals", nil)
	gw(t, e, bu.crm, bu.token, "GET", "/rows/"+rows[0]["_id"].(string)+"/?table_name=Deals", nil)
	gw(t, e, bu.crm, bu.token, "PUT", "/rows/", map[string]any{"table_name": "Deals", "updates": []any{
		map[string]any{"row_id": rows[0]["_id"], "row": map[string]any{"Amount": 1}},
		map[string]any{"row_id": rows[1]["_id"], "row": map[string]any{"Amount": 2}},
	}})
	do(t, e, "GET", gatewayPrefix+bu.crm.UUID+"/metadata/", "Bearer bad", nil)

	rec := do(t, e, "GET", "/_emulator/stats", "", nil)
	wantStatus(t, rec, http.StatusOK)
	var st Stats
	mustJSON(t, rec.Body.Bytes(), &st)
	crm := st.Bases["crm"]
	if crm.Calls != 4 || crm.TokenExchanges != 1 || crm.UUID != bu.crm.UUID {
		t.Errorf("crm stats %+v", crm)
	}
	for ep, want := range map[string]int{
		"GET /rows/": 1, "GET /rows/{row_id}/": 1, "PUT /rows/": 1, "GET /metadata/": 1,
		"GET /api/v2.1/dtable/app-access-token/": 1,
	} {
		if crm.ByEndpoint[ep] != want {
			t.Errorf("ByEndpoint[%q] = %d, want %d (%v)", ep, crm.ByEndpoint[ep], want, crm.ByEndpoint)
		}
	}
	if got := crm.RowsPerCall; len(got) != 4 || got[0] != 2 || got[1] != 1 || got[2] != 2 || got[3] != 0 || crm.Rows != 5 {
		t.Errorf("rows per call %v, total %d", got, crm.Rows)
	}
	log := st.CallLog
	if len(log) != 5 || log[0].Endpoint != "/api/v2.1/dtable/app-access-token/" || log[0].Gateway ||
		log[4].Status != http.StatusForbidden || log[3].Method != "PUT" || log[3].Rows != 2 {
		t.Errorf("call log %+v", log)
	}
	if _, ok := st.Bases["shop"]; !ok {
		t.Error("shop missing from stats")
	}
}

func TestPrintBases(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{})
	var buf bytes.Buffer
	if err := e.PrintBases(&buf, "http://127.0.0.1:8080/"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var got map[string]string
	mustJSON(t, []byte(lines[0]), &got)
	want := map[string]string{"base": "crm", "base_uuid": bu.crm.UUID, "api_token": "0123456789abcdef0123456789abcdef01234567", "server_url": "http://127.0.0.1:8080"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	mustJSON(t, []byte(lines[1]), &got)
	if len(got["api_token"]) != 40 || len(got["base_uuid"]) != 36 {
		t.Errorf("generated token/uuid: %v", got)
	}
}

func TestLoadClashes(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, Options{})
	f, _ := LoadFixtureFile("testdata/crm.good.yaml")
	if _, err := e.Load(f); err == nil {
		t.Fatal("loading the same bases twice succeeded")
	}
	if got := len(e.Bases()); got != 2 {
		t.Errorf("a failed Load left %d bases, want 2", got)
	}
	other, err := ParseFixture("o.yaml", []byte("bases:\n  - name: other\n"))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := e.Load(other)
	if err != nil || len(infos) != 1 || len(e.Bases()) != 3 {
		t.Fatalf("Load other: %v %v", infos, err)
	}
	data, _ := json.Marshal(e.Bases())
	if !strings.Contains(string(data), `"Name":"other"`) {
		t.Errorf("Bases = %s", data)
	}
}
