package emulator

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookEvent is a decoded webhook body's data.
type hookEvent map[string]any

// events decodes the bodies a sink received.
func events(t *testing.T, s *hookSink) []hookEvent {
	t.Helper()
	bodies, _ := s.received()
	out := make([]hookEvent, len(bodies))
	for i, b := range bodies {
		var m struct {
			Event string    `json:"event"`
			Data  hookEvent `json:"data"`
		}
		mustJSON(t, b, &m)
		if m.Event != "update" {
			t.Fatalf("event %q", m.Event)
		}
		out[i] = m.Data
	}
	return out
}

func (ev hookEvent) op() string { s, _ := ev["op_type"].(string); return s }

func (ev hookEvent) cells() []map[string]any {
	list, _ := ev["row_data"].([]any)
	out := make([]map[string]any, len(list))
	for i, c := range list {
		out[i], _ = c.(map[string]any)
	}
	return out
}

// forEachModel runs body once per webhook model, each in its own subtest.
func forEachModel(t *testing.T, body func(t *testing.T, model WebhookModel)) {
	t.Helper()
	for _, m := range WebhookModels {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			body(t, m)
		})
	}
}

func TestWebhookModels(t *testing.T) {
	t.Parallel()
	forEachModel(t, func(t *testing.T, model WebhookModel) {
		sink := newSink(t)
		e, _, info := hookSetupWith(t, sink.srv.URL, Options{WebhookEvents: model})
		tok := exchange(t, e, info.APIToken, "Token")
		rec := gw(t, e, info, tok, "POST", "/rows/", map[string]any{"table_name": "Kunden", "rows": []any{
			map[string]any{"Name": "n1", "Notes": "hi"}, map[string]any{"Name": "n2"}, map[string]any{"Name": "n3"},
		}})
		wantStatus(t, rec, http.StatusOK)
		var ids []any
		for _, r := range decodeMap(t, rec)["row_ids"].([]any) {
			ids = append(ids, r.(map[string]any)["_id"])
		}
		var updates []any
		for i, id := range ids {
			// The first update changes nothing: it sends no event.
			row := map[string]any{"Name": "n1"}
			if i > 0 {
				row = map[string]any{"Amount": i}
			}
			updates = append(updates, map[string]any{"row_id": id, "row": row})
		}
		wantStatus(t, gw(t, e, info, tok, "PUT", "/rows/", map[string]any{"table_name": "Kunden", "updates": updates}), http.StatusOK)
		wantStatus(t, gw(t, e, info, tok, "POST", "/sql", map[string]any{"sql": "UPDATE Kunden SET Count = 1 WHERE Name LIKE 'n%'"}), http.StatusOK)
		wantStatus(t, gw(t, e, info, tok, "DELETE", "/rows/", map[string]any{"table_name": "Kunden", "row_ids": ids}), http.StatusOK)
		waitHooks(t, e)
		evs := events(t, sink)

		var ops []string
		for _, ev := range evs {
			op := ev.op()
			if n, ok := ev["row_count"]; ok {
				op += ":" + jsonText(n)
			}
			ops = append(ops, op)
		}
		want := map[WebhookModel]string{
			PerRow: "insert_row insert_row insert_row modify_row modify_row modify_row modify_row modify_row delete_row delete_row delete_row",
			Batch:  "append_rows:3 modify_rows:2 modify_rows:3 delete_rows:3",
		}[model]
		if got := strings.Join(ops, " "); got != want {
			t.Fatalf("events: %s\nwant:   %s", got, want)
		}
		first := evs[0]
		if first["row_id"] != ids[0] || first["op_app"] != "seaflow" || first["op_user"] != "seaflow" {
			t.Errorf("first event %v", first)
		}
		notes := first.cells()[1]
		if notes["column_name"] != "Notes" || notes["old_value"] != "" {
			t.Errorf("Notes cell %v", notes)
		}
		if v, _ := notes["value"].(map[string]any); v["text"] != "hi" || v["preview"] != "hi" {
			t.Errorf("long text value %v, want an object with text", notes["value"])
		}
		for _, ev := range evs {
			if strings.HasPrefix(ev.op(), "delete") && len(ev.cells()) != 0 {
				t.Errorf("%s carries row_data %v, want []", ev.op(), ev["row_data"])
			}
		}
		if model == Batch {
			// The modify_rows of the update names the first row it changed.
			if evs[1]["row_id"] != ids[1] || len(evs[1].cells()) != 1 {
				t.Errorf("modify_rows %v", evs[1])
			}
		}
	})
}

