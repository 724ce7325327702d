package bench

import (
	"bufio"
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
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow/internal/proctest"
)

// TestManyBases (issue 13 item 7) runs one seaflow daemon, a separate
// process, with SEAFLOW_BENCH_BASES emulator bases (default 1,000; one
// in-process emulator serves them all from one fixture), each with its own
// signed webhook and a rule that appends a row. It sends
// SEAFLOW_BENCH_EVENTS webhooks per base (default 3, spread over every
// base; SEAFLOW_BENCH_RATE paces them, per second), waits until every
// append has landed, then reads the daemon's CPU time (/proc/PID/stat) and
// RSS (/proc/PID/status) over an idle SEAFLOW_BENCH_IDLE (default 60s),
// and its goroutines and Go memory from its profiles. Nothing is asserted:
// the figures are logged, and recorded in bench/README.md. It runs only
// with SEAFLOW_BENCH_MANYBASES=1 (SEAFLOW_BENCH_HEAPPROF=FILE saves the
// daemon's heap profile at the end):
//
//	SEAFLOW_BENCH_MANYBASES=1 go test -run TestManyBases -v -timeout 20m ./bench/
func TestManyBases(t *testing.T) {
	if os.Getenv("SEAFLOW_BENCH_MANYBASES") != "1" {
		t.Skip("set SEAFLOW_BENCH_MANYBASES=1 to run the many-bases scenario")
	}
	nBases := envInt(t, "SEAFLOW_BENCH_BASES", 1000)
	perBase := envInt(t, "SEAFLOW_BENCH_EVENTS", 3)
	// rate, when set, paces the webhooks (per second, over every base);
	// unset, they go as fast as one client sends them.
	rate := envInt(t, "SEAFLOW_BENCH_RATE", 0)
	idle := envDuration(t, "SEAFLOW_BENCH_IDLE", time.Minute)

	bins, err := proctest.BuildSeaflow("manybases")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bins.Remove() })
	dir := t.TempDir()
	const secret = "many-bases-webhook-secret"
	writeManyBases(t, dir, nBases, secret)

	debugAddr := freeLoopback(t)
	t.Logf("daemon profiles on http://%s/debug/pprof/", debugAddr)
	d, err := proctest.Start(t, proctest.Options{
		Name: "seaflow", Bin: bins.Seaflow, Dir: dir,
		Args: []string{"run", "--config", "seaflow.yaml", "--listen", "127.0.0.1:0"},
		// The daemon's profiles, to say where its memory is.
		Env: []string{"SEAFLOW_DEBUG_LISTEN=" + debugAddr},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	started := time.Now()
	if err := d.WaitRunning(ctx); err != nil {
		t.Fatalf("%v\n%s", err, d.Log)
	}
	if err := d.WaitReady(ctx, d.URL()); err != nil {
		t.Fatalf("%v\n%s", err, d.Log)
	}
	pid := d.Pid()
	t.Logf("daemon ready with %d bases in %s; RSS %.1f MB", nBases, time.Since(started).Round(time.Millisecond), rssMB(t, pid, "VmRSS"))

	// The starting idle: nothing queued yet.
	settle(ctx)
	startIdle := measureIdle(t, ctx, pid, min(idle, 20*time.Second))
	t.Logf("idle before traffic: %s; %s", startIdle, runtimeFigures(t, debugAddr))

	// Light traffic: perBase events per base, round robin over the bases.
	cpu0 := cpuTime(t, pid)
	t0 := time.Now()
	client := &http.Client{Timeout: 30 * time.Second}
	sent := 0
	for n := range perBase {
		for i := range nBases {
			body := manyBasesEvent(i, n)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/hooks/b%04d", d.URL(), i), bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(body)
			req.Header.Set("X-SeaTable-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("webhook b%04d: %v", i, err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("webhook b%04d: HTTP %d %s", i, resp.StatusCode, msg)
			}
			sent++
			if rate > 0 {
				pace(ctx, t0, sent, rate)
			}
		}
	}
	// Every event appends one row: wait until the rows are written (the
	// daemon is another process: its metrics are polled).
	want := float64(sent)
	var m map[string]float64
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer wcancel()
	err = proctest.Poll(wctx, 500*time.Millisecond, func() bool {
		m = scrape(t, d.URL())
		return m["seaflow_api_rows_per_call_sum"] >= want
	})
	if err != nil {
		t.Fatalf("rows written: %v of %v: %v\nmetrics: %v\n%s", m["seaflow_api_rows_per_call_sum"], want, err, m, d.Log)
	}
	traffic := time.Since(t0)
	trafficCPU := cpuTime(t, pid) - cpu0
	t.Logf("traffic: %d webhooks over %d bases, every row written in %s; CPU %.1f%% of a core; RSS %.1f MB",
		sent, nBases, traffic.Round(time.Millisecond), 100*trafficCPU.Seconds()/traffic.Seconds(), rssMB(t, pid, "VmRSS"))

	settle(ctx)
	after := measureIdle(t, ctx, pid, idle)
	m = scrape(t, d.URL())
	t.Logf("idle after traffic: %s; %s", after, runtimeFigures(t, debugAddr))
	if p := os.Getenv("SEAFLOW_BENCH_HEAPPROF"); p != "" {
		saveProfile(t, debugAddr, "/debug/pprof/heap", p)
	}
	t.Logf("peak RSS (VmHWM) %.1f MB; SeaTable calls %v, 429s %v, rows written %v, dead letters %v",
		rssMB(t, pid, "VmHWM"), m["seaflow_api_calls_total"], m["seaflow_api_429_total"], m["seaflow_api_rows_per_call_sum"], m["seaflow_dead_letters_total"])
	t.Logf("machine: %s", machine())
	if err := d.Stop(30 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// pace waits until sent webhooks are due at rate per second since start.
func pace(ctx context.Context, start time.Time, sent, rate int) {
	due := start.Add(time.Duration(sent) * time.Second / time.Duration(rate))
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(due)):
	}
}

// freeLoopback returns a loopback address with a port free a moment ago.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runtimeFigures reads the daemon's goroutine count and Go memory figures
// from its profiles at addr (SEAFLOW_DEBUG_LISTEN).
func runtimeFigures(t *testing.T, addr string) string {
	t.Helper()
	get := func(path string) string {
		b, err := profile(addr, path)
		if err != nil {
			t.Logf("profiles: %v", err)
		}
		return string(b)
	}
	goroutines, _, _ := strings.Cut(get("/debug/pprof/goroutine?debug=1"), "\n")
	mem := map[string]float64{}
	for _, line := range strings.Split(get("/debug/pprof/heap?debug=1"), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = "); ok {
			f, _, _ := strings.Cut(v, " ")
			mem[k], _ = strconv.ParseFloat(f, 64)
		}
	}
	return fmt.Sprintf("%s, heap in use %.1f MB (live %.1f MB), stacks %.1f MB, released %.1f MB",
		strings.TrimPrefix(goroutines, "goroutine profile: "), mem["HeapInuse"]/1e6, mem["HeapAlloc"]/1e6, mem["Stack"]/1e6, mem["HeapReleased"]/1e6)
}

