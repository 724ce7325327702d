package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow/internal/proctest"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// bins holds the seaflow binary TestMain builds (and e2e/loadgen, when
// the intake benchmark runs).
var bins *proctest.Binaries

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if bins, err = proctest.BuildSeaflow("e2e"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer bins.Remove()
	return m.Run()
}

// webhookSecret is the secret of the SeaTable webhooks of every fixture.
const webhookSecret = "e2e-webhook-secret"

// hookToken is the bearer token of the generic webhooks of every config.
const hookToken = "e2e-hook-token"

// env is one scenario: an emulator served on loopback, a config file and
// a data directory, and the seaflow daemon run on them.
type env struct {
	t       *testing.T
	emu     *emulator.Emulator
	emuURL  string
	base    emulator.BaseInfo
	addr    string // the daemon's listen address (host:port)
	dir     string
	cfgPath string
	dataDir string
	logPath string
	vars    map[string]string // environment of the daemon, for ${VAR}
	client  *http.Client
	cur     *proctest.Daemon
	// expectWarn are log messages a scenario causes on purpose (the loop
	// guard's stop); every other warning or error fails the test.
	expectWarn []string
	gate       atomic.Pointer[callGate]
}

// callGate holds the emulator's answers to calls that match it until it is
// opened, so a test can let work pile up behind one call in flight and
// check what the daemon does with the backlog, whatever the machine's speed.
type callGate struct {
	method, suffix string
	held           chan struct{} // closed when the first matching call arrives
	open           chan struct{} // closed by the test
	once           sync.Once
}

func (g *callGate) wait(r *http.Request) {
	if r.Method != g.method || !strings.HasSuffix(r.URL.Path, g.suffix) {
		return
	}
	g.once.Do(func() { close(g.held) })
	<-g.open
}

// holdCalls makes the emulator hold every call of method on a path ending
// in suffix until the returned open func is called. held is closed when
// the first such call arrives.
func (e *env) holdCalls(method, suffix string) (held <-chan struct{}, open func()) {
	g := &callGate{method: method, suffix: suffix, held: make(chan struct{}), open: make(chan struct{})}
	e.gate.Store(g)
	var once sync.Once
	open = func() { once.Do(func() { close(g.open) }) }
	e.t.Cleanup(open)
	return g.held, open
}

// setup starts an emulator with the fixture (where $LISTEN is replaced by
// the daemon's address and $SECRET by webhookSecret; its settings, such as
// webhook_events:, apply) and writes config.
// The config reads the emulator's URL, the base token, the listen address,
// the webhook secret and token from ${E2E_EMU_URL}, ${E2E_TOKEN},
// ${E2E_LISTEN}, ${E2E_SECRET} and ${E2E_HOOK_TOKEN}; extra adds variables.
// The daemon is not started.
func setup(t *testing.T, fixture, config string, extra map[string]string) *env {
	t.Helper()
	return setupWith(t, fixture, config, extra, nil)
}

