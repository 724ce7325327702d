package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seaflow/seaflow/rules"
)

func TestMemoryLimitComesFromConfigThenEnvironmentThenContainer(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	withEnv := func(k string) (string, bool) { return "300MiB", k == "GOMEMLIMIT" }
	container := func() (int64, bool) { return 1 << 30, true }
	none := func() (int64, bool) { return 0, false }
	for _, tc := range []struct {
		name      string
		cfg       rules.ProcessConfig
		env       func(string) (string, bool)
		container func() (int64, bool)
		want      memoryLimitChoice
	}{
		{"config", rules.ProcessConfig{MemoryLimit: 512 << 20}, withEnv, container, memoryLimitChoice{512 << 20, "config"}},
		{"off", rules.ProcessConfig{MemoryLimit: rules.MemoryLimitOff}, withEnv, container, memoryLimitChoice{math.MaxInt64, "config"}},
		{"container", rules.ProcessConfig{}, noEnv, container, memoryLimitChoice{966367641, "container"}},
		{"default", rules.ProcessConfig{}, noEnv, none, memoryLimitChoice{defaultMemoryLimit, "default"}},
	} {
		if got := chooseMemoryLimit(tc.cfg, tc.env, tc.container); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// GOMEMLIMIT was applied by the runtime at start: the choice is what
	// the runtime holds, and it is left as it is.
	if got := chooseMemoryLimit(rules.ProcessConfig{}, withEnv, container); got.From != "GOMEMLIMIT" {
		t.Errorf("with GOMEMLIMIT set: %+v", got)
	}
}

func TestCgroupMemoryLimitIsTheTightestOfTheGroupAndItsParents(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := cgroupMemoryLimit(root); ok {
		t.Error("a limit without /proc/self/cgroup")
	}
	write("proc/self/cgroup", "0::/system.slice/seaflow.service\n")
	write("sys/fs/cgroup/memory.max", "max\n")
	write("sys/fs/cgroup/system.slice/seaflow.service/memory.max", "max\n")
	if _, ok := cgroupMemoryLimit(root); ok {
		t.Error("a limit where every memory.max is max")
	}
	write("sys/fs/cgroup/system.slice/memory.max", "536870912\n")
	if got, ok := cgroupMemoryLimit(root); !ok || got != 512<<20 {
		t.Errorf("parent's limit: %d, %v", got, ok)
	}
	write("sys/fs/cgroup/system.slice/seaflow.service/memory.max", "268435456\n")
	if got, ok := cgroupMemoryLimit(root); !ok || got != 256<<20 {
		t.Errorf("the service's own, tighter limit: %d, %v", got, ok)
	}
	// A container's own namespace: the group is the root.
	write("proc/self/cgroup", "0::/\n")
	write("sys/fs/cgroup/memory.max", "1073741824\n")
	if got, ok := cgroupMemoryLimit(root); !ok || got != 1<<30 {
		t.Errorf("container root: %d, %v", got, ok)
	}
}

func TestMemoryWatchWarnsNearTheLimitOnceAnHour(t *testing.T) {
	w := memoryWatch{limit: 100 << 20}
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	if w.check(70<<20, at) {
		t.Error("warned at 70% of the limit")
	}
	if !w.check(80<<20, at) {
		t.Error("no warning at 80% of the limit")
	}
	if w.check(90<<20, at.Add(59*time.Minute)) {
		t.Error("warned again within the hour")
	}
	if !w.check(90<<20, at.Add(time.Hour)) {
		t.Error("no warning an hour later")
	}
	off := memoryWatch{limit: math.MaxInt64}
	if off.check(math.MaxInt64-1, at) {
		t.Error("warned without a limit")
	}
}
