package reliability

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// seaflowBin is the daemon binary built once by TestMain.
var seaflowBin string

// longRuns enables the slow variants (SEAFLOW_RELIABILITY_LONG=1).
var longRuns = os.Getenv("SEAFLOW_RELIABILITY_LONG") == "1"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every scenario skips itself; no binary needed
	}
	// The scenarios mostly wait (freezes, timeouts, ack waits), so they
	// run side by side even on 2 cores unless -parallel says otherwise.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "8")
	}
	dir, err := os.MkdirTemp("", "seaflow-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	seaflowBin = filepath.Join(dir, "seaflow")
	build := exec.Command("go", "build", "-o", seaflowBin, "./cmd/seaflow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: go build ./cmd/seaflow: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// moduleRoot is the directory of the go.mod of this module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(bytes.TrimSpace(out)))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// skipShort skips a scenario under -short: every scenario runs daemons.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("reliability scenarios run daemons; skipped with -short")
	}
}