// setupWith is setup with the emulator's options adjusted by tune (a
// clock, a webhook delay) before it starts.
func setupWith(t *testing.T, fixture, config string, extra map[string]string, tune func(*emulator.Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.addr = proctest.FreeAddr(t)
	fx, err := emulator.ParseFixture("fixture.yaml", []byte(strings.NewReplacer("$LISTEN", e.addr, "$SECRET", webhookSecret).Replace(fixture)))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	opts := emulator.Options{Limits: emulator.DefaultLimits}
	fx.Settings.Apply(&opts)
	if tune != nil {
		tune(&opts)
	}
	e.emu = emulator.New(opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := e.gate.Load(); g != nil {
			g.wait(r)
		}
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.emuURL = srv.URL
	e.emu.SetServerURL(srv.URL)
	infos, err := e.emu.Load(fx)
	if err != nil {
		t.Fatalf("load fixture: %v", err)
	}
	e.base = infos[0]
	e.cfgPath = filepath.Join(e.dir, "seaflow.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e.dataDir = filepath.Join(e.dir, "data")
	e.logPath = filepath.Join(e.dir, "seaflow.log")
	e.vars = map[string]string{
		"E2E_EMU_URL":    e.emuURL,
		"E2E_TOKEN":      e.base.APIToken,
		"E2E_LISTEN":     e.addr,
		"E2E_SECRET":     webhookSecret,
		"E2E_HOOK_TOKEN": hookToken,
	}
	for k, v := range extra {
		e.vars[k] = v
	}
	e.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
	}
	t.Cleanup(func() {
		if e.cur != nil {
			e.cur.Kill()
		}
		if bad := e.unexpectedWarnings(); len(bad) > 0 {
			t.Errorf("the daemon logged %d unexpected warnings or errors (a healthy run logs none):\n%s", len(bad), strings.Join(bad, "\n"))
		}
		if t.Failed() {
			t.Logf("daemon log (tail):\n%s", e.logTail(80))
			if keep := os.Getenv("SEAFLOW_E2E_KEEP"); keep != "" {
				dst := filepath.Join(keep, t.Name())
				if err := os.CopyFS(dst, os.DirFS(e.dir)); err != nil {
					t.Logf("keep %s: %v", dst, err)
				} else {
					t.Logf("kept the config, data and log in %s", dst)
				}
			}
		}
	})
	return e
}

// start runs the daemon on the env's config and data directory (its
// output appended to the log file) and waits until GET /readyz answers 200.
func (e *env) start() *proctest.Daemon {
	e.t.Helper()
	if e.cur != nil && e.cur.Running() {
		e.t.Fatal("start: the daemon is already running")
	}
	d := e.startAt(e.addr, e.dataDir)
	e.cur = d
	return d
}

// startAt runs another daemon process on the env's config, listening on
// addr with its data in dataDir (a second replica), and waits until it is
// ready. The caller stops it; the test's end kills it.
func (e *env) startAt(addr, dataDir string) *proctest.Daemon {
	e.t.Helper()
	args := []string{"run", "--config", e.cfgPath, "--data-dir", dataDir, "--listen", addr}
	if lvl := os.Getenv("SEAFLOW_E2E_LOG_LEVEL"); lvl != "" {
		args = append(args, "--log-level", lvl)
	}
	var env []string
	for k, v := range e.vars {
		env = append(env, k+"="+v)
	}
	d, err := proctest.Start(e.t, proctest.Options{Bin: bins.Seaflow, Args: args, Env: env, Dir: e.dir, LogFile: e.logPath})
	if err != nil {
		e.t.Fatalf("start seaflow: %v", err)
	}
	e.t.Cleanup(d.Kill)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx, "http://"+addr); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (e *env) stop(d *proctest.Daemon) {
	e.t.Helper()
	err := d.Stop(60 * time.Second)
	switch {
	case errors.Is(err, proctest.ErrNotStopped):
		e.t.Fatal("seaflow did not stop within 60s of SIGTERM")
	case err != nil:
		e.t.Errorf("seaflow exited with %v after SIGTERM", err)
	}
}

// unexpectedWarnings returns the daemon's log lines at level warn or
// error (the first 20) whose message is not one of e.expectWarn.
func (e *env) unexpectedWarnings() []string {
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		return nil
	}
	return proctest.Warnings(string(b), e.expectWarn, 20)
}

// logTail returns the last n lines of the daemon's log.
func (e *env) logTail(n int) string {
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return proctest.LastLines(string(b), n)
}

// waitFor waits, on the emulator's change signal, until cond holds.
func (e *env) waitFor(within time.Duration, what string, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := e.emu.WaitFor(ctx, cond); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitWebhooks waits until the emulator has delivered every webhook it queued.
func (e *env) waitWebhooks() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.emu.WaitWebhooks(ctx); err != nil {
		e.t.Fatalf("waiting for webhook deliveries: %v", err)
	}
}

// rows returns a table's rows.
func (e *env) rows(table string) []map[string]any {
	e.t.Helper()
	rows, err := e.emu.Rows(e.base.UUID, table)
	if err != nil {
		e.t.Fatalf("rows of %s: %v", table, err)
	}
	return rows
}

// counter reads one sample of the running daemon's /metrics (the server
// has auth: none), such as `seaflow_rule_matches_total{rule="note"}`; a
// series not exported yet reads 0.
func (e *env) counter(series string) float64 {
	e.t.Helper()
	resp, err := e.client.Get("http://" + e.addr + "/metrics")
	if err != nil {
		e.t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		value, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			e.t.Fatalf("metrics: %s: %v", series, err)
		}
		return v
	}
	if err := sc.Err(); err != nil {
		e.t.Fatalf("metrics: %v", err)
	}
	return 0
}

