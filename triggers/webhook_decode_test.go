package triggers

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

const seatableBody = `{"event":"update","data":{"dtable_uuid":"fae0a3a42ba94df88e8303fd385e37de","row_id":"R1","op_user":"u@auth.local","op_type":"modify_row","op_time":1795000000.5,"table_id":"0001","table_name":"Deals","row_data":[
 {"column_key":"s7Ag","column_name":"Stage","column_type":"single-select","column_data":{"options":[{"name":"Lead","id":"101"},{"name":"Won","id":"103"}]},"value":"103","old_value":"101"},
 {"column_key":"d1","column_name":"Won At","column_type":"date","column_data":{},"value":"2026-11-26","old_value":null}]}}`

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestDecodeSeaTableWebhook(t *testing.T) {
	t.Parallel()
	crm := &rules.WebhookConfig{Name: "crm", Path: "/crm", SeaTable: &rules.SeaTableHook{Base: "crm", Secret: "s"}}
	ev, uuid, err := decodeWebhook(crm, "ignored", []byte(seatableBody), t0)
	if err != nil {
		t.Fatal(err)
	}
	// A row event is stored as it came, under the id its full decode
	// gives, and decoded by its reader.
	if string(ev.Raw) != seatableBody || uuid != "fae0a3a42ba94df88e8303fd385e37de" || ev.Row != nil {
		t.Fatalf("stored event %+v, base uuid %q; want the body undecoded", ev, uuid)
	}
	if st, err := seatable.ParseWebhook([]byte(seatableBody)); err != nil || st.ID() != ev.ID {
		t.Fatalf("stored under %s; the full decode's id is %v (%v)", ev.ID, st, err)
	}
	seatable.ExpandWebhookEvent(&ev)
	if ev.Raw != nil {
		t.Error("the decoded event still carries its raw body")
	}
	if ev.Source != seaflow.SourceWebhook || ev.Name != "crm" || ev.Base != "crm" || ev.OpType != "modify_row" ||
		ev.Table != "Deals" || ev.RowID != "R1" || ev.OpUser != "u@auth.local" || len(ev.ID) != 32 {
		t.Errorf("event %+v", ev)
	}
	if !ev.Time.Equal(time.Unix(1795000000, 5e8)) {
		t.Errorf("time %v", ev.Time)
	}
	if ev.Row["Stage"] != "Won" || ev.Old["Stage"] != "Lead" || ev.Old["Won At"] != nil {
		t.Errorf("row %v old %v", ev.Row, ev.Old)
	}
	if _, ok := ev.Row["Won At"].(time.Time); !ok {
		t.Errorf("date cell %T", ev.Row["Won At"])
	}
	again, _, _ := decodeWebhook(crm, "other", []byte(seatableBody), t0.Add(time.Hour))
	if again.ID != ev.ID {
		t.Error("a redelivery got another id")
	}
	// A link event's id hashes its whole data: it is decoded at intake.
	link := `{"event":"update","data":{"dtable_uuid":"fae0a3a42ba94df88e8303fd385e37de","op_type":"add_link","op_time":1795000001,"table1_name":"Deals","table1_row_id":"R1","table2_row_id":"R9"}}`
	lev, uuid, err := decodeWebhook(crm, "x", []byte(link), t0)
	if err != nil || lev.Raw != nil || lev.Table != "Deals" || lev.RowID != "R1" || uuid != "fae0a3a42ba94df88e8303fd385e37de" || len(lev.ID) != 32 {
		t.Errorf("link event %+v, base uuid %q, %v; want it decoded", lev, uuid, err)
	}
	// A signed body seaflow cannot read is kept as a failed event, under
	// an id of its bytes, never refused.
	for _, bad := range []string{`{"event":"update"}`, `[1]`, `nope`, ``} {
		ev, _, err := decodeWebhook(crm, "x", []byte(bad), t0)
		if err != nil || ev.Error == "" || ev.ID == "" || ev.Base != "crm" {
			t.Errorf("body %q: %+v, %v; want a failed event", bad, ev, err)
		}
		again, _, _ := decodeWebhook(crm, "y", []byte(bad), t0)
		if again.ID != ev.ID {
			t.Errorf("body %q: ids %s and %s for the same bytes", bad, ev.ID, again.ID)
		}
	}
}

func TestDecodeGenericWebhook(t *testing.T) {
	t.Parallel()
	form := &rules.WebhookConfig{Name: "form", Path: "/form", Token: "tok"}
	ev, _, err := decodeWebhook(form, "d1", []byte(`{"company":"Acme","n":2}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := ev.Body.(map[string]any)
	if ev.ID != "webhook/form/d1" || !ev.Time.Equal(t0) || body["company"] != "Acme" || body["n"] != 2.0 || ev.Base != "" {
		t.Errorf("event %+v", ev)
	}
	if _, _, err := decodeWebhook(form, "d2", []byte(`[1,2]`), t0); err != nil {
		t.Errorf("array body: %v", err)
	}
	for _, bad := range []string{`"text"`, `42`, `{`, ``} {
		if _, _, err := decodeWebhook(form, "d3", []byte(bad), t0); err == nil {
			t.Errorf("body %q accepted", bad)
		}
	}
	if _, _, err := decodeWebhook(form, "", []byte(`{}`), t0); err == nil {
		t.Error("empty id accepted")
	}
}

func TestNATSAndCronEvents(t *testing.T) {
	t.Parallel()
	ev, err := NATSEvent("a.b", "7", []byte(`{"x":[1]}`), t0)
	if m, _ := ev.Msg.(map[string]any); err != nil || ev.Source != seaflow.SourceNATS || ev.Name != "a.b" || ev.ID != "nats/a.b/7" || m == nil {
		t.Errorf("json message: %+v, %v", ev, err)
	}
	ev, _ = NATSEvent("a.b", "8", []byte(`plain text`), t0)
	if ev.Msg != "plain text" {
		t.Errorf("text message: %#v", ev.Msg)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ce := CronEvent("nightly", time.Date(2026, 11, 26, 2, 0, 0, 0, berlin))
	if ce.ID != "cron/nightly/2026-11-26T01:00:00Z" || ce.Rule != "nightly" || ce.Name != "nightly" || ce.Source != seaflow.SourceCron || ce.Time.Location() != time.UTC {
		t.Errorf("cron event %+v", ce)
	}
}
