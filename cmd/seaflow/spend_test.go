package main

import (
	"context"
	"math"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow/seatable"
)

const spendConfig = `
server: { listen: "127.0.0.1:0", auth: none }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
rules:
  - name: note
    on: { webhook: form }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
  - name: rename
    on: { webhook: form }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Name: "=body.note" } }
  - name: idle
    on: { webhook: form }
    when: "false"
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Name: "never" } }
`

// TestRuleSpend: every call is attributed to the rules whose ops it
// carried, in shares by ops: seaflow_api_calls_total{rule} sums to the
// calls made, and the status (API and seaflow status) shows each rule's
// calls and rows.
func TestRuleSpend(t *testing.T) {
	written := make(chan struct{}, 10)
	d, b := startTestDaemonWith(t, spendConfig, daemonOptions{onCall: func(c seatable.Call) {
		if c.Endpoint == "/rows/" {
			written <- struct{}{}
		}
	}})
	id := b.firstRowID(t)
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"spent"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	b.waitForCell(t, "Deals", "Note", "spent")
	b.waitForCell(t, "Deals", "Name", "spent")
	select {
	case <-written:
	case <-time.After(20 * time.Second):
		t.Fatalf("the row update was not observed; logs:\n%s", b.logs.String())
	}

	st := d.status(context.Background(), 10)
	got := map[string]float64{}
	for _, x := range st.RuleSpend {
		if x.Base != "crm" {
			t.Errorf("spend on base %q: %+v", x.Base, x)
		}
		got[x.Rule] = x.Calls24h
		if x.Calls1h != x.Calls24h || x.Share24h <= 0 || x.Share24h > 1 {
			t.Errorf("spend %+v", x)
		}
	}
	if got["note"] <= 0 || got["rename"] <= 0 || got["idle"] != 0 {
		t.Fatalf("rule spend = %+v, want note and rename, not idle", st.RuleSpend)
	}
	for _, r := range []string{"note", "rename"} {
		var rows float64
		for _, x := range st.RuleSpend {
			if x.Rule == r {
				rows = x.Rows24h
			}
		}
		if rows <= 0 {
			t.Errorf("rule %s: no rows counted: %+v", r, st.RuleSpend)
		}
	}

	// The metric's rule series of one call sum to 1: together, the calls.
	m := scrape(t, d, "seaflow_api_calls_total{")
	sum, byRule := 0.0, map[string]float64{}
	re := regexp.MustCompile(`rule="([^"]*)".* ([0-9.e+-]+)$`)
	for _, line := range strings.Split(m, "\n") {
		g := re.FindStringSubmatch(line)
		if g == nil {
			t.Fatalf("series without a rule label: %q", line)
		}
		v, _ := strconv.ParseFloat(g[2], 64)
		sum += v
		byRule[g[1]] += v
	}
	if math.Abs(sum-math.Round(sum)) > 1e-9 || byRule["note"] <= 0 || byRule["rename"] <= 0 {
		t.Errorf("seaflow_api_calls_total: %v in all, by rule %v:\n%s", sum, byRule, m)
	}
	var inStatus float64
	for _, x := range st.RuleSpend {
		inStatus += x.Calls24h
	}
	// The status counts the base's budget: the token exchange has its own.
	exchanges := 0.0
	for _, line := range strings.Split(m, "\n") {
		if strings.Contains(line, "app-access-token") {
			g := re.FindStringSubmatch(line)
			v, _ := strconv.ParseFloat(g[2], 64)
			exchanges += v
		}
	}
	if math.Abs(inStatus-(sum-exchanges)) > 0.05 || inStatus != float64(st.Bases[0].Windows[1].Used) {
		t.Errorf("status counts %v calls, the metric %v (%v token exchanges), the base's budget %d", inStatus, sum, exchanges, st.Bases[0].Windows[1].Used)
	}

	out, errOut, code := runCLI(t, nil, "status", "--url", b.url)
	if code != 0 || !strings.Contains(out, "CALLS 24H") || !regexp.MustCompile(`(?m)^crm\s+note\s`).MatchString(out) || !regexp.MustCompile(`(?m)^crm\s+rename\s`).MatchString(out) {
		t.Errorf("seaflow status: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("seaflow_api_calls_total:\n%s\nseaflow status:\n%s", m, out)

	// The spend is kept in the store: a restart (or another replica)
	// shows the same.
	if err := d.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	d2, _ := startFromFile(t, b.cfgPath, filepath.Join(filepath.Dir(b.cfgPath), "data"), daemonOptions{})
	again := d2.status(context.Background(), 10)
	if !reflect.DeepEqual(again.RuleSpend, st.RuleSpend) {
		t.Errorf("after a restart the rule spend is %+v, want %+v", again.RuleSpend, st.RuleSpend)
	}
}
