package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeadLettersAndReplay drives the operator commands against a running
// daemon: an op SeaTable refuses lands in the dead letters with its reason;
// `seaflow dead` lists, retries and drops it; `seaflow replay` re-runs the
// stored events.
func TestDeadLettersAndReplay(t *testing.T) {
	dead := make(chan struct{}, 10)
	_, b := startTestDaemonWith(t, daemonConfig, daemonOptions{onDeadLetter: func() { dead <- struct{}{} }})
	id := b.firstRowID(t)
	// A row id that does not exist is refused by SeaTable as invalid.
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"no-such-row-id-000000","note":"x"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	if code := b.post(t, "/hooks/form", "form-token", `{"row":"`+id+`","note":"fine"}`); code != http.StatusAccepted {
		t.Fatalf("HTTP %d", code)
	}
	b.waitForCell(t, "Deals", "Note", "fine")

	select {
	case <-dead:
	case <-time.After(20 * time.Second):
		t.Fatalf("no op was dead-lettered; logs:\n%s", b.logs.String())
	}
	list, errOut, code := runCLI(t, nil, "dead", "list", "--url", b.url)
	if code != 0 || !strings.Contains(list, "note") || !strings.Contains(list, "update") {
		t.Fatalf("dead list: exit %d\n%s%s", code, list, errOut)
	}
	seq := regexp.MustCompile(`(?m)^(\d+)\s`).FindStringSubmatch(list)
	if seq == nil {
		t.Fatalf("no sequence number in:\n%s", list)
	}
	if !strings.Contains(list, "Deals/no-such-row-id-000000") {
		t.Errorf("dead list does not show the target:\n%s", list)
	}
	t.Run("show", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, "dead", "show", seq[1], "--url", b.url)
		for _, want := range []string{"reason", "table   Deals", "row     no-such-row-id-000000", "rule    note", "values a retry would write:", `Note  "x"`} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("dead show: exit %d, lacks %q:\n%s%s", code, want, out, errOut)
			}
		}
		out, _, code = runCLI(t, nil, "dead", "show", seq[1], "--json", "--url", b.url)
		var d DeadStatus
		if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.RowID != "no-such-row-id-000000" || d.Values["Note"] != "x" || d.Table != "Deals" || d.EventID == "" {
			t.Errorf("dead show --json: exit %d, %v: %+v\n%s", code, err, d, out)
		}
		out, _, code = runCLI(t, nil, "dead", "list", "--json", "--url", b.url)
		var page DeadPage
		if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Dead) != 1 || page.Dead[0].Values["Note"] != "x" {
			t.Errorf("dead list --json: exit %d, %v\n%s", code, err, out)
		}
		if _, errOut, code := runCLI(t, nil, "dead", "show", "999999", "--url", b.url); code == 0 || !strings.Contains(errOut, "999999") {
			t.Errorf("dead show of an unknown seq: exit %d %s", code, errOut)
		}
	})
	t.Run("retry and drop by rule or base", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, "dead", "retry", "--rule", "other", "--url", b.url)
		if code != 0 || !strings.Contains(out, "0 dead letters requeued (rule other)") {
			t.Errorf("dead retry --rule other: exit %d %s%s", code, out, errOut)
		}
		out, errOut, code = runCLI(t, nil, "dead", "drop", "--base", "nope", "--rule", "note", "--json", "--url", b.url)
		var res []DeadActionResult
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res) != 1 || res[0].Count != 0 {
			t.Errorf("dead drop --base nope --rule note --json: exit %d %v %s%s", code, err, out, errOut)
		}
		if _, errOut, code := runCLI(t, nil, "dead", "retry", "3", "--rule", "note", "--url", b.url); code == 0 || !strings.Contains(errOut, "not both") {
			t.Errorf("dead retry SEQ --rule: exit %d %s", code, errOut)
		}
		// Still there: the filters above matched nothing.
		if out, _, _ := runCLI(t, nil, "dead", "list", "--url", b.url); !strings.Contains(out, "no-such-row-id") {
			t.Fatalf("dead letter gone:\n%s", out)
		}
	})
	if out, errOut, code := runCLI(t, nil, "dead", "retry", "--rule", "note", "--base", "crm", "--url", b.url); code != 0 || !strings.Contains(out, "1 dead letters requeued (rule note, base crm)") {
		t.Fatalf("dead retry --rule note --base crm: exit %d %s%s", code, out, errOut)
	}
	// Refused again: back in the dead letters, under a new sequence number.
	select {
	case <-dead:
	case <-time.After(20 * time.Second):
		t.Fatalf("the retried op was not dead-lettered again; logs:\n%s", b.logs.String())
	}
	if out, errOut, code := runCLI(t, nil, "dead", "drop", "--rule", "note", "--url", b.url); code != 0 || !strings.Contains(out, "1 dead letters dropped (rule note)") {
		t.Fatalf("dead drop --rule note: exit %d %s%s", code, out, errOut)
	}
	if out, _, _ := runCLI(t, nil, "dead", "list", "--url", b.url); !strings.Contains(out, "no dead letters") {
		t.Fatalf("after drop:\n%s", out)
	}
	if _, _, code := runCLI(t, nil, "dead", "retry", "--url", b.url, "999999"); code == 0 {
		t.Errorf("retry of an unknown seq succeeded")
	}

	out, errOut, code := runCLI(t, nil, "replay", "--url", b.url, "--since", "1h", "--dry-run")
	if code != 0 || !strings.Contains(out, "replayed 2 events") || !strings.Contains(out, "would queue 2 ops") {
		t.Fatalf("replay --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, nil, "replay", "--url", b.url, "--since", "1h", "--rule", "nope"); code == 0 || !strings.Contains(errOut, "no rule named") {
		t.Errorf("replay of an unknown rule: exit %d %s", code, errOut)
	}
}
