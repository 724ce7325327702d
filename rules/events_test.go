package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

const seatableBody = `{"event":"update","data":{"dtable_uuid":"fae0a3a42ba94df88e8303fd385e37de","row_id":"R1","op_user":"u@auth.local","op_type":"modify_row","op_time":1795000000.5,"table_id":"0001","table_name":"Deals","row_data":[
 {"column_key":"s7Ag","column_name":"Stage","column_type":"single-select","column_data":{"options":[{"name":"Lead","id":"101"},{"name":"Won","id":"103"}]},"value":"103","old_value":"101"},
 {"column_key":"d1","column_name":"Won At","column_type":"date","column_data":{},"value":"2026-11-26","old_value":null}]}}`

func TestWebhookEventSeaTable(t *testing.T) {
	t.Parallel()
	cfg := setup(t, "")
	ev, err := cfg.WebhookEvent("crm", "ignored", []byte(seatableBody), t0)
	if err != nil {
		t.Fatal(err)
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
	again, _ := cfg.WebhookEvent("crm", "other", []byte(seatableBody), t0.Add(time.Hour))
	if again.ID != ev.ID {
		t.Error("a redelivery got another id")
	}
	for _, bad := range []string{`{"event":"update"}`, `[1]`, `nope`, ``} {
		if _, err := cfg.WebhookEvent("crm", "x", []byte(bad), t0); err == nil {
			t.Errorf("body %q accepted", bad)
		}
	}
}

func TestWebhookEventGeneric(t *testing.T) {
	t.Parallel()
	cfg := setup(t, "")
	ev, err := cfg.WebhookEvent("form", "d1", []byte(`{"company":"Acme","n":2}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := ev.Body.(map[string]any)
	if ev.ID != "webhook/form/d1" || !ev.Time.Equal(t0) || body["company"] != "Acme" || body["n"] != 2.0 || ev.Base != "" {
		t.Errorf("event %+v", ev)
	}
	if _, err := cfg.WebhookEvent("form", "d2", []byte(`[1,2]`), t0); err != nil {
		t.Errorf("array body: %v", err)
	}
	for _, bad := range []string{`"text"`, `42`, `{`, ``} {
		if _, err := cfg.WebhookEvent("form", "d3", []byte(bad), t0); err == nil {
			t.Errorf("body %q accepted", bad)
		}
	}
	if _, err := cfg.WebhookEvent("form", "", []byte(`{}`), t0); err == nil {
		t.Error("empty id accepted")
	}
	if _, err := cfg.WebhookEvent("nope", "x", []byte(`{}`), t0); err == nil {
		t.Error("unknown webhook accepted")
	}
}

func TestNATSAndCronEvents(t *testing.T) {
	t.Parallel()
	cfg := setup(t, "")
	ev, err := cfg.NATSEvent("a.b", "7", []byte(`{"x":[1]}`), t0)
	if m, _ := ev.Msg.(map[string]any); err != nil || ev.Source != seaflow.SourceNATS || ev.Name != "a.b" || ev.ID != "nats/a.b/7" || m == nil {
		t.Errorf("json message: %+v, %v", ev, err)
	}
	ev, _ = cfg.NATSEvent("a.b", "8", []byte(`plain text`), t0)
	if ev.Msg != "plain text" {
		t.Errorf("text message: %#v", ev.Msg)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ce := CronEvent("nightly", time.Date(2026, 11, 26, 2, 0, 0, 0, berlin))
	if ce.ID != "cron/nightly/2026-11-26T01:00:00Z" || ce.Rule != "nightly" || ce.Name != "nightly" || ce.Source != seaflow.SourceCron || ce.Time.Location() != time.UTC {
		t.Errorf("cron event %+v", ce)
	}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}`)
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name string
		hook WebhookConfig
		h    http.Header
		ok   bool
	}{
		{"seatable good", WebhookConfig{SeaTable: &SeaTableHook{Secret: "s"}}, hdr(seatable.SignatureHeader, seatable.SignWebhook("s", body)), true},
		{"seatable wrong secret", WebhookConfig{SeaTable: &SeaTableHook{Secret: "s"}}, hdr(seatable.SignatureHeader, seatable.SignWebhook("t", body)), false},
		{"seatable missing", WebhookConfig{SeaTable: &SeaTableHook{Secret: "s"}}, hdr(), false},
		{"token good", WebhookConfig{Token: "tok"}, hdr("Authorization", "Bearer tok"), true},
		{"token wrong", WebhookConfig{Token: "tok"}, hdr("Authorization", "Bearer tok2"), false},
		{"token basic", WebhookConfig{Token: "tok"}, hdr("Authorization", "Basic tok"), false},
		{"hmac good", WebhookConfig{HMAC: &HMACAuth{Header: "X-Sig", Secret: "k"}}, hdr("X-Sig", sig), true},
		{"hmac prefixed", WebhookConfig{HMAC: &HMACAuth{Header: "X-Sig", Secret: "k"}}, hdr("X-Sig", "sha256="+sig), true},
		{"hmac bad", WebhookConfig{HMAC: &HMACAuth{Header: "X-Sig", Secret: "k"}}, hdr("X-Sig", "00"+sig[2:]), false},
		{"hmac garbage", WebhookConfig{HMAC: &HMACAuth{Header: "X-Sig", Secret: "k"}}, hdr("X-Sig", "zz"), false},
		{"none", WebhookConfig{Auth: "none"}, hdr(), true},
		{"unconfigured", WebhookConfig{}, hdr(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.hook.Authorize(tt.h, body)
			if tt.ok != (err == nil) {
				t.Fatalf("Authorize = %v", err)
			}
			if err != nil && !errors.Is(err, ErrUnauthorized) {
				t.Errorf("error %v does not wrap ErrUnauthorized", err)
			}
		})
	}
}
