package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunTestsReportsFailures(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	failed, err := RunTests([]string{"testdata/failing.test.yaml"}, &out)
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
		"--- FAIL: bad token (testdata/failing.test.yaml:24)\n    webhook.headers: missing or wrong bearer token: unauthorized\n",
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
	failed, err := RunTests(files, &out)
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
