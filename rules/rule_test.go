package rules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// setup parses a config made of the test bases and webhooks plus rules.
func setup(t *testing.T, rulesYAML string) *Config {
	t.Helper()
	src := `
bases:
  crm: { url: "https://seatable.example.com", api_token: tok }
webhooks:
  - { name: crm, path: /hooks/crm, seatable: { base: crm, secret: s3cret } }
  - { name: form, path: /hooks/form, token: tok }
rules:
` + rulesYAML
	cfg, err := Parse("test.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestEvaluateActions(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - name: all
    on: { nats: "orders.new" }
    do:
      - append: { base: crm, table: Log, values: { Msg: "=msg.id", Count: 3, Flag: true, Tags: [a, "=msg.id"], Lit: "==x" } }
      - update: { base: crm, table: "=msg.table", row: "=msg.row", values: "=msg.fields" }
      - upsert: { base: crm, table: Orders, key: Id, values: { Id: "=msg.id" } }
      - delete: { base: crm, table: T, row: r1 }
      - lock: { base: crm, table: T, row: "=msg.row" }
      - unlock: { base: crm, table: T, row: "=msg.row" }
      - link: { base: crm, table: T, column: C, row: "=msg.row", other_rows: [o1, "=msg.id"] }
      - sql: { base: crm, sql: "UPDATE T SET a = ? WHERE b = ? AND c = '?'", params: ["=msg.id", 7] }
`)
	ev, err := natsEvent("orders.new", "m1", []byte(`{"id":"X1","table":"Deals","row":"R1","fields":{"A":1}}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	rules := cfg.RuleSet().Match(&ev)
	if len(rules) != 1 {
		t.Fatalf("matched %d rules", len(rules))
	}
	out, err := rules[0].Evaluate(&ev, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !out.When || len(out.Ops) != 8 {
		t.Fatalf("when %v, %d ops", out.When, len(out.Ops))
	}
	for i, op := range out.Ops {
		if op.ID != "nats/orders.new/m1/all/"+string(rune('0'+i)) || op.Lane != seaflow.Normal || op.Depth != 1 || !op.CreatedAt.Equal(t0) || op.Rule != "all" || op.EventID != "nats/orders.new/m1" || op.Base != "crm" {
			t.Errorf("op %d: common fields %+v", i, op)
		}
	}
	o := out.Ops
	check := func(cond bool, format string, args ...any) {
		t.Helper()
		if !cond {
			t.Errorf(format, args...)
		}
	}
	check(o[0].Kind == seaflow.KindAppend && o[0].Table == "Log" && o[0].Values["Msg"] == "X1" && o[0].Values["Count"] == 3 &&
		o[0].Values["Flag"] == true && o[0].Values["Lit"] == "=x", "append: %+v", o[0])
	tags, _ := o[0].Values["Tags"].([]any)
	check(len(tags) == 2 && tags[0] == "a" && tags[1] == "X1", "append tags: %v", o[0].Values["Tags"])
	check(o[1].Kind == seaflow.KindUpdate && o[1].Table == "Deals" && o[1].RowID == "R1" && o[1].Values["A"] == 1.0, "update: %+v", o[1])
	check(o[2].Kind == seaflow.KindUpsert && o[2].Key == "Id" && o[2].Values["Id"] == "X1", "upsert: %+v", o[2])
	check(o[3].Kind == seaflow.KindDelete && o[3].RowID == "r1" && o[3].Table == "T", "delete: %+v", o[3])
	check(o[4].Kind == seaflow.KindLock && o[4].RowID == "R1", "lock: %+v", o[4])
	check(o[5].Kind == seaflow.KindUnlock && o[5].RowID == "R1", "unlock: %+v", o[5])
	check(o[6].Kind == seaflow.KindLink && o[6].LinkColumn == "C" && strings.Join(o[6].OtherRowIDs, ",") == "o1,X1", "link: %+v", o[6])
	check(o[7].Kind == seaflow.KindSQL && o[7].Statement == "UPDATE T SET a = ? WHERE b = ? AND c = '?'" &&
		len(o[7].Params) == 2 && o[7].Params[0] == "X1" && o[7].Params[1] == 7 && o[7].Table == "", "sql: %+v", o[7])
}

func TestEvaluateWhenAndRuntimeErrors(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - name: big
    on: { nats: orders.new }
    when: msg.total > 100
    priority: bulk
    do:
      - update: { base: crm, table: T, row: "=msg.row", values: { Total: "=msg.total", At: "=now()", Tomorrow: "=now() + days(1)" } }
`)
	r := cfg.Rules[0]
	run := func(data string) (Outcome, error) {
		ev, err := natsEvent("orders.new", "m", []byte(data), t0)
		if err != nil {
			t.Fatal(err)
		}
		return r.Evaluate(&ev, nil, t0)
	}
	out, err := run(`{"total": 5, "row": "R"}`)
	if err != nil || out.When || len(out.Ops) != 0 {
		t.Errorf("small order: %+v, %v", out, err)
	}
	out, err = run(`{"total": 500, "row": "R"}`)
	if err != nil || !out.When || len(out.Ops) != 1 {
		t.Fatalf("big order: %+v, %v", out, err)
	}
	op := out.Ops[0]
	if op.Lane != seaflow.Bulk || op.Values["At"] != t0 || op.Values["Tomorrow"] != t0.Add(24*time.Hour) {
		t.Errorf("op %+v", op)
	}
	// A failure for one event is an error for that event only.
	for _, tc := range []struct{ data, want string }{
		{`{"total": "lots"}`, `rule "big": when:`},
		{`{"total": 500, "row": 42}`, `rule "big": do[0].update.row: got float64, want a string`},
		{`{"total": 500}`, `rule "big": do[0].update.row: got <nil>, want a string`},
		{`{"total": 500, "row": ""}`, `do[0].update.row: is empty`},
	} {
		out, err := run(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(out.Ops) != 0 {
			t.Errorf("%s: got %+v, %v; want error %q", tc.data, out, err, tc.want)
		}
	}
	// The rule still works for the next event.
	if out, err := run(`{"total": 101, "row": "R2"}`); err != nil || len(out.Ops) != 1 {
		t.Errorf("after errors: %+v, %v", out, err)
	}
}

func TestEvaluateMemoryBudget(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - name: greedy
    on: { nats: x }
    when: len(1..10000000) > 0
    do: [ { delete: { base: crm, table: T, row: r } } ]
`)
	ev, _ := natsEvent("x", "m", []byte(`{}`), t0)
	if _, err := cfg.Rules[0].Evaluate(&ev, nil, t0); err == nil || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("want a memory budget error, got %v", err)
	}
}

