package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// emulatorFixture is a one-base fixture; settings go before its bases.
const emulatorFixture = `
bases:
  - name: crm
    team: acme
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
        rows:
          - { Name: Acme }
`

func TestEmulatorOptions(t *testing.T) {
	t.Parallel()
	fixture := func(settings string) *emulator.Fixture {
		t.Helper()
		fx, err := emulator.ParseFixture("f.yaml", []byte(settings+emulatorFixture))
		if err != nil {
			t.Fatal(err)
		}
		return fx
	}
	resolve := func(t *testing.T, fx *emulator.Fixture, args ...string) emulator.Options {
		t.Helper()
		f := newEmulatorFlags(&Main{Stdout: io.Discard, Stderr: io.Discard})
		if err := f.fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		opts, err := f.options(fx)
		if err != nil {
			t.Fatal(err)
		}
		return opts
	}
	minute := emulator.Limit{Window: time.Minute, Calls: 200}
	t.Run("defaults are the legacy plan", func(t *testing.T) {
		opts := resolve(t, fixture(""))
		if opts.Limits != nil || opts.Plan != "" || opts.WebhookEvents != "" || opts.TimeZone != nil {
			t.Errorf("options %+v", opts)
		}
	})
	t.Run("the fixture's settings", func(t *testing.T) {
		opts := resolve(t, fixture("plan: cloud\nmonthly: 1000\ntimezone: Europe/Berlin\nwebhook_events: batch\n"))
		if opts.Plan != emulator.PlanCloud || opts.MonthlyQuota != 1000 || opts.TimeZone.String() != "Europe/Berlin" || opts.WebhookEvents != emulator.Batch {
			t.Errorf("options %+v", opts)
		}
	})
	t.Run("flags win", func(t *testing.T) {
		opts := resolve(t, fixture("plan: server\nwebhook_events: batch\n"), "--plan", "cloud", "--monthly", "5", "--webhook-events", "per-row",
			"--webhook-senders", "2", "--webhook-delay", "3s", "--timezone", "America/New_York")
		if opts.Plan != emulator.PlanCloud || opts.MonthlyQuota != 5 || opts.WebhookEvents != emulator.PerRow ||
			opts.WebhookSenders != 2 || opts.WebhookDelay != 3*time.Second || opts.TimeZone.String() != "America/New_York" {
			t.Errorf("options %+v", opts)
		}
	})
	t.Run("--rpm and --daily replace the plan's windows", func(t *testing.T) {
		opts := resolve(t, fixture("plan: cloud\n"), "--daily", "800")
		if len(opts.Limits) != 2 || opts.Limits[0] != minute || opts.Limits[1] != (emulator.Limit{Window: 24 * time.Hour, Calls: 800}) {
			t.Errorf("limits %v", opts.Limits)
		}
		opts = resolve(t, fixture(""), "--rpm", "0", "--daily", "0")
		if opts.Limits == nil || len(opts.Limits) != 0 {
			t.Errorf("unlimited: limits %v", opts.Limits)
		}
		opts = resolve(t, fixture("limits: [ {window: 10s, calls: 5} ]\n"), "--rpm", "50")
		if len(opts.Limits) != 2 || opts.Limits[0].Window != 10*time.Second || opts.Limits[1].Calls != 50 {
			t.Errorf("fixture limits and --rpm: %v", opts.Limits)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"--plan", "gold"}, {"--webhook-events", "some"}, {"--timezone", "Mars/Base"}, {"--webhook-senders", "0"}} {
			f := newEmulatorFlags(&Main{Stdout: io.Discard, Stderr: io.Discard})
			if err := f.fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if _, err := f.options(fixture("")); err == nil {
				t.Errorf("%v: no error", args)
			}
		}
	})
}

func TestEmulatorCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "fixture.yaml")
	if err := os.WriteFile(path, []byte(emulatorFixture), 0o600); err != nil {
		t.Fatal(err)
	}
	outR, outW := io.Pipe()
	m := &Main{Stdout: outW, Stderr: io.Discard, LookupEnv: func(string) (string, bool) { return "", false }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"emulator", "--listen", "127.0.0.1:0", "--fixture", path, "--plan", "cloud"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("emulator: %v", err)
		}
	})
	line, err := bufio.NewReader(outR).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	var b struct {
		APIToken  string `json:"api_token"`
		ServerURL string `json:"server_url"`
	}
	if err := json.Unmarshal(line, &b); err != nil {
		t.Fatalf("bases line %q: %v", line, err)
	}
	var limit *seatable.RateLimit
	c := seatable.New(seatable.Config{ServerURL: b.ServerURL, APIToken: b.APIToken, Observe: func(call seatable.Call) {
		if call.Limit != nil {
			limit = call.Limit
		}
	}})
	if _, err := c.Metadata(context.Background()); err != nil {
		t.Fatal(err)
	}
	if limit == nil || limit.Limit != 200 {
		t.Errorf("rate limit %+v, want cloud's 200 per minute", limit)
	}
}

func TestInProcessEmulatorKeepsItsOwnLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fixture.yaml"), []byte("limits: [ {window: 1m, calls: 2} ]\n"+emulatorFixture), 0o600); err != nil {
		t.Fatal(err)
	}
	// seaflow plans for 300 a minute; the emulated server allows 2.
	config := "bases:\n  crm: { url: emulator, fixture: fixture.yaml, limits: [ {window: 1m, calls: 300} ] }\n"
	if err := os.WriteFile(filepath.Join(dir, "seaflow.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(filepath.Join(dir, "seaflow.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	emus := newEmulators(time.Now, zerolog.Nop())
	t.Cleanup(emus.close)
	url, token, err := emus.ensure(cfg, "crm")
	if err != nil {
		t.Fatal(err)
	}
	c := seatable.New(seatable.Config{ServerURL: url, APIToken: token})
	for i := range 2 {
		if _, err := c.Metadata(context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := c.Metadata(context.Background()); seatable.KindOf(err) != seatable.KindRateLimited {
		t.Fatalf("third call in a minute: err = %v, want rate limited", err)
	}
}
