package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow/internal/proctest"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// Names shared by the fixture, the config and the checks.
const (
	baseName    = "crm"
	hookPath    = "/hooks/load"
	hookToken   = "load-token"
	itemsTable  = "Items"
	logTable    = "Log"
	startupWait = 60 * time.Second
	stopWait    = 40 * time.Second
)

// seedLimits are SeaTable's older published limits, the seed's defaults.
var seedLimits = []emulator.Limit{{Window: time.Minute, Calls: 300}, {Window: 24 * time.Hour, Calls: 5000}}

// env is one emulator on loopback with a base of n seeded Items rows and an
// empty Log table.
type env struct {
	t      *testing.T
	emu    *emulator.Emulator
	url    string
	base   emulator.BaseInfo
	items  []string // Items row ids, in order
	limits []emulator.Limit
	gw     *gatewayWatch
}

// newEnv starts the emulator with the given limits (applied by the emulator
// and written into the daemon's config).
func newEnv(t *testing.T, n int, limits []emulator.Limit) *env {
	t.Helper()
	e := &env{t: t, limits: limits}
	e.emu = emulator.New(emulator.Options{Limits: limits})
	e.gw = &gatewayWatch{next: e.emu}
	srv := httptest.NewServer(e.gw)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.emu.SetServerURL(srv.URL)
	var fx strings.Builder
	fx.WriteString("bases:\n  - name: " + baseName + "\n    tables:\n")
	fx.WriteString("      - name: " + itemsTable + "\n        columns:\n          - { name: Name, type: text }\n          - { name: Seen, type: text }\n        rows:\n")
	for i := range n {
		fmt.Fprintf(&fx, "          - { Name: item-%d }\n", i)
	}
	fx.WriteString("      - name: " + logTable + "\n        columns:\n          - { name: Key, type: text }\n")
	f, err := emulator.ParseFixture("fixture.yaml", []byte(fx.String()))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	infos, err := e.emu.Load(f)
	if err != nil {
		t.Fatalf("load fixture: %v", err)
	}
	e.base = infos[0]
	rows, err := e.emu.Rows(e.base.UUID, itemsTable)
	if err != nil || len(rows) != n {
		t.Fatalf("seeded rows: %d, %v", len(rows), err)
	}
	for _, r := range rows {
		e.items = append(e.items, r["_id"].(string))
	}
	return e
}

// config returns the daemon config: storage is the YAML of the storage
// section, e.g. `{ dir: /x }` or `{ nats_url: "nats://…" }`.
func (e *env) config(storage string) string {
	var lim []string
	for _, l := range e.limits {
		lim = append(lim, fmt.Sprintf("{window: %s, calls: %d}", l.Window, l.Calls))
	}
	return fmt.Sprintf(`server: { listen: "127.0.0.1:0" }
storage: %s
bases:
  %s:
    url: %q
    api_token: %q
    limits: [ %s ]
webhooks:
  - { name: load, path: %s, token: %q }
rules:
  - name: load
    on: { webhook: load }
    do:
      - append: { base: %s, table: %s, values: { Key: "=body.k" } }
      - update: { base: %s, table: %s, row: "=body.row", values: { Seen: "=body.k" } }
`, storage, baseName, e.url, e.base.APIToken, strings.Join(lim, ", "), hookPath, hookToken,
		baseName, logTable, baseName, itemsTable)
}

