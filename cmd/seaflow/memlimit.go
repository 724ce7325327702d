package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
)

// defaultMemoryLimit is the soft memory limit of a daemon whose config,
// environment and container set none. A daemon with a thousand bases
// awake keeps about 100 MiB live; without a limit the heap grows to twice
// that before the collector runs (GOGC=100).
const defaultMemoryLimit = 160 << 20

// containerShare is the part of a container's memory limit the soft limit
// takes by default, leaving room for what the Go heap does not count.
const containerShare = 0.9

// memoryWarnShare is how near the limit the live heap may come before the
// daemon warns: past it the collector runs often, and past the limit
// itself it may take up to half the CPU.
const memoryWarnShare = 0.75

// memoryWarnEvery is how often the warning repeats while it holds.
const memoryWarnEvery = time.Hour

// memoryLimitChoice is the soft memory limit a daemon runs with, and where
// it came from (for the log).
type memoryLimitChoice struct {
	// Bytes is the limit; math.MaxInt64 = none.
	Bytes int64
	// From is "config", "GOMEMLIMIT", "container" or "default".
	From string
}

// chooseMemoryLimit picks the limit: the config's, else GOMEMLIMIT's (the Go
// runtime applied it already), else a share of the container's, else
// defaultMemoryLimit. container reports the cgroup's limit, if any.
func chooseMemoryLimit(p rules.ProcessConfig, lookupEnv func(string) (string, bool), container func() (int64, bool)) memoryLimitChoice {
	switch {
	case p.MemoryLimit == rules.MemoryLimitOff:
		return memoryLimitChoice{Bytes: math.MaxInt64, From: "config"}
	case p.MemoryLimit > 0:
		return memoryLimitChoice{Bytes: p.MemoryLimit, From: "config"}
	}
	if v, ok := lookupEnv("GOMEMLIMIT"); ok && v != "" {
		return memoryLimitChoice{Bytes: debug.SetMemoryLimit(-1), From: "GOMEMLIMIT"}
	}
	if c, ok := container(); ok {
		return memoryLimitChoice{Bytes: int64(float64(c) * containerShare), From: "container"}
	}
	return memoryLimitChoice{Bytes: defaultMemoryLimit, From: "default"}
}

// applyMemoryLimit sets the process's soft memory limit and logs it.
func applyMemoryLimit(log zerolog.Logger, c memoryLimitChoice) {
	debug.SetMemoryLimit(c.Bytes)
	ev := log.Info().Str("from", c.From)
	if c.Bytes == math.MaxInt64 {
		ev.Str("memory_limit", "off").Msg("no soft memory limit")
		return
	}
	ev.Str("memory_limit", mib(c.Bytes)).Msg("soft memory limit set")
}

// cgroupMemoryLimit returns the tightest memory.max of the cgroup (v2) the
// process is in and of its parents, read under root ("/" on a live
// system). ok is false when none is set or the files are not there.
func cgroupMemoryLimit(root string) (int64, bool) {
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, false
	}
	var group string
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			group = p
			break
		}
	}
	if group == "" {
		return 0, false
	}
	limit, found := int64(math.MaxInt64), false
	for dir := filepath.Clean("/" + group); ; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(root, "sys/fs/cgroup", dir, "memory.max"))
		if err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n < limit {
				limit, found = n, true
			}
		}
		if dir == "/" {
			break
		}
	}
	return limit, found
}

// memoryWatch decides when the daemon warns that the live heap nears the
// soft limit: past memoryWarnShare of it, once per memoryWarnEvery.
type memoryWatch struct {
	limit  int64
	warned time.Time
}

// check reports whether live bytes at now call for a warning.
func (w *memoryWatch) check(live int64, now time.Time) bool {
	if w.limit == math.MaxInt64 || float64(live) < memoryWarnShare*float64(w.limit) {
		return false
	}
	if !w.warned.IsZero() && now.Sub(w.warned) < memoryWarnEvery {
		return false
	}
	w.warned = now
	return true
}

// watchMemory reads the live heap (as of the last collection) every
// minute until ctx ends and warns when it nears the limit.
func watchMemory(ctx context.Context, log zerolog.Logger, c memoryLimitChoice, now func() time.Time) {
	w := memoryWatch{limit: c.Bytes}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		live := int64(sample[0].Value.Uint64())
		if w.check(live, now()) {
			log.Warn().Str("live", mib(live)).Str("memory_limit", mib(c.Bytes)).Str("from", c.From).
				Msg("the live heap nears the soft memory limit: the collector runs often; raise process.memory_limit")
		}
	}
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20)) }
