package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// syncBuffer is a log sink safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type daemonBundle struct {
	emu *emulator.Emulator
	// middle, when set, serves the emulator's requests instead of it
	// (to hold or break answers).
	middle  atomic.Pointer[func(w http.ResponseWriter, r *http.Request, emu http.Handler)]
	base    emulator.BaseInfo
	url     string // the daemon's
	cfgPath string
	logs    *syncBuffer
}

const daemonFixture = `
bases:
  - name: crm
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Note, type: text }
        rows:
          - { Name: Acme, Stage: Lead }
      - name: Leads
        columns:
          - { name: Name, type: text }
          - { name: Seaflow ID, type: text }
`

const daemonConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
rules:
  - name: note
    on: { webhook: form }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
`

// startTestDaemon runs the daemon in process against an emulator served on
// loopback, with the given rule config body.
func startTestDaemon(t *testing.T, config string) (*daemon, *daemonBundle) {
	t.Helper()
	return startTestDaemonWith(t, config, daemonOptions{})
}

// startTestDaemonWith is startTestDaemon with options (a clock, say).
func startTestDaemonWith(t *testing.T, config string, opts daemonOptions) (*daemon, *daemonBundle) {
	t.Helper()
	fx, err := emulator.ParseFixture("fixture.yaml", []byte(daemonFixture))
	if err != nil {
		t.Fatal(err)
	}
	return startTestDaemonOn(t, fx, config, opts)
}

// startTestDaemonOn is startTestDaemonWith on the emulator loaded with fx;
// config's two %s are the emulator's URL and the API token of fx's first
// base.
func startTestDaemonOn(t *testing.T, fx *emulator.Fixture, config string, opts daemonOptions) (*daemon, *daemonBundle) {
	t.Helper()
	b := &daemonBundle{logs: &syncBuffer{}}
	b.emu = emulator.New(emulator.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mw := b.middle.Load(); mw != nil {
			(*mw)(w, r, b.emu)
			return
		}
		b.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.emu.SetServerURL(srv.URL)
	infos, err := b.emu.Load(fx)
	if err != nil {
		t.Fatal(err)
	}
	b.base = infos[0]
	dir := t.TempDir()
	b.cfgPath = filepath.Join(dir, "seaflow.yaml")
	if err := os.WriteFile(b.cfgPath, []byte(fmt.Sprintf(config, srv.URL, b.base.APIToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(b.cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(dir, "data")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.url = "http://" + ln.Addr().String()
	logger := zerolog.New(b.logs).Level(zerolog.DebugLevel)
	opts.Logger, opts.Listener = logger, ln
	opts.LookupEnv = func(string) (string, bool) { return "", false }
	d, err := startDaemon(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	t.Cleanup(func() { d.stop(10 * time.Second) })
	return d, b
}

func (b *daemonBundle) post(t *testing.T, path, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitForCell waits, on the emulator's change signal, until a row of the
// table has the wanted value in col.
func (b *daemonBundle) waitForCell(t *testing.T, table, col string, want any) {
	t.Helper()
	waitCell(t, b.emu, b.base.UUID, table, col, want, b.logs)
}

func (b *daemonBundle) firstRowID(t *testing.T) string {
	t.Helper()
	rows, err := b.emu.Rows(b.base.UUID, "Deals")
	if err != nil || len(rows) == 0 {
		t.Fatalf("rows: %v %v", rows, err)
	}
	return rows[0]["_id"].(string)
}

func TestDaemonWebhookToRow(t *testing.T) {
	d, b := startTestDaemon(t, daemonConfig)
	id := b.firstRowID(t)
	if code := b.post(t, "/hooks/form", "wrong", `{"row":"`+id+`","note":"x"}`); code != http.StatusUnauthorized {
		t.Fatalf("bad token: HTTP %d, want 401", code)
	}
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"hello"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d, want 202", code)
	}
	b.waitForCell(t, "Deals", "Note", "hello")

	// A webhook rule's default budget_share (half of 5,000) and its spend
	// show in the status: the update and the metadata its column check
	// fetched first.
	st := d.status(context.Background(), 10)
	if len(st.Bases) != 1 || len(st.Bases[0].Rules) != 1 {
		t.Fatalf("status rules = %+v, want the note rule's share", st.Bases)
	}
	if r := st.Bases[0].Rules[0]; r.Rule != "note" || r.Limit != 2500 || r.Used != 2 || r.Window != "24h" {
		t.Errorf("rule share = %+v, want note: 2 of 2500 in 24h", r)
	}
}

func TestDaemonReload(t *testing.T) {
	d, b := startTestDaemon(t, daemonConfig)
	id := b.firstRowID(t)

	// An invalid file is refused: the old rule keeps running.
	if err := os.WriteFile(b.cfgPath, []byte("rules: [ {name: broken, on: {webhook: nope}} ]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(b.cfgPath)
	if !strings.Contains(b.logs.String(), "reload refused") {
		t.Fatalf("no refusal logged:\n%s", b.logs.String())
	}
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"still old"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d after a refused reload", code)
	}
	b.waitForCell(t, "Deals", "Note", "still old")

	// A valid file replaces the rules: the note is now upper-cased.
	newCfg := strings.Replace(fmt.Sprintf(daemonConfig, "%s", "%s"), `"=body.note"`, `"=upper(body.note)"`, 1)
	srvURL := d.config().Bases["crm"].URL
	if err := os.WriteFile(b.cfgPath, []byte(fmt.Sprintf(newCfg, srvURL, b.base.APIToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(b.cfgPath)
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"new rules"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d after reload", code)
	}
	b.waitForCell(t, "Deals", "Note", "NEW RULES")
}

// TestDaemonReloadIsAtomic: a reload is applied whole or refused whole.
// Refused for a bad cron spec, it puts none of the file's other changes in
// force (a new webhook token among them); applied, a webhook it adds
// answers at once, a lowered limit is what the budget enforces, and an
// added base gets a dispatcher; removing a base whose ops are still queued
// is refused with the reason.
func TestDaemonReloadIsAtomic(t *testing.T) {
	traces := make(chan runner.Trace, 16)
	d, b := startTestDaemonWith(t, daemonConfig, daemonOptions{onTrace: func(tr runner.Trace) { traces <- tr }})
	id := b.firstRowID(t)
	srvURL := d.config().Bases["crm"].URL
	write := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(b.cfgPath, []byte(strings.NewReplacer("$URL", srvURL, "$TOKEN", b.base.APIToken).Replace(cfg)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	handled := func() {
		t.Helper()
		select {
		case <-traces:
		case <-time.After(20 * time.Second):
			t.Fatal("event not handled")
		}
	}

	// A new token and a bad cron spec: refused whole.
	write(`
