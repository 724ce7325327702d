package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// The secrets of the scenario: distinctive values, so a leak of any of them,
// whole, is found by a plain substring search.
const (
	secretAPIToken    = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
	secretWebhook     = "whsec-7f3a9c1e-seatable-webhook-secret"
	secretBearer      = "bearer-5d8e2b7c-generic-hook-token"
	secretHMAC        = "hmac-9b4f1a6d-generic-hook-key"
	secretServerToken = "status-3c7e9a2f-server-api-token"
)

const secretsFixture = `
bases:
  - name: crm
    api_token: %q
    webhooks:
      - { url: %q, secret: %q }
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Note, type: text }
        rows:
          - { Name: Acme, Stage: Lead }
`

const secretsConfig = `
server: { listen: "127.0.0.1:0", token: %q }
bases:
  crm: { url: %q, api_token: %q }
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: %q } }
  - { name: form, path: /hooks/form, token: %q }
  - { name: signed, path: /hooks/signed, hmac: { secret: %q } }
rules:
  - name: stamp-won
    on: { webhook: crm-changes }
    when: event.table == "Deals" && row.Stage == "Won" && old.Stage != "Won"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Note: "won" } }
  - name: note
    on: { webhook: form }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
  - name: signed-note
    on: { webhook: signed }
    do:
      - update: { base: crm, table: "=body.table", row: "=body.row", values: { Note: "=body.note" } }
`

// tokenRecorder serves the emulator and remembers every base token it
// hands out and every bearer credential it is sent.
type tokenRecorder struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]bool
}

func (r *tokenRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if _, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && tok != "" {
		r.add(tok)
	}
	if !strings.Contains(req.URL.Path, "app-access-token") {
		r.next.ServeHTTP(w, req)
		return
	}
	rec := httptest.NewRecorder()
	r.next.ServeHTTP(rec, req)
	var m struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &m) == nil && m.AccessToken != "" {
		r.add(m.AccessToken)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (r *tokenRecorder) add(tok string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[tok] = true
}

func (r *tokenRecorder) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for t := range r.seen {
		out = append(out, t)
	}
	return out
}

