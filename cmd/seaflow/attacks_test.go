package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
)

// refusal sends a request and checks it is refused with status and a JSON
// reason containing want.
func refusal(t *testing.T, req *http.Request, status int, want string) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var reason struct{ Error string }
	if resp.StatusCode != status || json.Unmarshal(body, &reason) != nil || !strings.Contains(reason.Error, want) {
		t.Errorf("%s %s (Host %s): HTTP %d %s; want %d with a JSON reason containing %q", req.Method, req.URL.Path, req.Host, resp.StatusCode, body, status, want)
	}
}

func request(t *testing.T, method, u string, hdr map[string]string, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

// TestAdminAttacksRefused replays the attacks of issue 16 against a daemon
// with auth: none on loopback: each is now refused with a JSON reason, and
// nothing is replayed.
func TestAdminAttacksRefused(t *testing.T) {
	d, b := startTestDaemon(t, daemonConfig)
	id := b.firstRowID(t)
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"once"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	b.waitForCell(t, "Deals", "Note", "once")
	host := strings.TrimPrefix(b.url, "http://")

	t.Run("cross-origin text/plain POST replay", func(t *testing.T) {
		// What fetch("http://127.0.0.1:8080/api/replay", {method: "POST",
		// mode: "no-cors", body: …}) from another site sends: no preflight.
		hdr := map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
		refusal(t, request(t, "POST", b.url+"/api/replay", hdr, `{"since":"24h"}`), http.StatusForbidden, "cross-site POST refused")
		delete(hdr, "Sec-Fetch-Site") // a browser without Fetch metadata
		refusal(t, request(t, "POST", b.url+"/api/replay", hdr, `{"since":"24h"}`), http.StatusForbidden, "cross-site POST refused")
		// Without either header (a privacy proxy strips them) the body
		// still is not JSON, which a cross-site page cannot send unpreflighted.
		refusal(t, request(t, "POST", b.url+"/api/replay", map[string]string{"Content-Type": "text/plain"}, `{"since":"24h"}`), http.StatusUnsupportedMediaType, "needs a JSON body")
		// The old URL-parameter form and a GET of a state change are gone.
		refusal(t, request(t, "POST", b.url+"/api/replay?since=24h", map[string]string{"Content-Type": "application/json"}, ``), http.StatusBadRequest, "bad JSON body")
		refusal(t, request(t, "GET", b.url+"/api/replay?since=24h", nil, ""), http.StatusNotFound, "state changes are POST with a JSON body")
		refusal(t, request(t, "GET", b.url+"/api/dead/1/drop", nil, ""), http.StatusNotFound, "not an API endpoint")
		refusal(t, request(t, "POST", b.url+"/api/dead/retry", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "seq=1"), http.StatusUnsupportedMediaType, "needs a JSON body")
	})

	t.Run("forged Host (DNS rebinding)", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(host)
		forged := map[string]string{"Host": "rebind.evil.example:" + port, "Origin": "http://rebind.evil.example:" + port, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
		refusal(t, request(t, "POST", b.url+"/api/replay", forged, `{"since":"24h"}`), http.StatusForbidden, "is not an address of this server")
		refusal(t, request(t, "GET", b.url+"/api/status", forged, ""), http.StatusForbidden, "is not an address of this server")
		refusal(t, request(t, "GET", b.url+"/api/dead", forged, ""), http.StatusForbidden, "is not an address of this server")
		refusal(t, request(t, "GET", b.url+"/metrics", forged, ""), http.StatusForbidden, "is not an address of this server")
		refusal(t, request(t, "GET", b.url+"/", forged, ""), http.StatusForbidden, "is not an address of this server")
	})

	t.Run("local reverse proxy with a foreign Host", func(t *testing.T) {
		target, _ := url.Parse(b.url)
		proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target)) // passes the client's Host on
		defer proxy.Close()
		refusal(t, request(t, "GET", proxy.URL+"/api/status", nil, ""), http.StatusForbidden, "add the name to server.hosts")
		refusal(t, request(t, "POST", proxy.URL+"/api/replay", map[string]string{"Content-Type": "application/json"}, `{"since":"24h"}`), http.StatusForbidden, "is not an address")
		refusal(t, request(t, "GET", proxy.URL+"/api/status", map[string]string{"Host": "intranet.example.com"}, ""), http.StatusForbidden, `Host "intranet.example.com"`)
	})

	if strings.Contains(b.logs.String(), "replay finished") {
		t.Errorf("a refused request replayed events:\n%s", b.logs.String())
	}
	// The operator's own tools still work: same Host, JSON, no Origin.
	if out, errOut, code := runCLI(t, nil, "replay", "--url", b.url, "--since", "1h", "--dry-run"); code != 0 || !strings.Contains(out, "replayed 1 events") {
		t.Errorf("seaflow replay: exit %d %s%s", code, out, errOut)
	}
	refused := scrape(t, d, "seaflow_admin_refused_total")
	for _, reason := range []string{`reason="cross_origin"`, `reason="host"`, `reason="media_type"`} {
		if !strings.Contains(refused, reason) {
			t.Errorf("metrics lack seaflow_admin_refused_total{%s}:\n%s", reason, refused)
		}
	}
}

// scrape returns the /metrics lines of the daemon starting with name.
func scrape(t *testing.T, d *daemon, name string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	d.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var out []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, name) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

const emulatorMountConfig = `
server: { listen: "127.0.0.1:0"%s }
bases:
  crm: { url: emulator, fixture: fixture.yaml }
rules:
  - name: noop
    on: { cron: "@yearly" }
    do:
      - update: { base: crm, table: Deals, row: "x", values: { Note: "y" } }
`