func TestEvaluateForEach(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - name: overdue
    on: { cron: "0 2 * * *", tz: Europe/Berlin }
    for_each: { base: crm, sql: "SELECT _id, Due FROM Tasks WHERE Due < ? AND Owner = ?", params: ['=format(event.time, "2006-01-02")', bob] }
    when: item.Due < now()
    do:
      - update: { base: crm, table: Tasks, row: "=item._id", values: { Status: Overdue, Was: "=item.Due" } }
`)
	r := cfg.Rules[0]
	if r.Priority != seaflow.Bulk || r.Lane() != seaflow.Bulk || r.Location().String() != "Europe/Berlin" {
		t.Errorf("priority %s, zone %v", r.Priority, r.Location())
	}
	if next := r.Schedule().Next(t0); !next.Equal(time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("next run %v, want 02:00 Berlin = 01:00 UTC", next)
	}
	ev := cronEvent("overdue", time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC))
	fe := r.ForEach()
	params, err := fe.Params(&ev)
	if err != nil || fe.Base != "crm" || len(params) != 2 || params[0] != "2026-11-26" || params[1] != "bob" {
		t.Fatalf("for_each %+v params %v, %v", fe, params, err)
	}
	out, err := r.Evaluate(&ev, map[string]any{"_id": "T1", "Due": "2026-11-20"}, ev.Time)
	if err != nil || len(out.Ops) != 1 {
		t.Fatalf("due item: %+v, %v", out, err)
	}
	op := out.Ops[0]
	if op.ID != "cron/overdue/2026-11-26T01:00:00Z/overdue/0/T1" || op.RowID != "T1" {
		t.Errorf("op %+v", op)
	}
	if _, ok := op.Values["Was"].(time.Time); !ok {
		t.Errorf("date string in item was not turned into a time: %T", op.Values["Was"])
	}
	out, err = r.Evaluate(&ev, map[string]any{"_id": "T2", "Due": "2026-12-20T00:00:00+01:00"}, ev.Time)
	if err != nil || out.When || len(out.Ops) != 0 {
		t.Errorf("future item: %+v, %v", out, err)
	}
	// Items without _id get a stable content key (map order does not matter).
	k1 := itemKey(map[string]any{"a": 1, "b": "x", "c": nil})
	k2 := itemKey(map[string]any{"c": nil, "b": "x", "a": 1})
	k3 := itemKey(map[string]any{"a": 2, "b": "x", "c": nil})
	if k1 != k2 || k1 == k3 || len(k1) != 16 || itemKey(map[string]any{"_id": "R"}) != "R" {
		t.Errorf("item keys %q %q %q", k1, k2, k3)
	}
}

func TestDefaultPriorities(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - { name: w, on: { webhook: crm }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: n, on: { nats: a }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: c, on: { cron: "@daily" }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: p, on: { cron: "@daily" }, priority: urgent, do: [ { delete: { base: crm, table: T, row: r } } ] }
`)
	want := []seaflow.Lane{seaflow.Urgent, seaflow.Normal, seaflow.Bulk, seaflow.Urgent}
	for i, r := range cfg.Rules {
		if r.Lane() != want[i] {
			t.Errorf("rule %s: lane %s, want %s", r.Name, r.Lane(), want[i])
		}
	}
}