// jsonText is the JSON of v.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWebhookDatesAreStoredStrings(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	sink := newSink(t)
	f, err := ParseFixture("d.yaml", []byte(strings.Replace(`
bases:
  - name: crm
    webhooks: [ { url: "URL" } ]
    tables:
      - name: T
        columns:
          - { name: Name, type: text }
          - { name: Due, type: date }
`, "URL", sink.srv.URL, 1)))
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{TimeZone: berlin, Now: newClock().Now})
	infos, err := e.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	tok := exchange(t, e, infos[0].APIToken, "Token")
	wantStatus(t, gw(t, e, infos[0], tok, "POST", "/rows/", map[string]any{"table_name": "T", "rows": []any{
		map[string]any{"Name": "a", "Due": "2030-06-20T21:55:00Z"},
	}}), http.StatusOK)
	waitHooks(t, e)
	cells := events(t, sink)[0].cells()
	if cells[1]["value"] != "2030-06-20 23:55" {
		t.Errorf("date value %v, want the stored wall clock without an offset", cells[1]["value"])
	}
}

func TestLinkEvents(t *testing.T) {
	t.Parallel()
	sink := newSink(t)
	e, bu := setup(t, Options{Limits: []Limit{}})
	e.mu.Lock()
	e.bases[0].webhooks = []*webhook{{url: sink.srv.URL}}
	link := e.bases[0].tables[0].column("Company").linkID
	e.mu.Unlock()
	deals, _ := e.Rows(bu.crm.UUID, "Deals")
	comps, _ := e.Rows(bu.crm.UUID, "Companies")
	deal, acme, globex := deals[0]["_id"].(string), comps[0]["_id"].(string), comps[1]["_id"].(string)
	body := func(others ...string) map[string]any {
		return map[string]any{"link_id": link, "table_name": "Deals", "other_table_name": "Companies",
			"other_rows_ids_map": map[string]any{deal: others}}
	}
	wantStatus(t, gw(t, e, bu.crm, bu.token, "POST", "/links/", body(acme, globex)), http.StatusOK)
	wantStatus(t, gw(t, e, bu.crm, bu.token, "PUT", "/links/", body(globex)), http.StatusOK)
	wantStatus(t, gw(t, e, bu.crm, bu.token, "DELETE", "/links/", body(globex)), http.StatusOK)
	waitHooks(t, e)
	evs := events(t, sink)
	var ops []string
	for _, ev := range evs {
		ops = append(ops, ev.op())
		for _, k := range []string{"row_id", "table_name", "row_data"} {
			if _, ok := ev[k]; ok {
				t.Errorf("%s has %s: %v", ev.op(), k, ev)
			}
		}
	}
	if got := strings.Join(ops, " "); got != "add_link add_link update_links remove_link" {
		t.Fatalf("events: %s", got)
	}
	add := evs[1]
	if add["table1_name"] != "Deals" || add["table1_row_id"] != deal || add["table2_name"] != "Companies" ||
		add["table2_row_id"] != globex || add["table1_row_name"] != "Acme" || add["table2_row_name"] != "Globex Inc" {
		t.Errorf("add_link %v", add)
	}
	cell := add["row_data1"].([]any)[0].(map[string]any)
	if cell["column_name"] != "Company" || jsonText(cell["value"]) != jsonText([]any{acme, globex}) || jsonText(cell["old_value"]) != jsonText([]any{acme}) {
		t.Errorf("row_data1 %v", cell)
	}
	back := add["row_data2"].([]any)[0].(map[string]any)
	if back["column_name"] != "Deals" || jsonText(back["value"]) != jsonText([]any{deal}) || back["old_value"] != "" {
		t.Errorf("row_data2 %v", back)
	}
	upd := evs[2]
	if upd["table1_row_id"] != deal || upd["table2_row_id"] != globex || len(upd["row_data2"].([]any)) != 0 {
		t.Errorf("update_links %v", upd)
	}
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	insert := func(t *testing.T, e *Emulator, info BaseInfo, name string) {
		t.Helper()
		if _, err := e.Edit(EditRequest{BaseUUID: info.Name, TableName: "Kunden", Op: "insert", Row: map[string]any{"Name": name}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("connect timeout disables at once", func(t *testing.T) {
		t.Parallel()
		dialTimeout := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: timeoutError{}}
		}}}
		clock := newClock()
		e := New(Options{Now: clock.Now, WebhookClient: dialTimeout})
		f, err := ParseFixture("h.yaml", []byte(strings.Replace(hookFixture, "URL", "http://192.0.2.1/hook", 1)))
		if err != nil {
			t.Fatal(err)
		}
		infos, err := e.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		insert(t, e, infos[0], "a")
		waitHooks(t, e)
		if st := e.Stats().Bases["crm"].Webhooks[0]; !st.Disabled || st.Sent != 1 {
			t.Errorf("stats %+v, want disabled after one connect timeout", st)
		}
	})
	t.Run("read timeouts count toward five", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // no answer before the client gives up
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(release) }) // runs first
		client := &http.Client{Timeout: 20 * time.Millisecond}
		e, _, info := hookSetupWith(t, hang.URL, Options{WebhookClient: client})
		if _, err := e.Edit(EditRequest{BaseUUID: info.Name, TableName: "Kunden", Op: "insert"}); err != nil {
			t.Fatal(err)
		}
		waitHooks(t, e)
		if st := e.Stats().Bases["crm"].Webhooks[0]; st.Disabled || st.Failures != 1 {
			t.Errorf("stats %+v, want one counted failure, still enabled", st)
		}
	})
	t.Run("two senders deliver out of order", func(t *testing.T) {
		t.Parallel()
		second := make(chan struct{})
		var mu sync.Mutex
		var order []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Data hookEvent `json:"data"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			name, _ := body.Data["row_name"].(string)
			if body.Data.op() == "modify_row" && name == "first" {
				<-second // held until the later event has arrived
			}
			mu.Lock()
			order = append(order, body.Data.op()+":"+name)
			mu.Unlock()
			if body.Data.op() == "modify_row" && name == "second" {
				close(second)
			}
		}))
		t.Cleanup(srv.Close)
		e, _, info := hookSetupWith(t, srv.URL, Options{WebhookSenders: 2})
		insert(t, e, info, "first")
		insert(t, e, info, "second")
		waitHooks(t, e)
		// insert_row:first, modify_row:first, insert_row:second,
		// modify_row:second were queued; the held one comes last.
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 4 || order[3] != "modify_row:first" {
			t.Errorf("delivered %v, want modify_row:first last", order)
		}
	})
	t.Run("delay on the emulator's clock", func(t *testing.T) {
		t.Parallel()
		sink := newSink(t)
		e, clock, info := hookSetupWith(t, sink.srv.URL, Options{WebhookDelay: 10 * time.Second})
		if _, err := e.Edit(EditRequest{BaseUUID: info.Name, TableName: "Kunden", Op: "insert"}); err != nil {
			t.Fatal(err)
		}
		if err := clock.WaitSleepers(context.Background(), 1); err != nil { // the sender waits for the delay
			t.Fatal(err)
		}
		if bodies, _ := sink.received(); len(bodies) != 0 {
			t.Fatalf("%d deliveries before the delay passed", len(bodies))
		}
		clock.Advance(9 * time.Second)
		if bodies, _ := sink.received(); len(bodies) != 0 {
			t.Fatalf("%d deliveries after 9 s of 10", len(bodies))
		}
		clock.Advance(time.Second)
		waitHooks(t, e)
		if bodies, _ := sink.received(); len(bodies) != 1 {
			t.Fatalf("%d deliveries after the delay, want 1", len(bodies))
		}
	})
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}
