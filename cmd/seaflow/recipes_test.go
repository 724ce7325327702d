package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRecipesValidate keeps the documented recipes (docs/recipes/*.yaml)
// valid: each must pass `seaflow validate` with its secrets set.
func TestRecipesValidate(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "recipes", "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("recipes: %v %v", files, err)
	}
	env := map[string]string{
		"SEATABLE_PROJECTS_TOKEN": "t", "PROJECTS_WEBHOOK_SECRET": "s", "SEATABLE_CRM_TOKEN": "t",
		"SEATABLE_SHOP_TOKEN": "t", "CONTACT_FORM_TOKEN": "t",
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, errOut, code := runCLI(t, env, "validate", "--config", f)
			if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
				t.Errorf("exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}