// stats returns the call counters of the env's base.
func (e *env) stats() emulator.BaseStats {
	return e.emu.Stats().Bases[e.base.Name]
}

// calls returns the gateway calls of the call log to the env's base with
// this method and endpoint (as in BaseStats.ByEndpoint; a trailing slash
// is ignored, so "/sql" and "/sql/" are one endpoint).
func (e *env) calls(method, endpoint string) []emulator.CallRecord {
	var out []emulator.CallRecord
	want := strings.TrimSuffix(endpoint, "/")
	for _, c := range e.emu.Stats().CallLog {
		if c.Gateway && c.Method == method && strings.TrimSuffix(c.Endpoint, "/") == want {
			out = append(out, c)
		}
	}
	return out
}

// rowsOf lists the rows of each call.
func rowsOf(calls []emulator.CallRecord) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Rows
	}
	return out
}

// postJSON posts body to the daemon with the bearer token (none when "")
// and returns the status code.
func (e *env) postJSON(path, token string, body []byte, header http.Header) (int, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+e.addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// status reads the daemon's GET /api/status.
func (e *env) status() (statusDoc, error) {
	var st statusDoc
	resp, err := e.client.Get("http://" + e.addr + "/api/status?traces=500")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /api/status: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decode status: %w", err)
	}
	return st, nil
}

// waitStatus polls GET /api/status until cond holds (the daemon is an
// external process: its state has no signal the test can wait on).
func (e *env) waitStatus(within time.Duration, what string, cond func(statusDoc) bool) statusDoc {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var last statusDoc
	var err error
	if proctest.Poll(ctx, 50*time.Millisecond, func() bool {
		last, err = e.status()
		return err == nil && cond(last)
	}) != nil {
		e.t.Fatalf("waiting for %s in the daemon's status: %v; last status: %+v", what, err, last)
	}
	return last
}

// healthy reports whether GET /healthz answers 200.
func (e *env) healthy() error {
	resp, err := e.client.Get("http://" + e.addr + "/healthz")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /healthz: HTTP %d", resp.StatusCode)
	}
	return nil
}

// statusDoc is the part of GET /api/status the tests read.
type statusDoc struct {
	Bases []struct {
		Name  string `json:"name"`
		Lanes []struct {
			Lane      string `json:"lane"`
			Pending   int    `json:"pending"`
			OldestAge string `json:"oldest_age"`
		} `json:"lanes"`
	} `json:"bases"`
	Traces []struct {
		EventID string `json:"event_id"`
		Source  string `json:"source"`
		Name    string `json:"name"`
		Error   string `json:"error"`
		Rules   []struct {
			Rule    string `json:"rule"`
			When    bool   `json:"when"`
			Ops     int    `json:"ops"`
			Error   string `json:"error"`
			Stopped string `json:"stopped"`
		} `json:"rules"`
	} `json:"traces"`
	Dead []struct {
		Rule   string `json:"rule"`
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
	} `json:"dead"`
}

// pendingOps describes the ops still queued per base and lane, from the
// daemon's status ("" when none is).
func (e *env) pendingOps() string {
	st, err := e.status()
	if err != nil {
		return fmt.Sprintf("(status: %v)", err)
	}
	var parts []string
	for _, b := range st.Bases {
		for _, l := range b.Lanes {
			if l.Pending > 0 {
				parts = append(parts, fmt.Sprintf("%s/%s: %d ops, oldest %s", b.Name, l.Lane, l.Pending, l.OldestAge))
			}
		}
	}
	return strings.Join(parts, "; ")
}

// recoveryWait is how long the tests give a restarted daemon to apply the
// work a killed one left: SEAFLOW_RECOVERY_WAIT seconds, default 90.
// (Ops a killed dispatcher had fetched come back only after the OPS
// consumer's ack wait; set it above that to see them applied.)
func recoveryWait(t *testing.T) time.Duration {
	return time.Duration(envInt(t, "SEAFLOW_RECOVERY_WAIT", 90)) * time.Second
}
