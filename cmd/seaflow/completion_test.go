package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCompletion runs the bash script in bash (when there is one) with
// COMP_WORDS set as bash sets them, and checks the names the hidden
// __complete command gives it.
func TestCompletion(t *testing.T) {
	t.Parallel()
	script, errOut, code := runCLI(t, nil, "completion", "bash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, shell := range []string{"zsh", "fish"} {
		out, _, code := runCLI(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, "publish") || !strings.Contains(out, "__complete cron-rules") {
			t.Errorf("%s: exit %d:\n%.300s", shell, code, out)
		}
	}
	if _, _, code := runCLI(t, nil, "completion", "tcsh"); code != 2 {
		t.Errorf("unknown shell: exit %d, want 2", code)
	}

	t.Run("bash", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("bash"); err != nil {
			t.Skip("no bash")
		}
		complete := func(words ...string) string {
			// seaflow itself is a stub here: the dynamic names are tested below.
			prog := script + "\nseaflow() { echo nightly-overdue; }\nCOMP_WORDS=(" + strings.Join(words, " ") + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]}-1))\n_seaflow\necho \"${COMPREPLY[*]}\"\n"
			out, err := exec.Command("bash", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			return strings.TrimSpace(string(out))
		}
		cases := []struct {
			words []string
			want  string
		}{
			{[]string{"seaflow", "pu"}, "publish"},
			{[]string{"seaflow", "validate", "--o"}, "--online"},
			{[]string{"seaflow", "run", "--li"}, "--listen"},
			{[]string{"seaflow", "trigger", "ni"}, "nightly-overdue"},
			{[]string{"seaflow", "dead", "re"}, "retry"},
			{[]string{"seaflow", "completion", "f"}, "fish"},
		}
		for _, c := range cases {
			if got := complete(c.words...); got != c.want {
				t.Errorf("%v: got %q, want %q", c.words, got, c.want)
			}
		}
	})

	t.Run("names from the config", func(t *testing.T) {
		t.Parallel()
		cfg := repoFile("rules.example.yaml")
		for kind, want := range map[string]string{
			"cron-rules": "nightly-overdue\npurge-lost-deals\narchive-done-tasks\n",
			"subjects":   "shop.orders.created\nshop.orders.cancelled\n",
		} {
			out, _, code := runCLI(t, nil, completeCommand, kind, "seaflow", "x", "--config", cfg)
			if code != 0 || out != want {
				t.Errorf("%s: exit %d, %q, want %q", kind, code, out, want)
			}
		}
		if out, errOut, _ := runCLI(t, nil, completeCommand, "rules", "--config", "no-such.yaml"); out != "" || errOut != "" {
			t.Errorf("no config: %q %q", out, errOut)
		}
	})
}