// startEmulatorDaemon runs the daemon with an in-process emulator base
// (mounted at /emulator/) and the given extra server settings.
func startEmulatorDaemon(t *testing.T, server string) (*daemon, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fixture.yaml"), []byte(daemonFixture), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "seaflow.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(emulatorMountConfig, "%s", server, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return startFromFile(t, path, filepath.Join(dir, "data"), daemonOptions{})
}

// startFromFile runs the daemon on the config file at path, with its store
// in dataDir ("" = the file's storage.dir), on a loopback port, and returns
// it with its base URL.
func startFromFile(t *testing.T, path, dataDir string, opts daemonOptions) (*daemon, string) {
	t.Helper()
	noEnv := func(string) (string, bool) { return "", false }
	cfg, err := rules.Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if dataDir != "" {
		cfg.Storage.Dir = dataDir
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener, opts.Logger, opts.LookupEnv = ln, zerolog.Nop(), noEnv
	d, err := startDaemon(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(10 * time.Second) })
	return d, "http://" + ln.Addr().String()
}

// TestEmulatorMountGuarded: the in-process emulator at /emulator/ answered
// rows and edit without auth even with server.token set. It now follows
// the admin rule.
func TestEmulatorMountGuarded(t *testing.T) {
	const token = "emu-mount-4f9c2a7e1b"
	_, u := startEmulatorDaemon(t, `, token: "`+token+`"`)
	rows := u + "/emulator/_emulator/rows?base_uuid=crm&table_name=Deals"
	edit := u + "/emulator/_emulator/edit"
	editBody := `{"base_uuid":"crm","table_name":"Deals","op":"insert","row":{"Name":"Mallory"}}`
	refusal(t, request(t, "GET", rows, nil, ""), http.StatusUnauthorized, "needs Authorization: Bearer")
	refusal(t, request(t, "POST", edit, map[string]string{"Content-Type": "application/json"}, editBody), http.StatusUnauthorized, "needs Authorization")
	refusal(t, request(t, "GET", rows, map[string]string{"Authorization": "Bearer " + token[:10]}, ""), http.StatusUnauthorized, "wrong token")
	auth := map[string]string{"Authorization": "Bearer " + token}
	resp, err := http.DefaultClient.Do(request(t, "GET", rows, auth, ""))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Acme") {
		t.Fatalf("rows with the token: HTTP %d %s", resp.StatusCode, body)
	}
	refusal(t, request(t, "POST", edit, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}, editBody), http.StatusForbidden, "cross-site")

	t.Run("auth none", func(t *testing.T) {
		_, u := startEmulatorDaemon(t, `, auth: none`)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
		refusal(t, request(t, "GET", u+"/emulator/_emulator/rows?base_uuid=crm&table_name=Deals", map[string]string{"Host": "evil.example:" + port}, ""), http.StatusForbidden, "not an address of this server")
		refusal(t, request(t, "POST", u+"/emulator/_emulator/edit", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, editBody), http.StatusForbidden, "cross-site")
		resp, err := http.Post(u+"/emulator/_emulator/edit", "application/json", strings.NewReader(editBody))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("a local edit with auth none: HTTP %d", resp.StatusCode)
		}
	})
}

// TestPageLoginCookie: the page's session is an HttpOnly, SameSite=Strict
// cookie set by ?token= (then redirected away) or the login form, and it
// reaches the status API; the token itself never sits in the cookie.
func TestPageLoginCookie(t *testing.T) {
	const token = "page-login-9d3e7a1c5b"
	_, u := startEmulatorDaemon(t, `, token: "`+token+`"`)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	resp, err := client.Get(u + "/?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "" || len(resp.Request.URL.Query()) != 0 {
		t.Fatalf("?token= visit: HTTP %d at %s, want the page without the token", resp.StatusCode, resp.Request.URL)
	}
	var setCookie string
	for r := resp.Request.Response; r != nil; r = r.Request.Response {
		setCookie += strings.Join(r.Header.Values("Set-Cookie"), "\n")
	}
	if !strings.Contains(setCookie, "HttpOnly") || !strings.Contains(setCookie, "SameSite=Strict") || strings.Contains(setCookie, token) {
		t.Errorf("Set-Cookie %q: want HttpOnly, SameSite=Strict, no token", setCookie)
	}
	resp, err = client.Get(u + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status API with the cookie: HTTP %d", resp.StatusCode)
	}
	// The login form does the same.
	jar2, _ := cookiejar.New(nil)
	client2 := &http.Client{Jar: jar2}
	resp, err = client2.PostForm(u+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Errorf("login: HTTP %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if resp, err = client2.Get(u + "/metrics"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("metrics after login: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

// TestAdminConfigRefusedAtLoad: a weak token, or none beyond loopback, is
// refused before anything starts, with FILE:LINE:COL.
func TestAdminConfigRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]string{
		"weak.yaml":   "server: { listen: \"127.0.0.1:8080\", token: \"x\" }\n",
		"blank.yaml":  "server: { listen: \"127.0.0.1:8080\", token: \" \" }\n",
		"open.yaml":   "server: { listen: \"0.0.0.0:8080\" }\n",
		"none.yaml":   "server: { listen: \"0.0.0.0:8080\", auth: none }\n",
		"change.yaml": "server: { listen: \"0.0.0.0:8080\", token: \"change-me\" }\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := runCLI(t, nil, "run", "--config", path)
		if code != 1 || !strings.Contains(errOut, path+":1:") || !strings.Contains(errOut, "server.") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 with FILE:LINE:COL", name, code, errOut)
		}
	}
}
