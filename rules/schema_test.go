package rules

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestKeysTable: the decoder takes its allowed keys from ConfigKeys, so an
// unknown key's error lists exactly the table's keys.
func TestKeysTable(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", "server", "storage", "nats", "bases", "bases.limits", "webhooks", "webhooks.seatable",
		"webhooks.hmac", "webhooks.rate_limit", "rules", "rules.on", "rules.for_each"} {
		if k := ConfigKeys; path != "" && ConfigKeys.At(path) == nil || k == nil {
			t.Errorf("no %q in ConfigKeys", path)
		}
	}
	_, err := Parse("t.yaml", []byte("nats: { url: x, lisen: y }\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "nats.lisen: unknown key (want "+strings.Join(keyNames("nats"), ", ")+")") {
		t.Errorf("unknown key: %v", err)
	}
	if got := len(ActionKeys()); got != len(actionFields) {
		t.Errorf("ActionKeys has %d kinds, actionFields %d", got, len(actionFields))
	}
	for _, a := range ActionKeys() {
		for _, f := range a.Keys {
			if f.Doc == "" {
				t.Errorf("%s.%s has no doc", a.Name, f.Name)
			}
		}
	}
	var walk func(k *Key, path string)
	walk = func(k *Key, path string) {
		if k.Doc == "" && k.Type != KeyValue && k.Type != KeyAction {
			t.Errorf("%s has no doc", path)
		}
		for _, c := range k.Keys {
			walk(c, path+"."+c.Name)
		}
		if k.Elem != nil {
			walk(k.Elem, path+"[]")
		}
	}
	walk(ConfigKeys, "")
}

// TestJSONSchema validates every config the repository ships against the
// schema, and a few bad ones, with Python's jsonschema when it is there.
func TestJSONSchema(t *testing.T) {
	t.Parallel()
	schema, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	props := s["properties"].(map[string]any)
	for _, name := range keyNames("") {
		if props[name] == nil {
			t.Errorf("schema lacks %s", name)
		}
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the schema is not validated against the configs")
	}
	if err := exec.Command("python3", "-c", "import jsonschema").Run(); err != nil {
		t.Skip("python3 has no jsonschema module (pip install jsonschema, or Debian python3-jsonschema): the schema is not validated against the configs")
	}
	good, _ := filepath.Glob("testdata/*.good.yaml")
	recipes, _ := filepath.Glob("../docs/recipes/*.yaml")
	good = append(good, recipes...)
	good = append(good, "../rules.example.yaml", "../deploy/seaflow.cluster.yaml")
	docs := map[string]any{}
	for _, f := range good {
		docs[f] = yamlAsJSON(t, f)
	}
	bad := map[string]string{
		"unknown top key":   "sever: {listen: x}\n",
		"unknown nats key":  "nats: {lisen: x}\n",
		"action kind":       "rules: [{name: a, on: {cron: '@daily'}, do: [{apend: {base: b, table: t, values: {}}}]}]\n",
		"action field":      "rules: [{name: a, on: {cron: '@daily'}, do: [{delete: {base: b, table: t, row: x, rows: y}}]}]\n",
		"missing required":  "bases: {crm: {api_token: x}}\n",
		"bad priority":      "rules: [{name: a, on: {cron: '@daily'}, priority: high, do: [{sql: {base: b, sql: 'DELETE FROM t'}}]}]\n",
		"integer not text":  "bases: {crm: {url: emulator, urgent_reserve: lots}}\n",
		"base name pattern": "bases: {'my base': {url: emulator}}\n",
	}
	for name, src := range bad {
		var v any
		if err := yaml.Unmarshal([]byte(src), &v); err != nil {
			t.Fatal(err)
		}
		docs["bad: "+name] = v
	}
	in, _ := json.Marshal(map[string]any{"schema": json.RawMessage(schema), "docs": docs})
	const script = `
import json, sys, jsonschema
d = json.load(sys.stdin)
v = jsonschema.Draft7Validator(d["schema"])
jsonschema.Draft7Validator.check_schema(d["schema"])
for name, doc in sorted(d["docs"].items()):
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    print(json.dumps({"name": name, "errors": [e.message[:200] + " at " + "/".join(map(str, e.absolute_path)) for e in errs]}))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 jsonschema: %v\n%s", err, stderr.String())
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Name   string
			Errors []string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		seen++
		switch isBad := strings.HasPrefix(r.Name, "bad: "); {
		case isBad && len(r.Errors) == 0:
			t.Errorf("%s: the schema accepts it", r.Name)
		case !isBad && len(r.Errors) > 0:
			t.Errorf("%s: the schema refuses a config the loader accepts: %s", r.Name, strings.Join(r.Errors, "; "))
		}
	}
	if seen != len(docs) {
		t.Errorf("validated %d documents of %d", seen, len(docs))
	}
}

// yamlAsJSON reads a YAML file as the JSON value an editor's schema
// validator sees.
func yamlAsJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}