// writeConfig writes the config into a temp file and returns its path.
func (e *env) writeConfig(storage string) string {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), "seaflow.yaml")
	if err := os.WriteFile(p, []byte(e.config(storage)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// gatewayWatch wraps the emulator to count gateway requests in flight and
// started, and signals every change (for waits on "a call is stuck in the
// injected latency").
type gatewayWatch struct {
	next     http.Handler
	mu       sync.Mutex
	inFlight int
	started  int
	changed  proctest.Signal
	slow     []string // gateway requests that took longer than slowCall
}

// slowCall marks a gateway request the client most likely gave up on.
const slowCall = 25 * time.Second

func (g *gatewayWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gateway := strings.HasPrefix(r.URL.Path, "/api-gateway/")
	if gateway {
		g.bump(1, 1)
		defer g.bump(-1, 0)
		start := time.Now()
		defer func() {
			if took := time.Since(start); took >= slowCall {
				g.mu.Lock()
				g.slow = append(g.slow, fmt.Sprintf("%s %s (%s, client gone: %v)", r.Method, r.URL.Path[strings.LastIndex(strings.TrimSuffix(r.URL.Path, "/"), "/"):], took.Round(time.Second), r.Context().Err() != nil))
				g.mu.Unlock()
			}
		}()
	}
	g.next.ServeHTTP(w, r)
}

func (g *gatewayWatch) bump(inFlight, started int) {
	g.mu.Lock()
	g.inFlight += inFlight
	g.started += started
	g.mu.Unlock()
	g.changed.Notify()
}

// waitFor blocks until cond(inFlight, started) holds or ctx ends.
func (g *gatewayWatch) waitFor(ctx context.Context, cond func(inFlight, started int) bool) error {
	return g.changed.Wait(ctx, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return cond(g.inFlight, g.started)
	})
}

// startDaemon runs `seaflow run --config cfg [--data-dir dir]` and waits for
// its "seaflow running" line, which carries the listen address.
func startDaemon(t *testing.T, name, cfg, dataDir string) *proctest.Daemon {
	t.Helper()
	d, err := tryStartDaemon(t, name, cfg, dataDir)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, d.Log.String())
	}
	return d
}

// tryStartDaemon is startDaemon returning the error of a daemon that did
// not come up (the process is stopped then).
func tryStartDaemon(t *testing.T, name, cfg, dataDir string) (*proctest.Daemon, error) {
	t.Helper()
	args := []string{"run", "--config", cfg, "--log-level", "debug"}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	d, err := proctest.Start(t, proctest.Options{Name: name, Bin: bins.Seaflow, Args: args, Env: []string{"NO_COLOR=1"}})
	if err != nil {
		return d, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupWait)
	defer cancel()
	if err := d.WaitRunning(ctx); err != nil {
		d.Kill()
		return d, err
	}
	return d, nil
}

// load is N webhook events with detectable keys: event i appends a Log row
// with Key k_i and sets Seen = k_i on the seeded Items row i.
type load struct {
	e    *env
	tag  string
	keys []string

	mu       sync.Mutex
	accepted []bool
	answers  map[int]int // HTTP status → count (0 = transport error)
	nAcc     int
	changed  proctest.Signal
	bodies   []string // non-202 answer bodies, a few
	// stillQueued is how many missing ops a test verified are still queued
	// in the spine (not lost, not yet applied).
	stillQueued int
}

func newLoad(e *env, tag string) *load {
	l := &load{e: e, tag: tag, accepted: make([]bool, len(e.items)), answers: map[int]int{}}
	for i := range e.items {
		l.keys = append(l.keys, fmt.Sprintf("%s-%05d", tag, i))
	}
	return l
}

// post sends event i once to the daemon at url and returns the status (0 on
// a transport error).
func (l *load) post(ctx context.Context, url string, i int) int {
	body := fmt.Sprintf(`{"k":%q,"row":%q}`, l.keys[i], l.e.items[i])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+hookPath, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookToken)
	req.Header.Set("Idempotency-Key", l.keys[i])
	status := 0
	var answer []byte
	resp, err := httpClient.Do(req)
	if err == nil {
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		status = resp.StatusCode
	}
	l.mu.Lock()
	l.answers[status]++
	if stored(status) && !l.accepted[i] {
		l.accepted[i] = true
		l.nAcc++
	}
	if !stored(status) && len(l.bodies) < 5 {
		if err != nil {
			l.bodies = append(l.bodies, err.Error())
		} else {
			l.bodies = append(l.bodies, fmt.Sprintf("HTTP %d %s", status, bytes.TrimSpace(answer)))
		}
	}
	l.mu.Unlock()
	l.changed.Notify()
	return status
}

