package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := "bases:\n  crm: { url: \"https://x.example\", api_token: t }\nrules:\n"
	write(base + "  - { name: a, on: { nats: x }, do: [ { delete: { base: crm, table: T, row: r } } ] }\n")
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	cur, err := Reload(path, nil, nil, log)
	if err != nil || len(cur.Rules) != 1 {
		t.Fatalf("first load: %v", err)
	}
	// A file with two problems is refused whole; both are logged.
	write(base + "  - { name: a, on: { nats: x }, do: [ { delete: { base: crm, table: T, row: r } } ] }\n" +
		"  - { name: b, on: { nats: y }, when: 'msg +', do: [ { delete: { base: nope, table: T, row: r } } ] }\n")
	got, err := Reload(path, nil, cur, log)
	if err == nil || got != cur {
		t.Fatalf("bad file replaced the config: %v", err)
	}
	if n := strings.Count(logs.String(), "config reload refused"); n != 2 {
		t.Errorf("%d problems logged, want 2:\n%s", n, logs.String())
	}
	write(base + "  - { name: c, on: { cron: \"@daily\" }, do: [ { delete: { base: crm, table: T, row: r } } ] }\n")
	got, err = Reload(path, nil, cur, log)
	if err != nil || got == cur || got.Rules[0].Name != "c" {
		t.Fatalf("good file not applied: %v", err)
	}
}