// saveProfile writes the daemon's profile at path (of its debug listener
// addr) to file.
func saveProfile(t *testing.T, addr, path, file string) {
	t.Helper()
	b, err := profile(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// profile reads path from the daemon's debug listener at addr.
func profile(addr, path string) ([]byte, error) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return b, nil
}

// idleFigures are the CPU and memory of an idle interval.
type idleFigures struct {
	Over    time.Duration
	CPU     time.Duration // user + system
	RSSMB   float64       // at the end
	CorePct float64       // CPU / Over, in % of one core
}

func (f idleFigures) String() string {
	return fmt.Sprintf("%.1f%% of a core (%s CPU over %s), RSS %.1f MB", f.CorePct, f.CPU, f.Over.Round(time.Millisecond), f.RSSMB)
}

// settle waits a few seconds so that the lingers and pacing of the work
// just done are past before an idle reading starts.
func settle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

func measureIdle(t *testing.T, ctx context.Context, pid int, over time.Duration) idleFigures {
	t.Helper()
	c0, w0 := cpuTime(t, pid), time.Now()
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(over):
	}
	f := idleFigures{CPU: cpuTime(t, pid) - c0, Over: time.Since(w0), RSSMB: rssMB(t, pid, "VmRSS")}
	f.CorePct = 100 * f.CPU.Seconds() / f.Over.Seconds()
	return f
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuTime is the user plus system CPU time of process pid.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read stat: %v", err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse stat %q: %v %v", b, err1, err2)
	}
	return time.Duration(ut+st) * time.Second / clockTicks
}

