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
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
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
	emu     *emulator.Emulator
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
	b := &daemonBundle{logs: &syncBuffer{}}
	b.emu = emulator.New(emulator.Options{})
	srv := httptest.NewServer(b.emu)
	t.Cleanup(srv.Close)
	b.emu.SetServerURL(srv.URL)
	fx, err := emulator.ParseFixture("fixture.yaml", []byte(daemonFixture))
	if err != nil {
		t.Fatal(err)
	}
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
	cfg.Storage.Dir = filepath.Join(dir, "data")
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rows []map[string]any
	err := b.emu.WaitFor(ctx, func() bool {
		rows, _ = b.emu.Rows(b.base.UUID, table)
		for _, r := range rows {
			if r[col] == want {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no %s row with %s = %v: %v; rows: %v\nlogs:\n%s", table, col, want, err, rows, b.logs.String())
	}
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
	// show in the status.
	st := d.status(context.Background(), 10)
	if len(st.Bases) != 1 || len(st.Bases[0].Rules) != 1 {
		t.Fatalf("status rules = %+v, want the note rule's share", st.Bases)
	}
	if r := st.Bases[0].Rules[0]; r.Rule != "note" || r.Limit != 2500 || r.Used != 1 || r.Window != "24h" {
		t.Errorf("rule share = %+v, want note: 1 of 2500 in 24h", r)
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