func TestParseErrorListIsComplete(t *testing.T) {
	t.Parallel()
	_, err := Parse("x.yaml", []byte("rules:\n  - name: a\n    on: { nats: a }\n    when: nope(\n    do: []\n  - name: b\n"), nil)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 4 {
		t.Fatalf("got %v", err)
	}
	for _, e := range list {
		if e.File != "x.yaml" || e.Line == 0 || e.Col == 0 {
			t.Errorf("no position: %v", e)
		}
	}
	if _, err := Parse("empty.yaml", nil, nil); err == nil || err.Error() != "empty.yaml:1:1: empty config file" {
		t.Errorf("empty: %v", err)
	}
	if _, err := Parse("syntax.yaml", []byte("a: [\n"), nil); err == nil || !strings.HasPrefix(err.Error(), "syntax.yaml:") {
		t.Errorf("yaml syntax: %v", err)
	}
	if (ErrorList(nil)).Err() != nil {
		t.Error("empty ErrorList as error is not nil")
	}
}

func TestAppendDedupeColumn(t *testing.T) {
	t.Parallel()
	env := func(string) (string, bool) { return "", false }
	cfg, err := Parse("d.yaml", []byte(`
bases: { crm: { url: "https://x.example", api_token: t } }
webhooks: [ { name: form, path: /f, token: k } ]
rules:
  - name: lead
    on: { webhook: form }
    do:
      - append: { base: crm, table: Leads, values: { Name: "=body.name" }, dedupe_column: Seaflow ID }
`), env)
	if err != nil {
		t.Fatal(err)
	}
	ev := seaflow.Event{ID: "webhook/form/abc", Source: seaflow.SourceWebhook, Name: "form", Time: t0, Body: map[string]any{"name": "Ada"}}
	out, err := cfg.RuleSet().Match(&ev)[0].Evaluate(&ev, nil, t0)
	if err != nil || len(out.Ops) != 1 {
		t.Fatalf("evaluate: %v %+v", err, out)
	}
	op := out.Ops[0]
	if op.DedupeColumn != "Seaflow ID" || op.Values["Seaflow ID"] != op.ID || op.Values["Name"] != "Ada" {
		t.Errorf("op = %+v, want the op id in the dedupe column", op)
	}
	_, err = Parse("d.yaml", []byte(`
bases: { crm: { url: "https://x.example", api_token: t } }
webhooks: [ { name: form, path: /f, token: k } ]
rules:
  - name: lead
    on: { webhook: form }
    do:
      - append: { base: crm, table: Leads, values: { Name: x }, dedupe_column: "=body.col" }
`), env)
	if err == nil || !strings.Contains(err.Error(), "d.yaml:8:") || !strings.Contains(err.Error(), "dedupe_column") {
		t.Errorf("an expression as dedupe_column: %v", err)
	}
}
