package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the seaflow CLI in process and returns its output and exit code.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	code = m.ExitCode(m.Run(context.Background(), args)) // as main prints it
	return out.String(), errOut.String(), code
}

func repoFile(name string) string { return filepath.Join("..", "..", name) }

func TestValidate(t *testing.T) {
	t.Parallel()

	t.Run("the example is valid", func(t *testing.T) {
		t.Parallel()
		out, errOut, code := runCLI(t, nil, "validate", "--config", repoFile("rules.example.yaml"))
		if code != 0 || !strings.Contains(out, "10 rules") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("the example is valid online against its emulator", func(t *testing.T) {
		t.Parallel()
		out, errOut, code := runCLI(t, nil, "validate", "--online", "--config", repoFile("rules.example.yaml"))
		if code != 0 || !strings.Contains(out, "OK") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("every error of a bad file, each with its position", func(t *testing.T) {
		t.Parallel()
		bad := filepath.Join("..", "..", "rules", "testdata", "unknown-base.bad.yaml")
		want, err := os.ReadFile(bad + ".errors")
		if err != nil {
			t.Fatal(err)
		}
		_, errOut, code := runCLI(t, nil, "validate", "--config", bad)
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
			// The CLI prints the path it was given; the .errors file names the base name.
			if !strings.Contains(errOut, strings.TrimPrefix(line, "unknown-base.bad.yaml")) || !strings.Contains(errOut, "unknown-base.bad.yaml:") {
				t.Errorf("stderr lacks %q:\n%s", line, errOut)
			}
		}
	})

	t.Run("a missing flag is a usage error", func(t *testing.T) {
		t.Parallel()
		if _, _, code := runCLI(t, nil, "validate"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

func TestRuleTestsCommand(t *testing.T) {
	t.Parallel()
	out, errOut, code := runCLI(t, nil, "test", repoFile("rules.example.test.yaml"))
	if code != 0 || !strings.Contains(out, "--- PASS") || strings.Contains(out, "--- FAIL") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	failing := filepath.Join("..", "..", "ruletest", "testdata", "failing.test.yaml")
	out, _, code = runCLI(t, nil, "test", failing)
	if code != 1 || !strings.Contains(out, "--- FAIL") {
		t.Fatalf("failing tests: exit %d, stdout:\n%s", code, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	out, _, code := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "seaflow ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	_, errOut, code := runCLI(t, nil, "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "validate") {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
}
