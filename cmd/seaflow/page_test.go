package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// shiftedClock is the wall clock moved forward by an offset the test can
// jump, so a short run spreads its calls over a virtual day while timers
// still fire in real time. (Not clocktest.Clock: the whole daemon runs on
// it for a real-time test, and a fake's timers would wait for a driver.)
type shiftedClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *shiftedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *shiftedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *shiftedClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// TestStatusPageScreenshot runs the daemon against the emulator over a
// virtual day (calls in every hour, more in office hours), then renders
// the real status page in headless Chromium: the screenshot is a test
// artifact ($SEAFLOW_ARTIFACTS, default a temp dir) and the rendered DOM
// must show the base, its windows and the call chart.
func TestStatusPageScreenshot(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("status page screenshot: /usr/bin/chromium is not installed (apt-get install chromium); skipping")
	}
	clock := &shiftedClock{offset: -24 * time.Hour}
	_, b := startTestDaemonWith(t, daemonConfig, daemonOptions{Clock: clock})
	id := b.firstRowID(t)
	calls := 0
	for hour := 0; hour < 24; hour++ {
		n := 1
		if hour >= 8 && hour <= 17 {
			n = 2 + hour%4
		}
		for i := 0; i < n; i++ {
			note := "h" + string(rune('a'+hour)) + string(rune('a'+i))
			if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"`+note+`"}`); code != http.StatusAccepted {
				t.Fatalf("HTTP %d", code)
			}
			b.waitForCell(t, "Deals", "Note", note)
			calls++
		}
		clock.jump(time.Hour)
	}

	dir := os.Getenv("SEAFLOW_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-page.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--window-size=1280,1300"}
	if out, err := exec.CommandContext(ctx, chromium, append(args, "--screenshot="+shot, b.url+"/")...).CombinedOutput(); err != nil {
		t.Fatalf("chromium screenshot: %v\n%s", err, out)
	}
	dom, err := exec.CommandContext(ctx, chromium, append(args, "--dump-dom", b.url+"/")...).Output()
	if err != nil {
		t.Fatalf("chromium dump-dom: %v", err)
	}
	for _, want := range []string{"crm", "24h", "1m", "urgent", "<svg", "Budget by rule", ">note<", "No failures"} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s missing or empty: %v", shot, err)
	}
	t.Logf("status page screenshot after %d calls over a virtual day: %s", calls, shot)
}
