package ruletest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seaflow/seaflow/ruletest"
)

func TestRunTestsReportsFailures(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	failed, err := ruletest.Run([]string{"testdata/failing.test.yaml"}, &out)
	if err != nil {
		t.Fatalf("file error: %v", err)
	}
	report := out.String()
	if failed != 6 {
		t.Errorf("failed = %d, want 6\n%s", failed, report)
	}
	for _, want := range []string{
		"--- PASS: passes\n",
		"--- FAIL: wrong value (testdata/failing.test.yaml:10)\n    op[0].values[\"Amount\"]: got 5, want 6\n--- FAIL: extra op",
		"--- FAIL: extra op (testdata/failing.test.yaml:15)\n    op[0]: unexpected {\"id\":\"nats/shop.orders.cancelled/test/extra op/cancel-order/0\",\"kind\":\"sql\"",
		"--- FAIL: missing op (testdata/failing.test.yaml:19)\n    op[0]: missing, want {\"kind\":\"delete\"}\n",
		"--- FAIL: bad token (testdata/failing.test.yaml:24)\n    webhook: the intake answers HTTP 401: bad bearer token\n",
		"--- FAIL: rule error (testdata/failing.test.yaml:28)\n    rule error: rule \"assign-company\": do[0].link.row: got <nil>, want a string\n",
		"--- PASS: expected rule error\n",
		"--- FAIL: no expect (testdata/failing.test.yaml:37)\n    no expect: (write expect: [] for no ops)\n",
		"FAIL\ttestdata/failing.test.yaml\t6 of 8 cases failed\n",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestRunTestsFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badCfg := write("bad.yaml", "rules: [ { name: x } ]\n")
	files := []string{
		write("a.test.yaml", "config: bad.yaml\ncases: []\n"),
		write("b.test.yaml", "config: bad.yaml\ncasez: []\n"),
		filepath.Join(dir, "missing.test.yaml"),
	}
	var out strings.Builder
	failed, err := ruletest.Run(files, &out)
	if failed != 3 || err == nil {
		t.Fatalf("failed %d, err %v", failed, err)
	}
	report := out.String()
	for _, want := range []string{badCfg + ":1:10: rule \"x\": missing on:", "field casez not found", "read test file"} {
		if !strings.Contains(report, want) || !strings.Contains(err.Error(), want) {
			t.Errorf("report and error lack %q:\n%s\n%v", want, report, err)
		}
	}
}

// TestRunDrivesTheDaemonPath: cases go through the daemon's own intake and
// runner, so `seaflow test` and `seaflow run` cannot disagree: credentials
// are checked by the intake's code (scheme and prefix case included), and
// the loop guard's depth limit stops a chain the daemon would stop.
func TestRunDrivesTheDaemonPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("seaflow.yaml", `
bases: { crm: { url: "https://seatable.example.com", api_token: t } }
webhooks:
  - { name: crm, path: /hooks/crm, seatable: { base: crm, secret: s3cret-value } }
  - { name: form, path: /hooks/form, token: form-token-value }
  - { name: hub, path: /hooks/hub, hmac: { header: X-Hub-Signature-256, secret: hub-secret } }
rules:
  - name: touch
    on: { webhook: crm }
    on_self: true
    do: [ { update: { base: crm, table: Deals, row: "=event.row_id", values: { N: 1 } } } ]
  - name: lead
    on: { webhook: form }
    do: [ { append: { base: crm, table: Deals, values: { Name: "=body.name" } } } ]
  - name: hub
    on: { webhook: hub }
    do: [ { append: { base: crm, table: Deals, values: { Name: "=body.name" } } } ]
`)
	body := `{"event":"update","data":{"dtable_uuid":"fae0a3a42ba94df88e8303fd385e37de","row_id":"R1","op_type":"modify_row","op_time":1795000000.5,"table_id":"0001","table_name":"Deals","row_data":[]}}`
	hubSig := "SHA256=" + hmacHex("hub-secret", `{"name":"x"}`)
	file := write("cases.test.yaml", `config: seaflow.yaml
cases:
  - name: bearer scheme in lower case
    now: 2026-11-26T10:00:00Z
    webhook: { name: form, headers: { Authorization: "bearer form-token-value" }, body: { name: x } }
    expect: [ { kind: append } ]
  - name: hmac prefix in upper case
    now: 2026-11-26T10:00:00Z
    webhook: { name: hub, headers: { X-Hub-Signature-256: "`+hubSig+`" }, body: '{"name":"x"}' }
    expect: [ { kind: append } ]
  - name: another scheme
    now: 2026-11-26T10:00:00Z
    webhook: { name: form, headers: { Authorization: "Token form-token-value" }, body: { name: x } }
    expect: [ { kind: append } ]
  - name: deep chain
    now: 2026-11-26T10:00:00Z
    webhook: { name: crm, self: true, depth: 7, body: '`+body+`' }
    expect: [ { kind: update } ]
  - name: shallow chain
    now: 2026-11-26T10:00:00Z
    webhook: { name: crm, self: true, depth: 2, body: '`+body+`' }
    expect: [ { kind: update, depth: 3 } ]
    calls: 1
`)
	var out strings.Builder
	failed, err := ruletest.Run([]string{file}, &out)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	if failed != 2 {
		t.Errorf("failed = %d, want 2\n%s", failed, report)
	}
	for _, want := range []string{
		"--- PASS: bearer scheme in lower case\n",
		"--- PASS: hmac prefix in upper case\n",
		"--- FAIL: another scheme (" + file + ":11)\n    webhook: the intake answers HTTP 401: Authorization must be a Bearer token\n",
		"--- FAIL: deep chain (" + file + ":15)\n    rule \"touch\" did not run: loop guard: chain depth 7 reached the limit 5\n    op[0]: missing",
		"--- PASS: shallow chain\n",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func hmacHex(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}
