package proctest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StatusKB returns a kB field of /proc/PID/status (VmRSS, VmHWM, ...): what
// the benchmarks report of a daemon's memory.
func StatusKB(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("process status: %s %q: %w", field, v, err)
			}
			return kb, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("process status: %w", err)
	}
	return 0, fmt.Errorf("process status: no %s in /proc/%d/status", field, pid)
}
