package main

import (
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
	if out, errOut, code := runCLI(t, nil, "dead", "drop", "--url", b.url, seq[1]); code != 0 || !strings.Contains(out, "dropped") {
		t.Fatalf("dead drop: exit %d %s%s", code, out, errOut)
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
