package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seaflow/seaflow/internal/proctest"
)

const diskEvents = 150

// mountTmpfs mounts a tmpfs of size at dir (we run as root in CI); it
// skips the test when that is impossible.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("the disk-full scenario needs a small filesystem: mount -t tmpfs -o size=%s tmpfs %s failed (%v: %s); run as root with CAP_SYS_ADMIN", size, dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", dir, err, out)
		}
	})
}

// fillDisk writes zeros into path until the filesystem is full and
// returns how many bytes it wrote.
func fillDisk(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	// The last few bytes: small writes until not even one fits.
	for {
		w, err := f.Write(buf[:512])
		n += int64(w)
		if err != nil {
			break
		}
	}
	return n
}

// TestDataDiskFull: the embedded daemon's data directory is on an 8 MiB
// tmpfs. A third of the load is accepted, then the filesystem is filled
// while the daemon runs: webhooks must then be refused with a 5xx and a
// JSON error (never a 202 for an event that was not stored), and the daemon
// must log a clear error. Then the space is freed: the refused events are
// sent again with the rest, every accepted event is applied, and a restart
// on the same directory works (the stream is not corrupt).
func TestDataDiskFull(t *testing.T) {
	skipShort(t)
	t.Parallel()
	mnt := filepath.Join(t.TempDir(), "mnt")
	mountTmpfs(t, mnt, "8m")
	dataDir := filepath.Join(mnt, "data")
	e := newEnv(t, diskEvents, seedLimits)
	cfg := e.writeConfig(fmt.Sprintf("{ dir: %q }", dataDir))
	first := startDaemon(t, "seaflow", cfg, "")
	d := first
	var restarted, again *proctest.Daemon
	defer func() { dumpLogs(t, first, restarted, again) }()
	l := newLoad(e, "s6")
	urls := func() []string { return []string{d.URL()} }

	third := diskEvents / 3
	ctx1, cancel1 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel1()
	l.send(ctx1, all(diskEvents)[:third], urls, faultRate, true)
	if err := l.waitAccepted(ctx1, third); err != nil {
		t.Fatal(err)
	}

	// Fill the disk under the running daemon, then send the second third
	// once each, all at once, with a client patient enough to see what the
	// daemon answers (its HTTP write timeout is 30 s).
	filler := filepath.Join(mnt, "filler")
	filled := fillDisk(t, filler)
	patient := &http.Client{Timeout: 45 * time.Second}
	type answer struct {
		status int
		body   string
		took   time.Duration
	}
	answers := make([]answer, third)
	var wg sync.WaitGroup
	for k := range third {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			body, status := postRaw(context.Background(), patient, d.URL(), l, third+k)
			answers[k] = answer{status, body, time.Since(start).Round(100 * time.Millisecond)}
			if status == http.StatusAccepted {
				l.markAccepted(third + k)
			}
		}()
	}
	wg.Wait()
	var refused []int
	var bad []string
	var slowest time.Duration
	for k, a := range answers {
		slowest = max(slowest, a.took)
		if a.status == http.StatusAccepted {
			continue
		}
		refused = append(refused, third+k)
		var m map[string]any
		if a.status < 500 || json.Unmarshal([]byte(a.body), &m) != nil || m["error"] == nil {
			bad = append(bad, fmt.Sprintf("HTTP %d %q after %s", a.status, a.body, a.took))
		}
	}
	accFull := third - len(refused)
	if len(bad) > 0 {
		t.Errorf("refusals on a full disk must be 5xx with a JSON error; %d of %d were not, e.g. %s", len(bad), len(refused), bad[0])
	}
	if len(refused) == 0 {
		t.Errorf("the disk is full (filler %d bytes) but every webhook was answered 202", filled)
	}
	fullLog := errorLines(first.Log.String())
	t.Logf("DISKFULL filler_bytes=%d sent_while_full=%d accepted_while_full=%d refused=%d bad_refusals=%d slowest_answer=%s", filled, third, accFull, len(refused), len(bad), slowest)
	t.Logf("DISKFULL daemon error lines (last 4):\n%s", proctest.LastLines(fullLog, 4))
	low := strings.ToLower(fullLog)
	if !strings.Contains(low, "no space") && !strings.Contains(low, "insufficient") {
		t.Errorf("the daemon logged no clear error about the full disk; error lines:\n%s", fullLog)
	}

	// Free the space: does intake come back by itself?
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	rest := append(refused, all(diskEvents)[2*third:]...)
	resumed := false
	probeEnd := time.Now().Add(40 * time.Second)
	for attempt := 0; first.Running() && time.Now().Before(probeEnd) && !resumed; attempt++ {
		pctx, pcancel := context.WithDeadline(context.Background(), probeEnd)
		body, status := postRaw(pctx, patient, d.URL(), l, rest[0])
		pcancel()
		t.Logf("DISKFULL probe after freeing: HTTP %d %q", status, body)
		if status == http.StatusAccepted {
			l.markAccepted(rest[0])
			resumed = true
		}
		if status == 0 && strings.Contains(body, "connection refused") {
			break // intake closed: the daemon is stopping
		}
	}
	// Either intake came back by itself, or the daemon stopped cleanly once
	// space was free (nats-server refuses writes to a stream after a
	// critical write error until it restarts), saying so, for its
	// supervisor to restart it.
	if !resumed && first.Running() {
		select {
		case <-first.Done():
		case <-time.After(30 * time.Second):
		}
	}
	stoppedItself := !resumed && !first.Running()
	t.Logf("DISKFULL resumed_without_restart=%v stopped_itself=%v exit=%v", resumed, stoppedItself, first.Err())
	switch {
	case resumed:
	case stoppedItself:
		if !strings.Contains(first.Log.String(), "restart seaflow") {
			t.Errorf("the daemon stopped after the full disk without saying it needs a restart:\n%s", proctest.LastLines(first.Log.String(), 5))
		}
		restarted = startDaemon(t, "seaflow-restarted", cfg, "")
		d = restarted
	default:
		t.Errorf("after the space was freed the daemon neither accepted events again nor stopped within 70 s (alive=%v)", first.Running())
		checkCleanExit(t, first)
		restarted = startDaemon(t, "seaflow-restarted", cfg, "")
		d = restarted
	}
	ctx3, cancel3 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel3()
	l.send(ctx3, rest, urls, faultRate, true)
	if err := l.waitApplied(2 * time.Minute); err != nil {
		t.Error(err)
	}
	// A clean stop and a restart on the same directory: the store is intact.
	checkCleanExit(t, d)
	var err error
	again, err = tryStartDaemon(t, "seaflow-after", cfg, "")
	if err != nil {
		t.Fatalf("restart on the same data dir after the disk was full: %v\n%s", err, proctest.LastLines(again.Log.String(), 5))
	}
	if bad := errorLines(again.Log.String()); bad != "" {
		t.Errorf("the restart after the full disk logged errors:\n%s", bad)
	}
	checkCleanExit(t, again)
	l.report(t, "disk-full", fmt.Sprintf("embedded, data dir on an 8 MiB tmpfs filled (%d bytes) after 1/3 of the events; 1/3 sent once while full; then freed", filled))
}

// postRaw posts event i once and returns the answer body and status.
func postRaw(ctx context.Context, client *http.Client, url string, l *load, i int) (string, int) {
	body := fmt.Sprintf(`{"k":%q,"row":%q}`, l.keys[i], l.e.items[i])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+hookPath, strings.NewReader(body))
	if err != nil {
		return err.Error(), 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookToken)
	req.Header.Set("Idempotency-Key", l.keys[i])
	resp, err := client.Do(req)
	if err != nil {
		l.record(0)
		return err.Error(), 0
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	l.record(resp.StatusCode)
	return strings.TrimSpace(b.String()), resp.StatusCode
}

// record counts one answer.
func (l *load) record(status int) {
	l.mu.Lock()
	l.answers[status]++
	l.mu.Unlock()
}

// markAccepted records event i as answered 202.
func (l *load) markAccepted(i int) {
	l.mu.Lock()
	if !l.accepted[i] {
		l.accepted[i] = true
		l.nAcc++
	}
	l.mu.Unlock()
	l.changed.Notify()
}

// errorLines returns the daemon's log lines at level warn or error.
func errorLines(logs string) string {
	return strings.Join(proctest.Warnings(logs, nil, 0), "\n")
}
