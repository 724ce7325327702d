package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow/history"
)

// TestEventHistory: every event's record and its ops' fates are kept in
// the store: `seaflow events` lists them by status and row, `events show`
// follows an event to its ops, written by which call or dead with the
// reason and values, and a restart keeps it all.
func TestEventHistory(t *testing.T) {
	outcomes := make(chan struct{}, 100)
	d, b := startTestDaemonWith(t, daemonConfig, daemonOptions{onOutcome: func() { outcomes <- struct{}{} }})
	id := b.firstRowID(t)
	for _, body := range []string{`{"row":"no-such-row-id-000000","note":"bad"}`, `{"row":"` + id + `","note":"good"}`} {
		if code := b.post(t, "/hooks/form", "form-token", body); code != http.StatusAccepted {
			t.Fatalf("HTTP %d", code)
		}
	}
	// Wait, outcome by outcome, until both ops have their final fate.
	settled := func() (map[string]EventDetail, bool) {
		var page EventsPage
		if _, err := (&apiClient{url: b.url}).getJSON(context.Background(), "/api/events", &page); err != nil {
			t.Fatal(err)
		}
		out := map[string]EventDetail{}
		for _, e := range page.Events {
			var ev EventDetail
			if _, err := (&apiClient{url: b.url}).getJSON(context.Background(), "/api/events/"+e.EventID, &ev); err != nil {
				t.Fatal(err)
			}
			if len(ev.Ops) != 1 || ev.Ops[0].Fate == history.FateQueued {
				return nil, false
			}
			out[ev.Ops[0].Values["Note"].(string)] = ev
		}
		return out, len(out) == 2
	}
	var evs map[string]EventDetail
	for ok := false; !ok; {
		select {
		case <-outcomes:
		case <-time.After(20 * time.Second):
			t.Fatalf("the ops were not settled; logs:\n%s", b.logs.String())
		}
		evs, ok = settled()
	}
	good, bad := evs["good"], evs["bad"]
	if good.Status != history.StatusOK || good.Ops[0].Fate != history.FateWritten || good.Ops[0].Call != "update rows" || good.Ops[0].RowID != id {
		t.Errorf("good event: %+v", good)
	}
	if bad.Status != history.StatusFailed || bad.Ops[0].Fate != history.FateDead || bad.Ops[0].Reason == "" || len(bad.Rules) != 1 || bad.Rules[0].Rule != "note" {
		t.Errorf("bad event: %+v", bad)
	}

	out, errOut, code := runCLI(t, nil, "events", "--status", "failed", "--url", b.url)
	if code != 0 || !strings.Contains(out, bad.EventID) || strings.Contains(out, good.EventID) || !strings.Contains(out, "failed") {
		t.Errorf("events --status failed: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, nil, "events", "--row", id, "--url", b.url)
	if code != 0 || !strings.Contains(out, good.EventID) || strings.Contains(out, bad.EventID) {
		t.Errorf("events --row: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, nil, "events", "--rule", "other", "--url", b.url)
	if code != 0 || !strings.Contains(out, "no events") {
		t.Errorf("events --rule other: exit %d\n%s", code, out)
	}
	if _, errOut, code := runCLI(t, nil, "events", "--status", "odd", "--url", b.url); code == 0 || !strings.Contains(errOut, "status must be one of") {
		t.Errorf("events --status odd: exit %d %s", code, errOut)
	}
	show, errOut, code := runCLI(t, nil, "events", "show", bad.EventID, "--url", b.url)
	for _, want := range []string{"event " + bad.EventID + ": failed", "RULES", "note", "OPS (1 of 1)", "dead: " + bad.Ops[0].Reason, `{"Note":"bad"}`, "Deals/no-such-row-id-000000"} {
		if code != 0 || !strings.Contains(show, want) {
			t.Errorf("events show: exit %d, lacks %q:\n%s%s", code, want, show, errOut)
		}
	}
	if out, _, _ := runCLI(t, nil, "events", "show", good.EventID, "--url", b.url); !strings.Contains(out, "written") || !strings.Contains(out, "update rows (1 rows)") {
		t.Errorf("events show of the good event:\n%s", out)
	}
	out, _, code = runCLI(t, nil, "events", "show", good.EventID, "--json", "--url", b.url)
	var detail EventDetail
	if err := json.Unmarshal([]byte(out), &detail); code != 0 || err != nil || detail.EventID != good.EventID || detail.OpsTotal != 1 {
		t.Errorf("events show --json: exit %d %v\n%s", code, err, out)
	}
	if _, errOut, code := runCLI(t, nil, "events", "show", "nope", "--url", b.url); code == 0 || !strings.Contains(errOut, "no event") {
		t.Errorf("events show of an unknown id: exit %d %s", code, errOut)
	}
	t.Logf("seaflow events show:\n%s", show)

	// Kept in the store: a restart changes nothing.
	if err := d.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	_, u := startFromFile(t, b.cfgPath, filepath.Join(filepath.Dir(b.cfgPath), "data"), daemonOptions{})
	if out, _, code := runCLI(t, nil, "events", "show", bad.EventID, "--url", u); code != 0 || !strings.Contains(out, "dead: "+bad.Ops[0].Reason) {
		t.Errorf("events show after a restart: exit %d\n%s", code, out)
	}
}
