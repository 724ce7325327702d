package reliability

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/seaflow/seaflow/internal/proctest"
)

// bins holds the daemon binary built once by TestMain.
var bins *proctest.Binaries

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
	var err error
	if bins, err = proctest.BuildSeaflow("reliability"); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	defer bins.Remove()
	return m.Run()
}

// skipShort skips a scenario under -short: every scenario runs daemons.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("reliability scenarios run daemons; skipped with -short")
	}
}