// stored reports whether a webhook answer says the event is stored: 202,
// or 200 for a duplicate of one stored before (its first answer was lost).
func stored(status int) bool {
	return status == http.StatusAccepted || status == http.StatusOK
}

// httpClient bounds every webhook post.
var httpClient = &http.Client{Timeout: 20 * time.Second}

// send posts the events idx at rate events per second (0 = as fast as the
// workers go) with 4 workers, event i to urls[i%len(urls)]. With retry, an
// event that is not answered as stored is posted again (to the next url, after a
// short backoff) until it is or ctx ends.
func (l *load) send(ctx context.Context, idx []int, urls func() []string, rate int, retry bool) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for attempt := 0; ; attempt++ {
					us := urls()
					if stored(l.post(ctx, us[(i+attempt)%len(us)], i)) || !retry || ctx.Err() != nil {
						break
					}
					select { // backoff between retries: pacing, not synchronisation
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	var tick <-chan time.Time
	if rate > 0 {
		tk := time.NewTicker(time.Second / time.Duration(rate))
		defer tk.Stop()
		tick = tk.C
	}
	for _, i := range idx {
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
}

// all returns 0..n-1.
func all(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// waitAccepted blocks until at least n events were answered as stored.
func (l *load) waitAccepted(ctx context.Context, n int) error {
	accepted := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.nAcc
	}
	if err := l.changed.Wait(ctx, func() bool { return accepted() >= n }); err != nil {
		return fmt.Errorf("%d events accepted, waiting for %d: %w", accepted(), n, err)
	}
	return nil
}

// tally is what the emulator's rows show about a load.
type tally struct {
	events, accepted         int
	opsAccepted, applied     int
	lost, duplicated         int
	appliedUnaccepted        int // ops of events never answered 202 that landed anyway
	lostKeys                 []string
	gatewayCalls, sent429    int
	sent5xx, tokenExchanges  int
	maxInWindow              []string
	windowExceeded           []string
	answers                  string
	rowsPerCallMean          float64
	appendCalls, updateCalls int
}

// count reads the emulator's tables and call log.
func (l *load) count() tally {
	e := l.e
	var tl tally
	logRows, err := e.emu.Rows(e.base.UUID, logTable)
	if err != nil {
		e.t.Fatalf("rows %s: %v", logTable, err)
	}
	itemRows, err := e.emu.Rows(e.base.UUID, itemsTable)
	if err != nil {
		e.t.Fatalf("rows %s: %v", itemsTable, err)
	}
	perKey := map[string]int{}
	for _, r := range logRows {
		if k, ok := r["Key"].(string); ok {
			perKey[k]++
		}
	}
	seen := map[string]string{}
	for _, r := range itemRows {
		s, _ := r["Seen"].(string)
		seen[r["_id"].(string)] = s
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tl.events = len(l.keys)
	for i, k := range l.keys {
		appended := perKey[k] > 0
		updated := seen[e.items[i]] == k
		if perKey[k] > 1 {
			tl.duplicated += perKey[k] - 1
		}
		if !l.accepted[i] {
			if appended {
				tl.appliedUnaccepted++
			}
			if updated {
				tl.appliedUnaccepted++
			}
			continue
		}
		tl.accepted++
		tl.opsAccepted += 2
		for _, ok := range []bool{appended, updated} {
			if ok {
				tl.applied++
			} else {
				tl.lost++
			}
		}
		if (!appended || !updated) && len(tl.lostKeys) < 10 {
			tl.lostKeys = append(tl.lostKeys, k)
		}
	}
	var ans []string
	for _, s := range []int{0, 202, 400, 500, 502, 503} {
		if n := l.answers[s]; n > 0 {
			ans = append(ans, fmt.Sprintf("%d:%d", s, n))
		}
	}
	for s, n := range l.answers {
		if s != 0 && s != 202 && s != 400 && s != 500 && s != 502 && s != 503 {
			ans = append(ans, fmt.Sprintf("%d:%d", s, n))
		}
	}
	tl.answers = strings.Join(ans, ",")
	st := e.emu.Stats()
	bs := st.Bases[baseName]
	tl.gatewayCalls, tl.sent429, tl.sent5xx, tl.tokenExchanges = bs.Calls, bs.Sent429, bs.Sent5xx, bs.TokenExchanges
	tl.appendCalls, tl.updateCalls = bs.ByEndpoint["POST /rows/"], bs.ByEndpoint["PUT /rows/"]
	if writes := tl.appendCalls + tl.updateCalls; writes > 0 {
		rows := 0
		for _, c := range st.CallLog {
			if c.Gateway && c.Status == http.StatusOK && (c.Endpoint == "/rows/" && (c.Method == http.MethodPost || c.Method == http.MethodPut)) {
				rows += c.Rows
			}
		}
		tl.rowsPerCallMean = float64(rows) / float64(writes)
	}
	for _, lim := range e.limits {
		m := e.emu.MaxInWindow(baseName, lim.Window)
		tl.maxInWindow = append(tl.maxInWindow, fmt.Sprintf("%s:%d/%d", shortDur(lim.Window), m, lim.Calls))
		if m > lim.Calls {
			tl.windowExceeded = append(tl.windowExceeded, fmt.Sprintf("%s window: %d calls > limit %d", shortDur(lim.Window), m, lim.Calls))
		}
	}
	return tl
}

// shortDur prints 10s, 1m, 24h.
func shortDur(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// complete reports whether every accepted event's two ops landed.
func (l *load) complete() bool {
	tl := l.countQuiet()
	return tl.lost == 0
}

// countQuiet is count without the call-log part, for waits.
func (l *load) countQuiet() tally {
	e := l.e
	logRows, err1 := e.emu.Rows(e.base.UUID, logTable)
	itemRows, err2 := e.emu.Rows(e.base.UUID, itemsTable)
	if err1 != nil || err2 != nil {
		return tally{lost: -1}
	}
	keys := make(map[string]bool, len(logRows))
	for _, r := range logRows {
		if k, ok := r["Key"].(string); ok {
			keys[k] = true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var tl tally
	for i, r := range itemRows {
		if i >= len(l.keys) || !l.accepted[i] {
			continue
		}
		if !keys[l.keys[i]] {
			tl.lost++
		}
		if s, _ := r["Seen"].(string); s != l.keys[i] {
			tl.lost++
		}
	}
	return tl
}

// missingKeys lists the keys of accepted events with an op not applied.
func (l *load) missingKeys() []string {
	e := l.e
	logRows, _ := e.emu.Rows(e.base.UUID, logTable)
	itemRows, _ := e.emu.Rows(e.base.UUID, itemsTable)
	keys := map[string]bool{}
	for _, r := range logRows {
		if k, ok := r["Key"].(string); ok {
			keys[k] = true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, r := range itemRows {
		if i >= len(l.keys) || !l.accepted[i] {
			continue
		}
		if s, _ := r["Seen"].(string); !keys[l.keys[i]] || s != l.keys[i] {
			out = append(out, l.keys[i])
		}
	}
	return out
}

// waitApplied waits on the emulator's signal until every accepted event's
// ops landed, or d passes.
func (l *load) waitApplied(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := l.e.emu.WaitFor(ctx, l.complete)
	if err != nil {
		return fmt.Errorf("not every accepted op landed within %s (%d missing): %w", d, l.countQuiet().lost, err)
	}
	return nil
}

// report logs the fixed-format RESULT line and fails on loss or an
// exceeded window.
func (l *load) report(t *testing.T, scenario, faults string) tally {
	t.Helper()
	tl := l.count()
	missing := tl.lost
	tl.lost -= l.stillQueued
	t.Logf("RESULT scenario=%s events=%d accepted=%d ops_accepted=%d applied=%d still_queued=%d lost=%d duplicated=%d applied_unaccepted=%d answers=%s gateway_calls=%d append_calls=%d update_calls=%d rows_per_write_call=%.1f max_in_window=%s sent_429=%d sent_5xx=%d token_exchanges=%d faults=%q",
		scenario, tl.events, tl.accepted, tl.opsAccepted, tl.applied, missing-tl.lost, tl.lost, tl.duplicated, tl.appliedUnaccepted, tl.answers,
		tl.gatewayCalls, tl.appendCalls, tl.updateCalls, tl.rowsPerCallMean, strings.Join(tl.maxInWindow, ","), tl.sent429, tl.sent5xx, tl.tokenExchanges, faults)
	if tl.lost > 0 {
		t.Errorf("%s: %d accepted ops lost (keys %v)", scenario, tl.lost, tl.lostKeys)
	}
	if len(tl.windowExceeded) > 0 {
		t.Errorf("%s: base limits exceeded: %v", scenario, tl.windowExceeded)
		st := l.e.emu.Stats()
		for _, lim := range l.e.limits {
			if l.e.emu.MaxInWindow(baseName, lim.Window) > lim.Calls {
				t.Logf("densest %s window of the call log:\n%s", shortDur(lim.Window), densestWindow(st, lim.Window))
			}
		}
	}
	return tl
}

// dumpLogs logs the daemons' stderr when the test failed.
func dumpLogs(t *testing.T, ds ...*proctest.Daemon) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for _, d := range ds {
		if d == nil {
			continue
		}
		var keep []string
		for _, line := range strings.Split(d.Log.String(), "\n") {
			if !strings.Contains(line, "webhook event accepted") {
				keep = append(keep, line)
			}
		}
		s := strings.Join(keep, "\n")
		if len(s) > 20000 {
			s = "…" + s[len(s)-20000:]
		}
		t.Logf("%s logs (tail):\n%s", d.Name, s)
	}
}

// checkCleanExit stops d with SIGTERM and fails the test unless it exits
// 0 within stopWait.
func checkCleanExit(t *testing.T, d *proctest.Daemon) {
	t.Helper()
	if err := d.Stop(stopWait); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Errorf("%s: exit status after SIGTERM: %v\n%s", d.Name, err, proctest.LastLines(errorLines(d.Log.String()), 5))
			return
		}
		t.Errorf("%s: %v", d.Name, err)
	}
}

// densestWindow lists the gateway calls of the window of length w that
// holds the most calls, with their offsets from its first call.
func densestWindow(st emulator.Stats, w time.Duration) string {
	var calls []emulator.CallRecord
	for _, c := range st.CallLog {
		if c.Gateway {
			calls = append(calls, c)
		}
	}
	best, bestN := 0, 0
	for i := range calls {
		n := 0
		for j := i; j < len(calls) && calls[j].Time.Sub(calls[i].Time) < w; j++ {
			n++
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	var b strings.Builder
	for j := best; j < best+bestN; j++ {
		c := calls[j]
		fmt.Fprintf(&b, "  +%-8s %s %s %d rows=%d\n", c.Time.Sub(calls[best].Time).Round(time.Millisecond), c.Method, c.Endpoint, c.Status, c.Rows)
	}
	if best+bestN < len(calls) {
		c := calls[best+bestN]
		fmt.Fprintf(&b, "  next call +%s\n", c.Time.Sub(calls[best].Time).Round(time.Millisecond))
	}
	return b.String()
}

// slowCalls returns the gateway requests that took longer than slowCall.
func (g *gatewayWatch) slowCalls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.slow...)
}
