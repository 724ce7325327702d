package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkUpdateRows1000 sends a 1,000-row batch update through
// ServeHTTP (token check, limits, JSON both ways, select conversion).
func BenchmarkUpdateRows1000(b *testing.B) {
	e := New(Options{Limits: []Limit{}})
	f, err := ParseFixture("bench.yaml", []byte(`
bases:
  - name: bench
    tables:
      - name: T
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [A, B] }
          - { name: Amount, type: number }
`))
	if err != nil {
		b.Fatal(err)
	}
	infos, err := e.Load(f)
	if err != nil {
		b.Fatal(err)
	}
	info := infos[0]
	rows := make([]any, 1000)
	for i := range rows {
		rows[i] = map[string]any{"Name": fmt.Sprintf("r%d", i), "Stage": "A", "Amount": i}
	}
	token := benchExchange(b, e, info.APIToken)
	path := gatewayPrefix + info.UUID + "/rows/"
	send := func(method string, body any) *httptest.ResponseRecorder {
		data, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Token "+token)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", method, rec.Code, rec.Body)
		}
		return rec
	}
	send("POST", map[string]any{"table_name": "T", "rows": rows})
	all, _ := e.Rows(info.UUID, "T")
	bodies := make([][]byte, 2)
	for v, stage := range []string{"A", "B"} {
		updates := make([]any, len(all))
		for i, r := range all {
			updates[i] = map[string]any{"row_id": r["_id"], "row": map[string]any{"Stage": stage, "Amount": i + v}}
		}
		bodies[v], _ = json.Marshal(map[string]any{"table_name": "T", "updates": updates})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("PUT", path, bytes.NewReader(bodies[(i+1)%2]))
		req.Header.Set("Authorization", "Token "+token)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("update: %d %s", rec.Code, rec.Body)
		}
	}
}

func benchExchange(b *testing.B, e *Emulator, apiToken string) string {
	req := httptest.NewRequest("GET", "/api/v2.1/dtable/app-access-token/", nil)
	req.Header.Set("Authorization", "Token "+apiToken)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		b.Fatal(err)
	}
	return out.AccessToken
}
