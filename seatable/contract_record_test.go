package seatable_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRecordOpenQuestions asks a live SeaTable server the questions
// docs/seatable-api.md marks [?], and records its answers (t.Log lines
// starting "RECORD", and a JSON file when SEATABLE_RECORD_FILE names one),
// so that a person with an account settles them in one run:
//
//	SEATABLE_URL=https://cloud.seatable.io SEATABLE_API_TOKEN=… \
//	SEATABLE_READONLY_TOKEN=… SEATABLE_WEBHOOK_LISTEN=:8099 \
//	SEATABLE_RECORD_FILE=answers.json go test ./seatable -run TestRecordOpenQuestions -v
//
// The base needs the contract table (SEATABLE_TABLE, default "Contract":
// Name text, Stage single-select with Lead/Won/Lost, Amount number), and
// for the date question a date column Due (with a time). The optional
// SEATABLE_READONLY_TOKEN is an r API token of the same base. With
// SEATABLE_WEBHOOK_LISTEN the test receives webhooks on that address for
// SEATABLE_WEBHOOK_WAIT (default 30s) after its writes: point a webhook of
// the base at it first. Nothing is asserted: the answers are the output.
// The test adds rows, marked with a random name prefix, and deletes them.
func TestRecordOpenQuestions(t *testing.T) {
	server, token, table := liveServer(t)
	r := &recorder{t: t, server: strings.TrimRight(server, "/"), answers: map[string]any{}}
	var hooks *hookRecorder
	if addr := os.Getenv("SEATABLE_WEBHOOK_LISTEN"); addr != "" {
		hooks = listenHooks(t, addr)
	}
	base := r.exchange(token)
	marker := "seaflow-record-" + fmt.Sprint(time.Now().UnixNano())

	// Writes of several rows: what webhooks do they send?
	ids := r.appendRows(base, table, marker, 3)
	t.Cleanup(func() { r.call(base, "DELETE", "/rows/", map[string]any{"table_name": table, "row_ids": ids}) })
	var updates []any
	for i, id := range ids {
		updates = append(updates, map[string]any{"row_id": id, "row": map[string]any{"Amount": i + 1}})
	}
	r.record("update 3 rows", r.call(base, "PUT", "/rows/", map[string]any{"table_name": table, "updates": updates}))
	r.record("sql update 3 rows", r.call(base, "POST", "/sql", map[string]any{
		"sql": "UPDATE `" + table + "` SET Amount = 7 WHERE Name LIKE ?", "parameters": []any{marker + "%"}}))
	r.record("lock rows", r.call(base, "PUT", "/lock-rows/", map[string]any{"table_name": table, "row_ids": ids[:1]}))
	r.record("update a locked row", r.call(base, "PUT", "/rows/", map[string]any{"table_name": table,
		"updates": []any{map[string]any{"row_id": ids[0], "row": map[string]any{"Amount": 99}}}}))
	r.record("the locked row after its update", r.call(base, "GET", "/rows/"+ids[0]+"/?table_name="+table+"&convert_keys=true", nil))
	r.record("unlock rows", r.call(base, "PUT", "/unlock-rows/", map[string]any{"table_name": table, "row_ids": ids[:1]}))
	r.record("update a missing row id", r.call(base, "PUT", "/rows/", map[string]any{"table_name": table,
		"updates": []any{map[string]any{"row_id": "AAAAAAAAAAAAAAAAAAAAAA", "row": map[string]any{"Amount": 1}}}}))
	r.record("a date with nanoseconds and Z", r.call(base, "PUT", "/rows/", map[string]any{"table_name": table,
		"updates": []any{map[string]any{"row_id": ids[1], "row": map[string]any{"Due": "2026-03-20T10:11:12.123456789Z"}}}}))
	r.record("the date read back", r.call(base, "GET", "/rows/"+ids[1]+"/?table_name="+table+"&convert_keys=true", nil))
	r.record("list rows without convert_keys", r.call(base, "GET", "/rows/?table_name="+table+"&limit=1", nil))
	r.linkRows(base, table, ids[2])
	r.record("a garbage base token", r.call(gatewayToken{uuid: base.uuid, token: "x.y.z"}, "GET", "/metadata/", nil))
	r.record("delete 3 rows", r.call(base, "DELETE", "/rows/", map[string]any{"table_name": table, "row_ids": ids}))

	if ro := os.Getenv("SEATABLE_READONLY_TOKEN"); ro != "" {
		rob := r.exchange(ro)
		r.record("read through an r token", r.call(rob, "GET", "/rows/?table_name="+table+"&limit=1", nil))
		r.record("append through an r token", r.call(rob, "POST", "/rows/", map[string]any{"table_name": table,
			"rows": []any{map[string]any{"Name": marker + "-ro"}}}))
	}
	if hooks != nil {
		wait := 30 * time.Second
		if d, err := time.ParseDuration(os.Getenv("SEATABLE_WEBHOOK_WAIT")); err == nil {
			wait = d
		}
		r.answers["webhooks"] = hooks.collect(wait)
		t.Logf("RECORD webhooks: %d bodies", len(r.answers["webhooks"].([]any)))
	}
	r.answers["not recorded here"] = []string{
		"an expired base token on the gateway (tokens live 3 days)",
		"the 429 headers when the monthly quota is spent",
	}
	if path := os.Getenv("SEATABLE_RECORD_FILE"); path != "" {
		data, _ := json.MarshalIndent(r.answers, "", "  ")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Errorf("write %s: %v", path, err)
		}
	}
}

