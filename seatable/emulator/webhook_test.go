package emulator

import (
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

	"github.com/seaflow/seaflow/clocktest"
)

// hookSink is a loopback webhook receiver.
type hookSink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	status  []int // answers in order; 200 once exhausted
}

func newSink(t *testing.T, status ...int) *hookSink {
	t.Helper()
	s := &hookSink{status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.headers = append(s.headers, r.Header.Clone())
		code := http.StatusOK
		if len(s.status) > 0 {
			code, s.status = s.status[0], s.status[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hookSink) received() ([][]byte, []http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...), append([]http.Header(nil), s.headers...)
}

const hookFixture = `
bases:
  - name: crm
    uuid: 650d8a0d-7d4c-4c4e-9f2b-0123456789ab
    webhooks: [ { url: "URL", secret: "s3cret" } ]
    tables:
      - name: Kunden
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Amount, type: number }
          - { name: Count, type: number }
          - { name: Tags, type: multiple-select, options: [a] }
          - { name: Notes, type: long-text }
        rows:
          - { Name: Old, Stage: Lead }
`

// hookSetup loads hookFixture with its webhook pointed at url.
func hookSetup(t *testing.T, url string) (*Emulator, *clocktest.Clock, BaseInfo) {
	t.Helper()
	return hookSetupWith(t, url, Options{})
}

// hookSetupWith is hookSetup with options; Now and After are the fake
// clock's.
func hookSetupWith(t *testing.T, url string, opts Options) (*Emulator, *clocktest.Clock, BaseInfo) {
	t.Helper()
	clock := newClock()
	opts.Now, opts.After = clock.Now, clock.After
	e := New(opts)
	f, err := ParseFixture("hooks.yaml", []byte(strings.Replace(hookFixture, "URL", url, 1)))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := e.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return e, clock, infos[0]
}

func waitHooks(t *testing.T, e *Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.WaitWebhooks(ctx); err != nil {
		t.Fatalf("WaitWebhooks: %v", err)
	}
}

// pythonInsertGolden and pythonModifyGolden are json.dumps of the expected
// events of a row typed in the UI, printed by CPython 3, with @@…@@
// standing for the emulator's generated ids: the insert_row is empty
// (row_data: []), its cells follow as a modify_row with old values "";
// long text is an object.
const (
	pythonInsertGolden = `{"event": "update", "data": {"dtable_uuid": "650d8a0d7d4c4c4e9f2b0123456789ab", "row_id": "@@ROW@@", "op_user": "emulator-user@auth.local", "op_type": "insert_row", "op_time": 1772366400.123, "table_id": "0000", "table_name": "Kunden", "row_name": "", "row_data": []}}`
	pythonModifyGolden = `{"event": "update", "data": {"dtable_uuid": "650d8a0d7d4c4c4e9f2b0123456789ab", "row_id": "@@ROW@@", "op_user": "emulator-user@auth.local", "op_type": "modify_row", "op_time": 1772366400.123, "table_id": "0000", "table_name": "Kunden", "row_name": "M\u00fcller \ud83d\ude00 \"q\"\n\u007f", "row_data": [{"column_key": "0000", "column_name": "Name", "column_type": "text", "column_data": null, "value": "M\u00fcller \ud83d\ude00 \"q\"\n\u007f", "old_value": ""}, {"column_key": "@@STAGE@@", "column_name": "Stage", "column_type": "single-select", "column_data": {"options": [{"name": "Lead", "color": "#FFFCB5", "textColor": "#212529", "id": "@@LEAD@@"}, {"name": "Won", "color": "#FFEAB6", "textColor": "#212529", "id": "@@WON@@"}]}, "value": "@@WON@@", "old_value": ""}, {"column_key": "@@AMOUNT@@", "column_name": "Amount", "column_type": "number", "column_data": {"decimal": "dot", "format": "number", "thousands": "no"}, "value": 12.5, "old_value": ""}, {"column_key": "@@COUNT@@", "column_name": "Count", "column_type": "number", "column_data": {"decimal": "dot", "format": "number", "thousands": "no"}, "value": 3, "old_value": ""}, {"column_key": "@@TAGS@@", "column_name": "Tags", "column_type": "multiple-select", "column_data": {"options": [{"name": "a", "color": "#FFFCB5", "textColor": "#212529", "id": "@@TAG_A@@"}]}, "value": ["@@TAG_A@@"], "old_value": ""}, {"column_key": "@@NOTES@@", "column_name": "Notes", "column_type": "long-text", "column_data": null, "value": {"text": "- [x] call\n- [ ] mail", "preview": "- [x] call - [ ] mail", "checklist": {"completed": 1, "total": 2}, "images": [], "links": []}, "old_value": ""}]}}`
)

func TestWebhookGolden(t *testing.T) {
	t.Parallel()
	sink := newSink(t)
	e, clock, info := hookSetup(t, sink.srv.URL+"/hooks/crm")
	clock.Advance(123 * time.Millisecond)
	name := "Müller 😀 \"q\"\n\x7f"
	id, err := e.Edit(EditRequest{BaseUUID: info.UUID, TableName: "Kunden", Op: "insert", Row: map[string]any{
		"Name": name, "Stage": "Won", "Amount": 12.5, "Count": 3, "Tags": []any{"a"}, "Notes": "- [x] call\n- [ ] mail",
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitHooks(t, e)
	bodies, headers := sink.received()
	if len(bodies) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(bodies))
	}

	// Fill the golden text with the generated ids (all plain ASCII, so
	// the substitution cannot change any escaping).
	e.mu.Lock()
	tb := e.bases[0].tables[0]
	col := func(n string) *column { return tb.column(n) }
	repl := strings.NewReplacer(
		"@@ROW@@", id, "@@STAGE@@", col("Stage").key, "@@AMOUNT@@", col("Amount").key,
		"@@COUNT@@", col("Count").key, "@@TAGS@@", col("Tags").key,
		"@@LEAD@@", col("Stage").options[0].ID, "@@WON@@", col("Stage").options[1].ID,
		"@@TAG_A@@", col("Tags").options[0].ID, "@@NOTES@@", col("Notes").key,
	)
	e.mu.Unlock()
	for i, golden := range []string{pythonInsertGolden, pythonModifyGolden} {
		if want := repl.Replace(golden); string(bodies[i]) != want {
			t.Errorf("body %d:\n%s\nwant (Python json.dumps):\n%s", i, bodies[i], want)
		}
	}

	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(bodies[0])
	if got, want := headers[0].Get("X-SeaTable-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if headers[0].Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", headers[0].Get("Content-Type"))
	}
}

func TestWebhookOnAPIWrites(t *testing.T) {
	t.Parallel()
	sink := newSink(t)
	e, _, info := hookSetup(t, sink.srv.URL)
	tok := exchange(t, e, info.APIToken, "Token")
	rows, _ := e.Rows(info.UUID, "Kunden")
	id := rows[0]["_id"].(string)
	wantStatus(t, gw(t, e, info, tok, "PUT", "/rows/", map[string]any{"table_name": "Kunden", "updates": []any{
		map[string]any{"row_id": id, "row": map[string]any{"Stage": "Won", "Name": "Old"}},
	}}), http.StatusOK)
	wantStatus(t, gw(t, e, info, tok, "POST", "/rows/", map[string]any{"table_name": "Kunden", "rows": []any{
		map[string]any{"Name": "n1"}, map[string]any{"Name": "n2"},
	}}), http.StatusOK)
	wantStatus(t, gw(t, e, info, tok, "DELETE", "/rows/", map[string]any{"table_name": "Kunden", "row_ids": []any{id}}), http.StatusOK)
	waitHooks(t, e)

	bodies, _ := sink.received()
	type event struct {
		Event string `json:"event"`
		Data  struct {
			DtableUUID string `json:"dtable_uuid"`
			RowID      string `json:"row_id"`
			OpType     string `json:"op_type"`
			OpUser     string `json:"op_user"`
			RowName    string `json:"row_name"`
			RowData    []struct {
				ColumnName string `json:"column_name"`
				Value      any    `json:"value"`
				OldValue   any    `json:"old_value"`
				ColumnData struct {
					Options []struct{ ID, Name string } `json:"options"`
				} `json:"column_data"`
			} `json:"row_data"`
		} `json:"data"`
	}
	var ops []string
	var evs []event
	for _, b := range bodies {
		var ev event
		mustJSON(t, b, &ev)
		evs = append(evs, ev)
		ops = append(ops, ev.Data.OpType+":"+ev.Data.RowName)
	}
	if got := strings.Join(ops, " "); got != "modify_row:Old insert_row:n1 insert_row:n2 delete_row:Old" {
		t.Fatalf("events in order: %s", got)
	}
	mod := evs[0]
	if mod.Event != "update" || mod.Data.DtableUUID != "650d8a0d7d4c4c4e9f2b0123456789ab" || mod.Data.OpUser != "seaflow" || mod.Data.RowID != id {
		t.Errorf("modify event = %+v", mod)
	}
	if len(mod.Data.RowData) != 1 {
		t.Fatalf("modify row_data = %+v, want only the changed Stage", mod.Data.RowData)
	}
	cell := mod.Data.RowData[0]
	opts := cell.ColumnData.Options
	if cell.ColumnName != "Stage" || len(opts) != 2 || cell.Value != opts[1].ID || cell.OldValue != opts[0].ID {
		t.Errorf("Stage cell = %+v: want raw option ids (Won %s, was Lead %s)", cell, opts[1].ID, opts[0].ID)
	}
}

func TestWebhookDisabling(t *testing.T) {
	t.Parallel()
	edit := func(t *testing.T, e *Emulator, info BaseInfo, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			// An empty row: one insert_row event each.
			if _, err := e.Edit(EditRequest{BaseUUID: info.Name, TableName: "Kunden", Op: "insert"}); err != nil {
				t.Fatal(err)
			}
		}
		waitHooks(t, e)
	}
	t.Run("after 5 failures", func(t *testing.T) {
		sink := newSink(t, 500, 500, 500, 500, 500, 500, 500)
		e, _, info := hookSetup(t, sink.srv.URL)
		edit(t, e, info, 7)
		if bodies, _ := sink.received(); len(bodies) != 5 {
			t.Errorf("%d deliveries, want 5 then disabled", len(bodies))
		}
		st := e.Stats().Bases["crm"].Webhooks[0]
		if !st.Disabled || st.Failed != 5 {
			t.Errorf("webhook stats %+v", st)
		}
		if err := e.EnableWebhooks("crm"); err != nil {
			t.Fatal(err)
		}
		edit(t, e, info, 1)
		if bodies, _ := sink.received(); len(bodies) != 6 {
			t.Errorf("re-enabled webhook got %d deliveries, want 6", len(bodies))
		}
	})
	t.Run("2xx resets the count", func(t *testing.T) {
		sink := newSink(t, 500, 502, 404, 500, 200, 500, 500, 500, 500)
		e, _, info := hookSetup(t, sink.srv.URL)
		edit(t, e, info, 9)
		st := e.Stats().Bases["crm"].Webhooks[0]
		if st.Disabled || st.Failures != 4 || st.Sent != 9 {
			t.Errorf("webhook stats %+v, want enabled with 4 consecutive failures", st)
		}
	})
	t.Run("connection error disables at once", func(t *testing.T) {
		sink := newSink(t)
		url := sink.srv.URL
		sink.srv.Close()
		e, _, info := hookSetup(t, url)
		edit(t, e, info, 3)
		st := e.Stats().Bases["crm"].Webhooks[0]
		if !st.Disabled || st.Sent != 1 {
			t.Errorf("webhook stats %+v, want disabled after one attempt", st)
		}
	})
}

func TestEditEndpoint(t *testing.T) {
	t.Parallel()
	sink := newSink(t)
	e, _, info := hookSetup(t, sink.srv.URL)
	rec := do(t, e, "POST", "/_emulator/edit", "", map[string]any{
		"base_uuid": strings.ReplaceAll(info.UUID, "-", ""), "table_name": "Kunden", "op": "insert",
		"row": map[string]any{"Name": "Neu", "Stage": "Later"},
	})
	wantStatus(t, rec, http.StatusOK)
	id, _ := decodeMap(t, rec)["row_id"].(string)
	if !rowIDPattern.MatchString(id) {
		t.Fatalf("row_id %q", id)
	}
	rec = do(t, e, "POST", "/_emulator/edit", "", map[string]any{"base_uuid": info.UUID, "table_name": "Kunden", "op": "update", "row_id": id, "row": map[string]any{"Amount": 5}})
	wantStatus(t, rec, http.StatusOK)
	wantStatus(t, do(t, e, "POST", "/_emulator/edit", "", map[string]any{"base_uuid": info.UUID, "table_name": "Kunden", "op": "update", "row_id": "nope"}), http.StatusNotFound)
	wantStatus(t, do(t, e, "POST", "/_emulator/edit", "", map[string]any{"base_uuid": info.UUID, "table_name": "Kunden", "op": "upsert"}), http.StatusBadRequest)

	rec = do(t, e, "GET", "/_emulator/rows?base_uuid="+info.UUID+"&table_name=Kunden", "", nil)
	wantStatus(t, rec, http.StatusOK)
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	mustJSON(t, rec.Body.Bytes(), &out)
	if len(out.Rows) != 2 || out.Rows[1]["Stage"] != "Later" || out.Rows[1]["Amount"] != 5.0 {
		t.Errorf("rows = %v", out.Rows)
	}
	wantStatus(t, do(t, e, "GET", "/_emulator/rows?base_uuid=nope&table_name=Kunden", "", nil), http.StatusNotFound)

	waitHooks(t, e)
	bodies, _ := sink.received()
	if len(bodies) != 3 || !strings.Contains(string(bodies[0]), `"row_data": []`) || !strings.Contains(string(bodies[2]), `"op_type": "modify_row"`) {
		t.Errorf("user edits fired %d webhooks: %s", len(bodies), bodies)
	}
	// Edits are not calls: the log stays empty.
	if st := e.Stats(); len(st.CallLog) != 0 {
		t.Errorf("call log = %+v", st.CallLog)
	}
	var js map[string]any
	if err := json.Unmarshal(bodies[0], &js); err != nil {
		t.Errorf("webhook body is not JSON: %v", err)
	}
}
