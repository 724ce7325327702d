package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/seaflow/seaflow"
)

// FuzzParse feeds the loader arbitrary files: it must never panic, must
// return either a config or an ErrorList with positions, and a config it
// accepts must match and evaluate events without panicking.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "../rules.example.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("rules: [ { name: a, on: { nats: x }, do: [ { sql: { base: b, sql: \"UPDATE t SET a=?\", params: [\"=msg\"] } } ] } ]"))
	env := func(k string) (string, bool) {
		if k == "SET" {
			return "value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("testdata/fuzz.yaml", data, env)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			return
		}
		rs := cfg.RuleSet()
		events := []seaflow.Event{
			{ID: "n", Source: seaflow.SourceNATS, Name: "x", Msg: map[string]any{"id": "1"}},
			{ID: "w", Source: seaflow.SourceWebhook, Name: "crm-changes", Row: map[string]any{}, Old: map[string]any{}},
		}
		for _, r := range rs.CronRules() {
			events = append(events, cronEvent(r.Name, t0))
		}
		for i := range events {
			for _, r := range rs.Match(&events[i]) {
				if fe := r.ForEach(); fe != nil {
					_, _ = fe.Params(&events[i])
				}
				_, _ = r.Evaluate(&events[i], map[string]any{"_id": "r"}, t0)
			}
		}
	})
}

// FuzzCompileExpr compiles arbitrary expressions in every environment and
// runs those that compile in a sample environment: neither may panic.
func FuzzCompileExpr(f *testing.F) {
	for _, s := range []string{
		`event.table == "Deals" && row.Stage == "Won"`,
		`item.Due < now()`,
		`format(addDays(now(), -90), "2006-01-02")`,
		`msg.total > 100 ? "big" : "small"`,
		`len(1..100) + days(2).Hours()`,
		`toTime(item.Due) > now() - days(1)`,
		`body?.company ?? "none"`,
		`lower(trim(event.op_user)) contains "bot"`,
		`[1, 2, 3] | map(# * 2) | sum()`,
	} {
		f.Add(s)
	}
	ev := seaflow.Event{ID: "e", Source: seaflow.SourceWebhook, Name: "h", Table: "Deals", Time: t0,
		Row: map[string]any{"Stage": "Won"}, Old: map[string]any{}, Body: map[string]any{"company": "Acme"}, Msg: map[string]any{"total": 5.0}}
	item := map[string]any{"_id": "r", "Due": "2026-01-01"}
	f.Fuzz(func(t *testing.T, src string) {
		for _, k := range []envKind{envWebhook, envNATS, envCron, envCronItem} {
			for _, asBool := range []bool{false, true} {
				p, err := compileExpr(src, k, asBool)
				if err != nil {
					_, _, _ = exprErrorAt(err)
					continue
				}
				_, _ = run(p, newEnv(k, &ev, item, t0))
			}
		}
	})
}