// gatewayToken is an exchanged base token.
type gatewayToken struct{ uuid, token string }

// recorder makes raw HTTP calls and keeps their answers.
type recorder struct {
	t       *testing.T
	server  string
	answers map[string]any
}

// answer is one recorded HTTP answer.
type answer struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body"`
}

func (r *recorder) record(question string, a answer) {
	r.answers[question] = a
	body, _ := json.Marshal(a.Body)
	r.t.Logf("RECORD %s: HTTP %d %s", question, a.Status, body)
}

func (r *recorder) exchange(apiToken string) gatewayToken {
	req, _ := http.NewRequest("GET", r.server+"/api/v2.1/dtable/app-access-token/", nil)
	req.Header.Set("Authorization", "Token "+apiToken)
	a := r.do(req)
	m, _ := a.Body.(map[string]any)
	tok, _ := m["access_token"].(string)
	uuid, _ := m["dtable_uuid"].(string)
	if a.Status != http.StatusOK || tok == "" {
		r.t.Fatalf("token exchange: HTTP %d", a.Status)
	}
	return gatewayToken{uuid: uuid, token: tok}
}

func (r *recorder) appendRows(base gatewayToken, table, marker string, n int) []string {
	rows := make([]any, n)
	for i := range rows {
		rows[i] = map[string]any{"Name": fmt.Sprintf("%s-%d", marker, i), "Stage": "Lead", "Amount": 0}
	}
	a := r.call(base, "POST", "/rows/", map[string]any{"table_name": table, "rows": rows})
	r.record("append 3 rows", a)
	m, _ := a.Body.(map[string]any)
	list, _ := m["row_ids"].([]any)
	var ids []string
	for _, x := range list {
		if id, ok := x.(map[string]any)["_id"].(string); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) != n {
		r.t.Fatalf("append rows: %d ids", len(ids))
	}
	return ids
}

// linkRows links row to a new row of the other table through table's
// first link column, if it has one, and removes the link again: what
// webhooks do POST and DELETE /links/ send?
func (r *recorder) linkRows(base gatewayToken, table, row string) {
	a := r.call(base, "GET", "/metadata/", nil)
	var md struct {
		Metadata struct {
			Tables []struct {
				ID      string `json:"_id"`
				Name    string `json:"name"`
				Columns []struct {
					Type string         `json:"type"`
					Data map[string]any `json:"data"`
				} `json:"columns"`
			} `json:"tables"`
		} `json:"metadata"`
	}
	data, _ := json.Marshal(a.Body)
	_ = json.Unmarshal(data, &md)
	names := map[string]string{}
	for _, tb := range md.Metadata.Tables {
		names[tb.ID] = tb.Name
	}
	for _, tb := range md.Metadata.Tables {
		if tb.Name != table {
			continue
		}
		for _, c := range tb.Columns {
			if c.Type != "link" {
				continue
			}
			linkID, _ := c.Data["link_id"].(string)
			tid, _ := c.Data["table_id"].(string)
			oid, _ := c.Data["other_table_id"].(string)
			other := oid
			if tid != tb.ID {
				other = tid
			}
			r.answers["link column data"] = c.Data
			b := r.call(base, "POST", "/rows/", map[string]any{"table_name": names[other], "rows": []any{map[string]any{}}})
			m, _ := b.Body.(map[string]any)
			list, _ := m["row_ids"].([]any)
			if len(list) == 0 {
				return
			}
			far, _ := list[0].(map[string]any)["_id"].(string)
			defer r.call(base, "DELETE", "/rows/", map[string]any{"table_name": names[other], "row_ids": []any{far}})
			body := map[string]any{"link_id": linkID, "table_name": table, "other_table_name": names[other],
				"other_rows_ids_map": map[string]any{row: []any{far}}}
			r.record("create a link from the column's side", r.call(base, "POST", "/links/", body))
			r.record("delete the link", r.call(base, "DELETE", "/links/", body))
			r.record("delete a link that does not exist", r.call(base, "DELETE", "/links/", body))
			return
		}
	}
}

func (r *recorder) call(base gatewayToken, method, suffix string, body any) answer {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, r.server+"/api-gateway/api/v2/dtables/"+base.uuid+suffix, rd)
	req.Header.Set("Authorization", "Bearer "+base.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return r.do(req)
}

func (r *recorder) do(req *http.Request) answer {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		r.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{Status: resp.StatusCode, Headers: map[string]string{}}
	for _, h := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			a.Headers[h] = v
		}
	}
	if json.Unmarshal(data, &a.Body) != nil {
		a.Body = string(data)
	}
	return a
}

// hookRecorder keeps the webhook bodies a listener receives.
type hookRecorder struct {
	mu     sync.Mutex
	bodies []any
	got    chan struct{}
}

func listenHooks(t *testing.T, addr string) *hookRecorder {
	t.Helper()
	h := &hookRecorder{got: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("webhook listener: %v", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		var v any
		if json.Unmarshal(data, &v) != nil {
			v = string(data)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, map[string]any{"signature": req.Header.Get("X-SeaTable-Signature") != "", "body": v})
		h.mu.Unlock()
		select {
		case h.got <- struct{}{}:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

// collect waits until no body arrived for quiet (deliveries lag), and
// returns the bodies.
func (h *hookRecorder) collect(quiet time.Duration) []any {
	for {
		select {
		case <-h.got:
		case <-time.After(quiet):
			h.mu.Lock()
			defer h.mu.Unlock()
			return append([]any{}, h.bodies...)
		}
	}
}