server: { listen: "127.0.0.1:0" }
bases: { crm: { url: "$URL", api_token: "$TOKEN" } }
webhooks: [ { name: form, path: /hooks/form, token: "form-token-2" } ]
rules:
  - { name: note, on: { webhook: form }, do: [ { update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } } } ] }
  - { name: tick, on: { cron: "@every 500ms" }, do: [ { sql: { base: crm, sql: "UPDATE Deals SET Note = 'tick'" } } ] }
`)
	err := d.reload(b.cfgPath)
	if err == nil || !strings.Contains(err.Error(), "@every 500ms") {
		t.Fatalf("reload = %v, want it refused for the cron spec", err)
	}
	if code := b.post(t, "/hooks/form", "form-token-2", `{"row":"`+id+`","note":"x"}`); code != http.StatusUnauthorized {
		t.Fatalf("the refused file's token: HTTP %d, want 401", code)
	}
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"old"}`); code != http.StatusAccepted {
		t.Fatalf("the old token: HTTP %d, want 202", code)
	}
	handled()
	if st := d.status(context.Background(), 0); st.Reload == nil || st.Reload.OK || !strings.Contains(st.Reload.Error, "@every 500ms") {
		t.Fatalf("status reload = %+v, want the refusal", st.Reload)
	}
	if v := gauge(t, d, "seaflow_config_last_reload_successful"); v != 0 {
		t.Fatalf("seaflow_config_last_reload_successful = %v after a refusal", v)
	}

	// Applied: a webhook, a lowered limit and a base, all at once.
	write(`
server: { listen: "127.0.0.1:0" }
bases:
  crm: { url: "$URL", api_token: "$TOKEN", limits: [ {window: 1m, calls: 100}, {window: 24h, calls: 1000} ] }
  crm2: { url: "$URL", api_token: "$TOKEN" }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
  - { name: form2, path: /hooks/form2, token: "form2-token" }
rules:
  - { name: note, on: { webhook: form }, do: [ { update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } } } ] }
  - { name: note2, on: { webhook: form2 }, do: [ { update: { base: crm2, table: Deals, row: "=body.row", values: { Note: "=body.note" } } } ] }
`)
	if err := d.reload(b.cfgPath); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if code := b.post(t, "/hooks/form2", "form2-token", `{"row":"`+id+`","note":"via crm2"}`); code != http.StatusAccepted {
		t.Fatalf("added webhook: HTTP %d, want 202", code)
	}
	handled()
	b.waitForCell(t, "Deals", "Note", "via crm2")
	st := d.status(context.Background(), 0)
	for _, bs := range st.Bases {
		if bs.Name == "crm" && (len(bs.Windows) != 2 || bs.Windows[0].Limit != 100 || bs.Windows[1].Limit != 1000) {
			t.Fatalf("crm windows after reload = %+v, want 100/1m and 1000/24h", bs.Windows)
		}
	}
	if st.Reload == nil || !st.Reload.OK || gauge(t, d, "seaflow_config_last_reload_successful") != 1 {
		t.Fatalf("status reload = %+v, want applied", st.Reload)
	}

	// crm2 keeps an op queued (its budget is frozen); removing it is refused.
	if err := d.keeper.Freeze(context.Background(), "crm2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if code := b.post(t, "/hooks/form2", "form2-token", `{"row":"`+id+`","note":"stuck"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	handled()
	write(`
server: { listen: "127.0.0.1:0" }
bases: { crm: { url: "$URL", api_token: "$TOKEN" } }
webhooks: [ { name: form, path: /hooks/form, token: "form-token" } ]
rules:
  - { name: note, on: { webhook: form }, do: [ { update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } } } ] }
`)
	if err := d.reload(b.cfgPath); err == nil || !strings.Contains(err.Error(), `base "crm2": removed while 1 of its ops are queued`) {
		t.Fatalf("reload = %v, want it refused for crm2's queued op", err)
	}
	if _, ok := d.config().Bases["crm2"]; !ok {
		t.Fatal("the refused reload removed crm2")
	}
}

// gauge reads a gauge of the daemon's /metrics registry.
func gauge(t *testing.T, d *daemon, name string) float64 {
	t.Helper()
	fams, err := d.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
