package main

import (
	"context"
	"fmt"
	"io"
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
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

const syncAccountToken = "acct0000acct0000acct0000acct0000acct0000"

const syncConfig = `
server: { listen: "127.0.0.1:0", auth: none, public_url: "${PUBLIC}" }
bases:
  crm: { url: "%s", api_token: "%s", account_token: "${ACCOUNT}" }
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${SECRET}" } }
rules:
  - name: r
    on: { webhook: crm-changes }
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Note: x } }
`

// deliveries counts the webhook bodies a loopback receiver got, by path,
// with their signatures.
type deliveries struct {
	mu   sync.Mutex
	got  map[string][]string // path → X-SeaTable-Signature of each body
	body map[string][][]byte
}

func (d *deliveries) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got[r.URL.Path] = append(d.got[r.URL.Path], r.Header.Get("X-SeaTable-Signature"))
	d.body[r.URL.Path] = append(d.body[r.URL.Path], b)
}

func (d *deliveries) last(path string) (sig string, body []byte, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n = len(d.got[path])
	if n == 0 {
		return "", nil, 0
	}
	return d.got[path][n-1], d.body[path][n-1], n
}

// serveEmulator serves an emulator with opts, loaded with fixture, on
// loopback and returns it, its URL and its bases.
func serveEmulator(t *testing.T, opts emulator.Options, fixture string) (*emulator.Emulator, string, []emulator.BaseInfo) {
	t.Helper()
	emu := emulator.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.SetServerURL(srv.URL)
	fx, err := emulator.ParseFixture("fixture.yaml", []byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := emu.Load(fx)
	if err != nil {
		t.Fatal(err)
	}
	return emu, srv.URL, infos
}

func TestWebhooksSync(t *testing.T) {
	t.Parallel()
	emu, srvURL, infos := serveEmulator(t, emulator.Options{AccountToken: syncAccountToken}, daemonFixture)
	recv := &deliveries{got: map[string][]string{}, body: map[string][][]byte{}}
	hookSrv := httptest.NewServer(recv)
	t.Cleanup(hookSrv.Close)
	cfgPath := filepath.Join(t.TempDir(), "seaflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(syncConfig, srvURL, infos[0].APIToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PUBLIC": hookSrv.URL, "ACCOUNT": syncAccountToken, "SECRET": "one"}
	sync := func(t *testing.T, extra ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, env, append([]string{"webhooks", "sync", "--config", cfgPath}, extra...)...)
		if code != 0 {
			t.Fatalf("sync: exit %d: %s%s", code, out, errOut)
		}
		if strings.Contains(out+errOut, syncAccountToken) {
			t.Fatalf("the account token is in the output: %s", out)
		}
		return out
	}
	list := func(t *testing.T) []seatable.Webhook {
		t.Helper()
		hooks, err := seatable.NewAccount(seatable.AccountConfig{ServerURL: srvURL, Token: syncAccountToken}).Webhooks(context.Background(), emulator.WorkspaceID, "crm")
		if err != nil {
			t.Fatal(err)
		}
		return hooks
	}
	// edit changes a row and waits for its deliveries.
	edits := 0
	edit := func(t *testing.T) {
		t.Helper()
		rows, err := emu.Rows("crm", "Deals")
		if err != nil || len(rows) == 0 {
			t.Fatalf("rows: %v", err)
		}
		edits++
		if _, err := emu.Edit(emulator.EditRequest{BaseUUID: "crm", TableName: "Deals", Op: "update", RowID: rows[0]["_id"].(string), Row: map[string]any{"Note": fmt.Sprint("edit ", edits)}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := emu.WaitWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("dry run changes nothing", func(t *testing.T) {
		out := sync(t, "--dry-run")
		if !strings.Contains(out, "crm: would create "+hookSrv.URL+"/hooks/crm (crm-changes)") || !strings.Contains(out, "nothing changed") {
			t.Errorf("dry run said:\n%s", out)
		}
		if hooks := list(t); len(hooks) != 0 {
			t.Errorf("dry run made %v", hooks)
		}
	})
	t.Run("creates the webhook, which then delivers", func(t *testing.T) {
		out := sync(t)
		if !strings.Contains(out, "crm: create "+hookSrv.URL+"/hooks/crm (crm-changes)") || !strings.Contains(out, "1 created") {
			t.Errorf("sync said:\n%s", out)
		}
		hooks := list(t)
		if len(hooks) != 1 || hooks[0].URL != hookSrv.URL+"/hooks/crm" || hooks[0].Secret != "one" {
			t.Fatalf("hooks %+v", hooks)
		}
		edit(t)
		if sig, body, n := recv.last("/hooks/crm"); n == 0 || !seatable.VerifySignature("one", body, sig) {
			t.Errorf("delivery: %d, signature ok %v", n, n > 0 && seatable.VerifySignature("one", body, sig))
		}
	})
	t.Run("a second run changes nothing and says so", func(t *testing.T) {
		out := sync(t)
		if !strings.Contains(out, "crm: unchanged") || !strings.Contains(out, "nothing to change (1 up to date)") {
			t.Errorf("second run said:\n%s", out)
		}
		if hooks := list(t); len(hooks) != 1 {
			t.Errorf("hooks %+v", hooks)
		}
	})
	t.Run("a changed secret is updated", func(t *testing.T) {
		env["SECRET"] = "two"
		if out := sync(t); !strings.Contains(out, ": secret") || !strings.Contains(out, "1 updated") || strings.Contains(out, "two") {
			t.Errorf("sync said:\n%s", out)
		}
		edit(t)
		if sig, body, _ := recv.last("/hooks/crm"); !seatable.VerifySignature("two", body, sig) {
			t.Error("the delivery is not signed with the new secret")
		}
	})
	t.Run("a changed public URL moves the webhook, with no second one", func(t *testing.T) {
		env["PUBLIC"] = hookSrv.URL + "/seaflow"
		out := sync(t)
		if !strings.Contains(out, "url, was "+hookSrv.URL+"/hooks/crm") {
			t.Errorf("sync said:\n%s", out)
		}
		hooks := list(t)
		if len(hooks) != 1 || hooks[0].URL != hookSrv.URL+"/seaflow/hooks/crm" {
			t.Fatalf("hooks %+v", hooks)
		}
		edit(t)
		if _, _, n := recv.last("/seaflow/hooks/crm"); n != 1 {
			t.Errorf("%d deliveries at the new URL", n)
		}
	})
	t.Run("dry run of a change changes nothing", func(t *testing.T) {
		env["SECRET"] = "three"
		before := list(t)
		if out := sync(t, "--dry-run"); !strings.Contains(out, "would update") {
			t.Errorf("dry run said:\n%s", out)
		}
		if after := list(t); after[0] != before[0] {
			t.Errorf("dry run changed %+v to %+v", before, after)
		}
	})
}

func TestWebhooksSyncErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", len(body)))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noPublic := write(`
bases: { crm: { url: "https://cloud.seatable.io", api_token: t, account_token: a } }
webhooks: [ { name: h, path: /hooks/crm, seatable: { base: crm, secret: s } } ]
rules: [ { name: r, on: { webhook: h }, do: [ { update: { base: crm, table: T, row: x, values: { A: 1 } } } ] } ]
`)
	if _, errOut, code := runCLI(t, nil, "webhooks", "sync", "--config", noPublic); code == 0 || !strings.Contains(errOut, "server.public_url is not set") {
		t.Errorf("no public_url: exit %d, %s", code, errOut)
	}
	noAccount := write(`
server: { public_url: "https://seaflow.example.com" }
bases: { crm: { url: "https://cloud.seatable.io", api_token: t } }
webhooks: [ { name: h, path: /hooks/crm, seatable: { base: crm, secret: s } } ]
rules: [ { name: r, on: { webhook: h }, do: [ { update: { base: crm, table: T, row: x, values: { A: 1 } } } ] } ]
`)
	if _, errOut, code := runCLI(t, nil, "webhooks", "sync", "--config", noAccount); code == 0 || !strings.Contains(errOut, "bases.crm.account_token") {
		t.Errorf("no account token: exit %d, %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, nil, "webhooks", "list"); code != 2 || !strings.Contains(errOut, "webhooks sync") {
		t.Errorf("unknown subcommand: exit %d, %s", code, errOut)
	}
}

// TestWebhooksSyncInProcessEmulator: an url: emulator base is synced
// through the running daemon's /emulator/ mount with the fixture's
// account token, as the README's quick start does.
func TestWebhooksSyncInProcessEmulator(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	dir := t.TempDir()
	fixture := strings.Replace(daemonFixture, "  - name: crm\n", "  - name: crm\n    api_token: \"0123456789abcdef0123456789abcdef01234567\"\n    webhooks: [ { url: \"http://"+addr+"/hooks/crm\", secret: \"old\" } ]\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "fixture.yaml"), []byte("account_token: \""+syncAccountToken+"\"\n"+fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "seaflow.yaml")
	config := `
server: { listen: "` + addr + `", auth: none, public_url: "http://` + addr + `" }
bases:
  crm: { url: emulator, fixture: fixture.yaml }
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${SECRET}" } }
rules:
  - name: r
    on: { webhook: crm-changes }
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Note: x } }
`
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECRET": "old"}
	cfg, err := rules.Load(cfgPath, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(context.Background(), cfg, daemonOptions{Logger: zerolog.Nop(), Listener: ln, DataDir: filepath.Join(dir, "data"),
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(10 * time.Second) })
	out, errOut, code := runCLI(t, env, "webhooks", "sync", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "nothing to change (1 up to date)") {
		t.Fatalf("sync (exit %d):\n%s%s", code, out, errOut)
	}
	env["SECRET"] = "new"
	out, errOut, code = runCLI(t, env, "webhooks", "sync", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "crm: update http://"+addr+"/hooks/crm (crm-changes): secret") {
		t.Fatalf("sync (exit %d):\n%s%s", code, out, errOut)
	}
}
