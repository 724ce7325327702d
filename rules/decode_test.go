package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.yaml.errors from the current output")

// testEnv is the environment the testdata files are loaded with.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"SEATABLE_CRM_TOKEN": "tok", "CRM_WEBHOOK_SECRET": "sec", "SHOP_TOKEN": "shop",
		"CRM_TOKEN": "tok", "EMPTY": "",
	}[name]
	return v, ok
}

func TestGoodFiles(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d good files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(f, testEnv)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(cfg.Rules) == 0 || cfg.RuleSet().Len() != len(cfg.Rules) {
				t.Fatalf("got %d rules, rule set %d", len(cfg.Rules), cfg.RuleSet().Len())
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) < 8 {
		t.Fatalf("found %d bad files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			_, err := Load(f, testEnv)
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			got := strings.ReplaceAll(list.Error(), "testdata/", "") + "\n"
			if *update {
				if err := os.WriteFile(f+".errors", []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(f + ".errors")
			if err != nil {
				t.Fatalf("read expected errors: %v", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestStorageSyncAlways(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("s.yaml", []byte("storage: { dir: /tmp/x, sync_always: true }\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Storage.SyncAlways || cfg.Storage.Dir != "/tmp/x" {
		t.Errorf("storage = %+v", cfg.Storage)
	}
	if _, err := Parse("s.yaml", []byte("storage: { sync_always: maybe }\n"), func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "s.yaml:1:") {
		t.Errorf("a non-bool sync_always: %v", err)
	}
}
