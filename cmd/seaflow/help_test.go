package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/statuspage"
)

// TestHelp: `seaflow help`, `seaflow CMD --help` and `-h` print usage with
// examples on stdout and exit 0, for every command.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, errOut, code := runCLI(t, nil, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Commands:") || !strings.Contains(out, "validate") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	for name := range commands {
		if _, ok := helps[name]; !ok {
			t.Errorf("command %s has no help text in helps", name)
		}
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			out, errOut, code := runCLI(t, nil, args...)
			if code != 0 || errOut != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
				continue
			}
			if !strings.Contains(out, "Usage:\n  seaflow "+name) || !strings.Contains(out, "Examples:\n  ") {
				t.Errorf("%v: no usage or examples:\n%s", args, out)
			}
		}
	}
	t.Run("flags are shown with a placeholder and never a token's default", func(t *testing.T) {
		t.Parallel()
		m := &Main{}
		fs := m.newFlagSet("status")
		api := addAPIFlags(fs)
		api.token = "s3cret-token"
		fs.Lookup("token").DefValue = "s3cret-token"
		var b strings.Builder
		m.printHelp(&b, "status", fs)
		if !strings.Contains(b.String(), "--url URL") || strings.Contains(b.String(), "s3cret") {
			t.Errorf("help:\n%s", b.String())
		}
	})
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	out, _, code := runCLI(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "seaflow ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

// TestErrorsAreOneLine: a usage error or a failed command prints "Error: …"
// on one line and, where useful, "Try: …"; never raw JSON.
func TestErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		code     int
		err, try string
	}{
		{"unknown flag", []string{"run", "--bogus"}, 2, "Error: flag provided but not defined: -bogus", "Try: seaflow run --help"},
		{"missing config", []string{"run"}, 2, "Error: run needs --config FILE", "Try: seaflow run --config"},
		{"missing file", []string{"validate", "no-such-file.yaml"}, 1, "Error: no config file no-such-file.yaml", "Try: "},
		{"typo of a command", []string{"statsu"}, 2, `Error: unknown command "statsu"`, "Try: seaflow status"},
		{"no daemon", []string{"status", "--url", "http://127.0.0.1:1"}, 1, "Error: status: no seaflow daemon answers at http://127.0.0.1:1", "Try: start it with seaflow run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, errOut, code := runCLI(t, nil, c.args...)
			lines := strings.Split(errOut, "\n")
			if code != c.code || !strings.HasPrefix(lines[0], c.err) || len(lines) < 2 || !strings.HasPrefix(lines[1], c.try) {
				t.Errorf("exit %d (want %d), stderr:\n%s", code, c.code, errOut)
			}
		})
	}

	t.Run("the daemon's JSON answer is decoded", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "status API needs Authorization: Bearer <server.token>"})
		}))
		defer srv.Close()
		_, errOut, code := runCLI(t, nil, "status", "--url", srv.URL)
		want := "Error: status: the daemon answered 401: status API needs Authorization: Bearer <server.token>\nTry: pass --token TOKEN or set SEAFLOW_TOKEN"
		if code != 1 || !strings.HasPrefix(errOut, want) || strings.Contains(errOut, "{") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		pos  []string
		url  string
	}{
		{[]string{"retry", "7", "--url", "U"}, []string{"retry", "7"}, "U"},
		{[]string{"--url", "U", "retry", "7"}, []string{"retry", "7"}, "U"},
		{[]string{"retry", "--url=U", "7", "8"}, []string{"retry", "7", "8"}, "U"},
		{[]string{"x", "--", "--url", "y"}, []string{"x", "--url", "y"}, ""},
		{nil, nil, ""},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		url := fs.String("url", "", "")
		pos, err := parseArgs(fs, c.args)
		if err != nil || !reflect.DeepEqual(pos, c.pos) || *url != c.url {
			t.Errorf("%q: got %q url %q err %v, want %q url %q", c.args, pos, *url, err, c.pos, c.url)
		}
	}
}

// TestDeadRetryHonoursURL: `dead retry N --url X` sends to X (the flag
// after the sequence number was ignored).
func TestDeadRetryHonoursURL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"status": "requeued"})
	}))
	defer srv.Close()
	out, errOut, code := runCLI(t, nil, "dead", "retry", "7", "--url", srv.URL)
	mu.Lock()
	defer mu.Unlock()
	if code != 0 || !strings.Contains(out, "7 requeued") || !reflect.DeepEqual(got, []string{"POST /api/dead/retry"}) {
		t.Errorf("exit %d, stdout %q, stderr %q, requests %q", code, out, errOut, got)
	}
}

// TestStatusListsMatchedRules: the events table lists the rules that
// matched, not every rule evaluated, and shows rule-level errors.
func TestStatusListsMatchedRules(t *testing.T) {
	t.Parallel()
	st := Status{Traces: []statuspage.TraceStatus{{
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Source: "webhook", Name: "crm-changes",
		Rules: []statuspage.RuleStatus{
			{Rule: "stamp", When: true, Ops: 1},
			{Rule: "kickoff", When: false},
			{Rule: "broken", Error: "when: cannot fetch Stage from <nil>"},
		},
	}}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	if !strings.Contains(out, "MATCHED") || !strings.Contains(out, "stamp,broken!") || strings.Contains(out, "kickoff") ||
		!strings.Contains(out, "broken: when: cannot fetch Stage from <nil>") {
		t.Errorf("status:\n%s", out)
	}
}

func TestSchemaCommand(t *testing.T) {
	t.Parallel()
	out, errOut, code := runCLI(t, nil, "schema")
	var s map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s["$schema"] == nil || s["properties"] == nil {
		t.Fatalf("exit %d, stderr %q, stdout %.200q", code, errOut, out)
	}
	nats := s["properties"].(map[string]any)["nats"].(map[string]any)["properties"].(map[string]any)
	if nats["listen"] == nil {
		t.Errorf("the schema lacks nats.listen: %v", nats)
	}
}

func TestReadable(t *testing.T) {
	t.Parallel()
	api := &jetstream.APIError{Code: 503, ErrorCode: 10039, Description: "jetstream not enabled"}
	cases := map[error]string{
		fmt.Errorf("start storage: %w", api):             "start storage: NATS: jetstream not enabled",
		fmt.Errorf("publish: %w", nats.ErrNoResponders):  "publish: NATS: no responders available for request",
		errors.New("two problems:\n  first\n  second\n"): "two problems:; first; second",
	}
	for err, want := range cases {
		if got := readable(err); got != want {
			t.Errorf("readable(%q) = %q, want %q", err, got, want)
		}
	}
}
