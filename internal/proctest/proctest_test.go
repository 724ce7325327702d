package proctest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// guard bounds every wait of these tests; each ends on a signal first.
const guard = 20 * time.Second

func TestWarnings(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{
		`{"level":"info","message":"seaflow running"}`,
		`{"level":"warn","message":"loop guard stopped rule r"}`,
		`{"level":"error","message":"dispatch failed"}`,
		`not json {"level":"warn"}`,
		`{"level":"warn","message":"status: budget usage"}`,
	}, "\n")
	if got := Warnings(log, []string{"loop guard"}, 0); len(got) != 2 || !strings.Contains(got[0], "dispatch failed") {
		t.Errorf("Warnings = %q", got)
	}
	if got := Warnings(log, nil, 1); len(got) != 1 {
		t.Errorf("Warnings with max 1 = %q", got)
	}
	if got := LastLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("LastLines = %q", got)
	}
}

func TestDaemon(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "out.log")
	script := `echo '{"level":"info","listen":"127.0.0.1:4711","message":"seaflow running"}'; echo "$GREETING" >&2; exec tail -f /dev/null`
	d, err := Start(t, Options{Name: "sh", Bin: "/bin/sh", Args: []string{"-c", script}, Env: []string{"GREETING=hello"}, LogFile: logFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := d.WaitRunning(ctx); err != nil {
		t.Fatal(err)
	}
	if d.URL() != "http://127.0.0.1:4711" {
		t.Errorf("URL = %q", d.URL())
	}
	if err := d.Log.WaitFor(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if !d.Running() || d.Err() != nil {
		t.Fatalf("running %v, err %v", d.Running(), d.Err())
	}
	err = d.Stop(guard)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || d.Running() {
		t.Errorf("Stop = %v (running %v), want the SIGTERM exit status", err, d.Running())
	}
	d.Kill() // a no-op once exited

	t.Run("exits before ready", func(t *testing.T) {
		t.Parallel()
		d, err := Start(t, Options{Bin: "/bin/sh", Args: []string{"-c", "echo bye; exit 3"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := d.WaitRunning(ctx); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
			t.Errorf("WaitRunning = %v", err)
		}
		if err := d.WaitReady(ctx, "http://"+FreeAddr(t)); err == nil {
			t.Error("WaitReady of an exited process returned nil")
		}
		if !strings.Contains(d.Log.String(), "bye") {
			t.Errorf("log = %q", d.Log.String())
		}
	})
}

func TestJetStreamNodeRestartsOnItsPort(t *testing.T) {
	t.Parallel()
	n := StartJetStream(t)
	url := n.URL()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := WaitJetStream(ctx, url); err != nil {
		t.Fatal(err)
	}
	n.Stop()
	if n.Running() {
		t.Fatal("running after Stop")
	}
	if err := StartNodes(n); err != nil {
		t.Fatal(err)
	}
	if n.URL() != url {
		t.Errorf("restarted on %s, was %s", n.URL(), url)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync("a.b"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitInterest(ctx, "a.b"); err != nil {
		t.Fatal(err)
	}
}

// TestStatusKB reads this process's resident set, which is never zero, and
// refuses a field the kernel does not write.
func TestStatusKB(t *testing.T) {
	t.Parallel()
	if kb, err := StatusKB(os.Getpid(), "VmRSS"); err != nil || kb <= 0 {
		t.Errorf("StatusKB(VmRSS) = %v, %v; want a positive size", kb, err)
	}
	if _, err := StatusKB(os.Getpid(), "NoSuchField"); err == nil {
		t.Error("StatusKB(NoSuchField): no error")
	}
}
