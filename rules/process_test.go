package rules

import (
	"strings"
	"testing"
)

func TestProcessMemoryLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "off": MemoryLimitOff} {
		cfg, err := Parse("p.yaml", []byte("process: { memory_limit: "+in+" }\n"), noEnv)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if cfg.Process.MemoryLimit != want {
			t.Errorf("memory_limit %s = %d, want %d", in, cfg.Process.MemoryLimit, want)
		}
	}
	if DefaultConfig().Process.MemoryLimit != 0 {
		t.Error("a file without process: sets a memory limit")
	}
	for in, want := range map[string]string{
		"10MiB":  `p.yaml:2:26: process.memory_limit: "10MiB" is below 64 MiB`,
		"lots":   `p.yaml:2:26: process.memory_limit: "lots" is not a positive size`,
		"0":      `p.yaml:2:26: process.memory_limit: "0" is not a positive size`,
		"{ a: 1": `p.yaml:`,
	} {
		_, err := Parse("p.yaml", []byte("# memory\nprocess: { memory_limit: "+in+" }\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("memory_limit %s: error %v, want %s", in, err, want)
		}
	}
	if _, err := Parse("p.yaml", []byte("process: { memory: 1GiB }\n"), noEnv); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("an unknown key under process: %v", err)
	}
}
