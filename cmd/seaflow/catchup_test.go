package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/catchup"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// jumpClock is the wall clock plus an offset that jump moves forward. Its
// After fires after d of real time or as soon as a jump passes it,
// whichever comes first: the dispatcher's short waits run as usual, and a
// poll five minutes away comes at the jump.
type jumpClock struct {
	mu      sync.Mutex
	offset  time.Duration
	waiters []jumpWaiter
}

type jumpWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	at := time.Now().Add(c.offset + d)
	if d <= 0 {
		ch <- at
		return ch
	}
	c.waiters = append(c.waiters, jumpWaiter{at: at, ch: ch})
	time.AfterFunc(d, func() { c.fire(ch) })
	return ch
}

// fire sends once on ch, if it still waits.
func (c *jumpClock) fire(ch chan time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiters {
		if w.ch == ch {
			ch <- time.Now().Add(c.offset)
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return
		}
	}
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	now := time.Now().Add(c.offset)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- now
	}
	c.waiters = kept
}

const catchUpFixture = `
bases:
  - name: crm
    webhooks: [ { url: "HOOK", secret: "s3cret" } ]
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won] }
          - { name: Note, type: text }
        rows:
          - { Name: Acme, Stage: Lead }
          - { Name: Initech, Stage: Lead }
`

const catchUpConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - name: crm-changes
    path: /hooks/crm
    seatable: { base: crm, secret: s3cret, catch_up: { every: 1m, lag: 10s } }
rules:
  - name: won
    on: { webhook: crm-changes }
    when: event.table == "Deals" && row.Stage == "Won"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Note: '=event.caught_up ? "caught up" : "delivered"' } }
`

// TestDaemonCatchUp: a change SeaTable never delivered (its webhook is
// disabled) comes in through the catch-up poll once, fires the rule, and
// the page, status and metric say the webhook is likely disabled.
func TestDaemonCatchUp(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	daemonURL := "http://" + ln.Addr().String()
	clock := &jumpClock{}
	emu, emuURL, infos := serveEmulator(t, emulator.Options{Now: clock.Now}, strings.Replace(catchUpFixture, "HOOK", daemonURL+"/hooks/crm", 1))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "seaflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(catchUpConfig, emuURL, infos[0].APIToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	polls := make(chan catchup.Status, 64)
	var mu sync.Mutex
	caughtUp := map[string]int{} // event id → times a rule queued ops for it
	logs := &syncBuffer{}
	d, err := startDaemon(context.Background(), cfg, daemonOptions{
		Logger: zerolog.New(logs), Listener: ln, Clock: clock, DataDir: filepath.Join(dir, "data"),
		LookupEnv: func(string) (string, bool) { return "", false },
		onCatchUp: func(st catchup.Status) { polls <- st },
		onTrace: func(tr runner.Trace) {
			if !strings.HasPrefix(tr.EventID, "catchup/") {
				return
			}
			for _, r := range tr.Rules {
				if r.Ops > 0 {
					mu.Lock()
					caughtUp[tr.EventID]++
					mu.Unlock()
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(10 * time.Second) })
	// nextPoll jumps the clock past the interval and returns the poll's status.
	nextPoll := func(t *testing.T) catchup.Status {
		t.Helper()
		from := clock.Now()
		clock.jump(70 * time.Second)
		for {
			select {
			case st := <-polls:
				if !st.LastPoll.Before(from) {
					return st
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no catch-up poll; logs:\n%s", logs.String())
			}
		}
	}
	rows, _ := emu.Rows("crm", "Deals")
	acme, initech := rows[0]["_id"].(string), rows[1]["_id"].(string)
	waitNote := func(t *testing.T, id, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := emu.WaitFor(ctx, func() bool {
			rows, _ := emu.Rows("crm", "Deals")
			for _, r := range rows {
				if r["_id"] == id && r["Note"] == want {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("row %s never got Note %q; logs:\n%s", id, want, logs.String())
		}
	}
	edit := func(t *testing.T, id string) {
		t.Helper()
		if _, err := emu.Edit(emulator.EditRequest{BaseUUID: "crm", TableName: "Deals", Op: "update", RowID: id, Row: map[string]any{"Stage": "Won"}}); err != nil {
			t.Fatal(err)
		}
	}

	// The first poll starts the cursor; a delivered change is not caught up.
	nextPoll(t)
	edit(t, acme)
	waitNote(t, acme, "delivered")
	if st := nextPoll(t); st.LikelyDisabled || gauge(t, d, "seaflow_webhook_likely_disabled") != 0 {
		t.Fatalf("delivered change: %+v", st)
	}

	// SeaTable disables the webhook; a change is then missed, and caught up.
	if err := emu.DisableWebhooks("crm"); err != nil {
		t.Fatal(err)
	}
	edit(t, initech)
	st := nextPoll(t)
	if !st.LikelyDisabled || gauge(t, d, "seaflow_webhook_likely_disabled") != 1 {
		t.Fatalf("missed change: %+v", st)
	}
	waitNote(t, initech, "caught up")
	// Two more polls: seaflow's own write comes back as a caught-up event
	// marked self, and nothing fires twice.
	nextPoll(t)
	nextPoll(t)
	mu.Lock()
	if len(caughtUp) != 1 {
		t.Errorf("caught-up events that fired a rule: %v, want one, once", caughtUp)
	}
	for id, n := range caughtUp {
		if n != 1 {
			t.Errorf("event %s fired %d times", id, n)
		}
	}
	mu.Unlock()

	// The status API and seaflow status say so.
	resp, err := http.Get(daemonURL + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var status Status
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatal(err)
	}
	if len(status.CatchUps) != 1 || !status.CatchUps[0].LikelyDisabled || status.CatchUps[0].Webhook != "crm-changes" {
		t.Errorf("status catch_ups = %+v", status.CatchUps)
	}
	out, errOut, code := runCLI(t, nil, "status", "--url", daemonURL)
	if code != 0 || !strings.Contains(out, "WEBHOOK LIKELY DISABLED: crm-changes (base crm)") {
		t.Errorf("seaflow status (exit %d):\n%s%s", code, out, errOut)
	}

	// Re-enabled (re-saved in SeaTable): a delivered change clears it.
	if err := emu.EnableWebhooks("crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.Edit(emulator.EditRequest{BaseUUID: "crm", TableName: "Deals", Op: "update", RowID: acme, Row: map[string]any{"Name": "Acme Corp"}}); err != nil {
		t.Fatal(err)
	}
	if err := emu.WaitWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := nextPoll(t); st.LikelyDisabled || gauge(t, d, "seaflow_webhook_likely_disabled") != 0 {
		t.Errorf("after re-enabling: %+v", st)
	}
}