// rssMB reads a VmRSS-like line (in kB) of /proc/PID/status, in MB.
func rssMB(t *testing.T, pid int, key string) float64 {
	t.Helper()
	kb, err := proctest.StatusKB(pid, key)
	if err != nil {
		t.Fatal(err)
	}
	return kb / 1024
}

// scrape sums every metric family of GET /metrics over its labels.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			name = line[:i]
			rest = line[strings.LastIndexByte(line, '}')+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[name] += v
		}
	}
	return out
}

// writeManyBases writes fixture.yaml (n bases, one emulator) and
// seaflow.yaml (per base: an emulator base, a signed webhook, a rule that
// appends one row per event) into dir.
func writeManyBases(t *testing.T, dir string, n int, secret string) {
	t.Helper()
	var fx, cfg strings.Builder
	fx.WriteString("plan: legacy\nbases:\n")
	for i := range n {
		fmt.Fprintf(&fx, "  - name: b%04d\n    uuid: %s\n    api_token: \"%040x\"\n", i, manyBasesUUID(i), i+1)
		fx.WriteString("    tables:\n      - name: Log\n        columns:\n          - { name: Note, type: text }\n")
	}
	fmt.Fprintf(&cfg, "server: { auth: none }\nstorage: { dir: %s }\nbases:\n", filepath.Join(dir, "data"))
	for i := range n {
		fmt.Fprintf(&cfg, "  b%04d: { url: emulator, fixture: fixture.yaml }\n", i)
	}
	cfg.WriteString("webhooks:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - { name: h%04d, path: /hooks/b%04d, seatable: { base: b%04d, secret: %q } }\n", i, i, i, secret)
	}
	cfg.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - name: log-%04d\n    on: { webhook: h%04d }\n    do:\n      - append: { base: b%04d, table: Log, values: { Note: \"=event.row_id\" } }\n", i, i, i)
	}
	for name, s := range map[string]string{"fixture.yaml": fx.String(), "seaflow.yaml": cfg.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func manyBasesUUID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1) }

// manyBasesEvent is the n-th webhook body of base i: a modify_row event.
func manyBasesEvent(i, n int) []byte {
	b, _ := json.Marshal(map[string]any{
		"event": "update",
		"data": map[string]any{
			"dtable_uuid": strings.ReplaceAll(manyBasesUUID(i), "-", ""),
			"row_id":      fmt.Sprintf("row%d", n),
			"op_user":     "bench@auth.local",
			"op_type":     "modify_row",
			"op_time":     float64(time.Now().UnixMilli())/1000 + float64(n)/1e3,
			"table_id":    "0000",
			"table_name":  "Log",
			"row_name":    fmt.Sprintf("event %d", n),
			"row_data":    []any{},
		},
	})
	return b
}

func envInt(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", key, v)
	}
	return n
}

func envDuration(t *testing.T, key string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", key, v)
	}
	return d
}

// machine names the OS, architecture and CPU count the figures come from.
func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs (shared with other work)", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}
