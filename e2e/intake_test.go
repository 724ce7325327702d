package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// intakeReport is the JSON report of e2e/loadgen.
type intakeReport struct {
	Conns     int            `json:"conns"`
	Seconds   float64        `json:"seconds"`
	Sent      int            `json:"sent"`
	Accepted  int            `json:"accepted"`
	Refused   int            `json:"refused"`
	Errors    int            `json:"errors"`
	Statuses  map[string]int `json:"statuses"`
	PerSecond float64        `json:"accepted_per_second"`
	P50Ms     float64        `json:"p50_ms"`
	P99Ms     float64        `json:"p99_ms"`
	MaxMs     float64        `json:"max_ms"`
}

// TestIntakeBenchmark (issue 5 §5) measures webhook intake: e2e/loadgen,
// a separate process, posts signed SeaTable webhooks over loopback to a
// running daemon whose one rule queues a cheap op (an update of one of ten
// rows, merged per batch) and reports accepted events per second and the
// p50/p99 latency of the 202s. It runs only with SEAFLOW_BENCH=1;
// SEAFLOW_BENCH_CONNS (default 32) and SEAFLOW_BENCH_SECONDS (default 10)
// set the load. The figures are logged, not asserted:
//
//	SEAFLOW_BENCH=1 go test ./e2e/ -run TestIntakeBenchmark -v
func TestIntakeBenchmark(t *testing.T) {
	if os.Getenv("SEAFLOW_BENCH") != "1" {
		t.Skip("set SEAFLOW_BENCH=1 to run the intake benchmark")
	}
	conns := envInt(t, "SEAFLOW_BENCH_CONNS", 32)
	seconds := envInt(t, "SEAFLOW_BENCH_SECONDS", 10)
	loadgen, err := bins.Build("loadgen", "./e2e/loadgen")
	if err != nil {
		t.Fatal(err)
	}
	var fx strings.Builder
	fx.WriteString(`
bases:
  - name: crm
    tables:
      - name: Deals
        columns:
          - { name: Name, type: text }
          - { name: Note, type: text }
        rows:
`)
	for i := range 10 {
		fmt.Fprintf(&fx, "          - { Name: deal-%d }\n", i)
	}
	e := setup(t, fx.String(), configHead+`
webhooks:
  - { name: crm-changes, path: /hooks/crm, seatable: { base: crm, secret: "${E2E_SECRET}" } }
rules:
  - name: note
    on: { webhook: crm-changes }
    when: event.op_type == "modify_row" && event.table == "Deals"
    do:
      - update: { base: crm, table: Deals, row: "=event.row_id", values: { Note: "=row.Note" } }
`, nil)
	var ids []string
	for _, r := range e.rows("Deals") {
		ids = append(ids, r["_id"].(string))
	}
	d := e.start()

	args := []string{
		"-url", "http://" + e.addr + "/hooks/crm", "-secret", webhookSecret, "-base-uuid", e.base.UUID,
		"-table", "Deals", "-rows", strings.Join(ids, ","),
		"-conns", fmt.Sprint(conns), "-duration", fmt.Sprintf("%ds", seconds), "-json",
	}
	cmd := exec.Command(loadgen, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, stderr.String())
	}
	var rep intakeReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("loadgen report %q: %v", out, err)
	}
	if !d.Running() {
		t.Fatalf("daemon exited under load: %v", d.Err())
	}
	e.stop(d)
	t.Logf("intake: %d conns, %.1f s: %d sent, %d accepted (202), %d refused %v, %d errors; %.0f accepted/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms",
		rep.Conns, rep.Seconds, rep.Sent, rep.Accepted, rep.Refused, rep.Statuses, rep.Errors, rep.PerSecond, rep.P50Ms, rep.P99Ms, rep.MaxMs)
	t.Logf("command: %s %s", loadgen, strings.Join(args, " "))
	st := e.stats()
	t.Logf("SeaTable meanwhile: %d gateway calls %v, %d 429s", st.Calls, st.ByEndpoint, st.Sent429)
	if rep.Accepted == 0 || rep.Errors != 0 {
		t.Errorf("loadgen: %d accepted, %d transport errors", rep.Accepted, rep.Errors)
	}
}