// TestSecretsNeverLeak runs a whole scenario (signed SeaTable webhooks,
// generic hooks with good and bad credentials, a dead letter, a token
// refresh, a refused reload) and then looks for every secret in everything
// seaflow says: the debug log, every HTTP body it serves (webhook answers,
// status API, status page, metrics, dead letters) and error strings.
func TestSecretsNeverLeak(t *testing.T) {
	logs := &syncBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	daemonURL := "http://" + ln.Addr().String()

	emu := emulator.New(emulator.Options{})
	rec := &tokenRecorder{next: emu, seen: map[string]bool{}}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	emu.SetServerURL(srv.URL)
	fx, err := emulator.ParseFixture("fixture.yaml", fmt.Appendf(nil, secretsFixture, secretAPIToken, daemonURL+"/hooks/crm", secretWebhook))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := emu.Load(fx)
	if err != nil {
		t.Fatal(err)
	}
	base := infos[0]
	if base.APIToken != secretAPIToken {
		t.Fatalf("fixture api token not used: %q", base.APIToken)
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "seaflow.yaml")
	cfgText := fmt.Sprintf(secretsConfig, secretServerToken, srv.URL, secretAPIToken, secretWebhook, secretBearer, secretHMAC)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	dead := make(chan struct{}, 10)
	d, err := startDaemon(context.Background(), cfg, daemonOptions{
		DataDir:      filepath.Join(dir, "data"),
		Logger:       zerolog.New(logs).Level(zerolog.DebugLevel),
		Listener:     ln,
		LookupEnv:    func(string) (string, bool) { return "", false },
		onDeadLetter: func() { dead <- struct{}{} },
	})
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	t.Cleanup(func() { d.stop(10 * time.Second) })

	var bodies []string // everything the daemon answered
	var errs []string   // error strings met on the way
	do := func(method, path string, hdr map[string]string, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, daemonURL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var h strings.Builder
		_ = resp.Header.Write(&h)
		bodies = append(bodies, fmt.Sprintf("%s %s → %d\n%s\n%s", method, path, resp.StatusCode, h.String(), b))
		return resp.StatusCode, string(b)
	}
	jsonHdr := func(kv ...string) map[string]string {
		h := map[string]string{"Content-Type": "application/json"}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	rowID := firstRow(t, emu, base.UUID)

	// A SeaTable webhook, signed by the emulator with the secret.
	if _, err := emu.Edit(emulator.EditRequest{BaseUUID: base.UUID, TableName: "Deals", Op: "update", RowID: rowID, Row: map[string]any{"Stage": "Won"}}); err != nil {
		t.Fatal(err)
	}
	waitCell(t, emu, base.UUID, "Deals", "Note", "won", logs)

	// SeaTable-style webhooks with bad signatures, one of them made with
	// a near miss of the secret.
	stBody := []byte(`{"event": "update", "data": {"dtable_uuid": "x", "row_id": "r", "op_type": "modify_row", "op_time": 1, "table_name": "Deals"}}`)
	for _, sig := range []string{"sha256=00", "sha256=" + hmacHex(secretWebhook+"x", stBody), "", "sha256=" + secretWebhook} {
		if code, _ := do("POST", "/hooks/crm", jsonHdr("X-SeaTable-Signature", sig), stBody); code != http.StatusUnauthorized {
			t.Errorf("bad SeaTable signature %q: HTTP %d, want 401", sig, code)
		}
	}
	// The generic hooks: good and bad credentials.
	note := fmt.Appendf(nil, `{"row": %q, "note": "hello"}`, rowID)
	if code, _ := do("POST", "/hooks/form", jsonHdr("Authorization", "Bearer "+secretBearer), note); code != http.StatusAccepted {
		t.Fatalf("form hook: HTTP %d", code)
	}
	waitCell(t, emu, base.UUID, "Deals", "Note", "hello", logs)
	for _, auth := range []string{"Bearer " + secretBearer + "x", "Bearer " + secretHMAC, "Basic " + secretBearer, secretBearer} {
		if code, _ := do("POST", "/hooks/form", jsonHdr("Authorization", auth), note); code != http.StatusUnauthorized {
			t.Errorf("bad bearer: HTTP %d, want 401", code)
		}
	}
	signed := fmt.Appendf(nil, `{"table": "Deals", "row": %q, "note": "signed"}`, rowID)
	if code, _ := do("POST", "/hooks/signed", jsonHdr(rules.DefaultHMACHeader, "sha256="+hmacHex(secretHMAC, signed)), signed); code != http.StatusAccepted {
		t.Fatalf("hmac hook: HTTP %d", code)
	}
	waitCell(t, emu, base.UUID, "Deals", "Note", "signed", logs)
	if code, _ := do("POST", "/hooks/signed", jsonHdr(rules.DefaultHMACHeader, hmacHex(secretHMAC+"x", signed)), signed); code != http.StatusUnauthorized {
		t.Errorf("bad hmac: HTTP %d, want 401", code)
	}

	// A token refresh: the next call exchanges the API token again.
	emu.ExpireTokens()
	if code, _ := do("POST", "/hooks/form", jsonHdr("Authorization", "Bearer "+secretBearer), fmt.Appendf(nil, `{"row": %q, "note": "after refresh"}`, rowID)); code != http.StatusAccepted {
		t.Fatalf("form hook after expiry: HTTP %d", code)
	}
	waitCell(t, emu, base.UUID, "Deals", "Note", "after refresh", logs)

	// An op SeaTable refuses goes to the dead letters with its reason.
	missing := []byte(`{"table": "NoSuchTable", "row": "no-such-row", "note": "x"}`)
	if code, _ := do("POST", "/hooks/signed", jsonHdr(rules.DefaultHMACHeader, hmacHex(secretHMAC, missing)), missing); code != http.StatusAccepted {
		t.Fatalf("hmac hook: HTTP %d", code)
	}
	select {
	case <-dead:
	case <-time.After(20 * time.Second):
		t.Fatalf("no dead letter; logs:\n%s", logs.String())
	}

	// A reload refused because of a bad file that holds the secrets.
	bad := strings.Replace(cfgText, "rules:", "rules:\n  - { name: broken, on: { webhook: nope } }", 1)
	if err := os.WriteFile(cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(cfgPath)
	if _, err := rules.Parse(cfgPath, []byte(bad), nil); err == nil {
		t.Fatal("the bad config parsed")
	} else {
		errs = append(errs, err.Error())
	}

	// Everything an operator can read.
	auth := map[string]string{"Authorization": "Bearer " + secretServerToken}
	if code, _ := do("GET", "/api/status", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("status without the server token: HTTP %d, want 401", code)
	}
	for _, path := range []string{"/api/status", "/api/status?traces=100", "/api/dead", "/metrics", "/", "/healthz", "/readyz"} {
		if code, body := do("GET", path, auth, nil); code != http.StatusOK {
			t.Errorf("GET %s: HTTP %d: %s", path, code, body)
		}
	}
	_, deadList := do("GET", "/api/dead", auth, nil)
	if !strings.Contains(deadList, "NoSuchTable") {
		t.Errorf("dead letter list lacks the refused op: %s", deadList)
	}

	// Error strings of the client itself, for a bad and a good API token.
	bad401 := seatable.New(seatable.Config{ServerURL: srv.URL, APIToken: secretAPIToken + "0"})
	if _, err := bad401.Metadata(context.Background()); err == nil {
		t.Error("a wrong API token was accepted")
	} else {
		errs = append(errs, err.Error())
	}
	good := seatable.New(seatable.Config{ServerURL: srv.URL, APIToken: secretAPIToken})
	if _, err := good.SQL(context.Background(), "SELEC nonsense", nil); err == nil {
		t.Error("bad SQL accepted")
	} else {
		errs = append(errs, err.Error())
	}

	d.stop(10 * time.Second)

	baseTokens := rec.tokens()
	if len(baseTokens) < 2 {
		t.Fatalf("saw %d credentials at the emulator, want the API token and base tokens", len(baseTokens))
	}
	secrets := map[string]string{
		"api token": secretAPIToken, "webhook secret": secretWebhook, "bearer token": secretBearer,
		"hmac secret": secretHMAC, "server token": secretServerToken,
	}
	for i, tok := range baseTokens {
		if tok == secretAPIToken {
			continue
		}
		secrets[fmt.Sprintf("base token %d", i)] = tok
		// A JWT's signature alone is as good as the token for a forger
		// who knows the claims.
		if parts := strings.Split(tok, "."); len(parts) == 3 {
			secrets[fmt.Sprintf("base token %d signature", i)] = parts[2]
		}
	}
	places := map[string]string{
		"log":           logs.String(),
		"http answers":  strings.Join(bodies, "\n"),
		"error strings": strings.Join(errs, "\n"),
	}
	for what, secret := range secrets {
		for where, text := range places {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s appears in the %s: …%s…", what, where, text[max(i-200, 0):min(i+len(secret)+50, len(text))])
			}
		}
	}
	for _, want := range []string{"webhook refused", "reload refused", "op refused as invalid", "bad signature", "bad bearer token"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q: the scenario did not run as meant", want)
		}
	}
	// A positive control: the search finds every secret where it is.
	for what, secret := range secrets {
		if !strings.HasPrefix(what, "base token") && !strings.Contains(cfgText, secret) {
			t.Errorf("control: %s not found in the config text", what)
		}
	}
	if testing.Verbose() {
		t.Logf("checked %d secrets in %d bytes of logs, %d HTTP answers, %d error strings", len(secrets), len(logs.String()), len(bodies), len(errs))
	}
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func firstRow(t *testing.T, emu *emulator.Emulator, baseUUID string) string {
	t.Helper()
	rows, err := emu.Rows(baseUUID, "Deals")
	if err != nil || len(rows) == 0 {
		t.Fatalf("rows: %v %v", rows, err)
	}
	return rows[0]["_id"].(string)
}

// waitCell waits on the emulator's change signal until a row of table in
// the base baseUUID has want in col.
func waitCell(t *testing.T, emu *emulator.Emulator, baseUUID, table, col string, want any, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rows []map[string]any
	err := emu.WaitFor(ctx, func() bool {
		rows, _ = emu.Rows(baseUUID, table)
		for _, r := range rows {
			if r[col] == want {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no %s row with %s = %v: %v; rows: %v\nlogs:\n%s", table, col, want, err, rows, logs.String())
	}
}
