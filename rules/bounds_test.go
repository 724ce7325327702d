package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// boundsConfig is a config whose one NATS rule has when: src.
func boundsConfig(when string) string {
	return fmt.Sprintf(`bases:
  crm: { url: "https://seatable.example.com", api_token: tok }
rules:
  - name: big
    on: { nats: x }
    when: %q
    do: [ { delete: { base: crm, table: T, row: r } } ]
`, when)
}

func TestExpressionsBoundedAtLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, when string
		col        int
	}{
		// 5,000 nodes: 2,500 literals, 2,499 additions, a comparison; expr
		// stops parsing at node 1,001 (column 2014).
		{"5000 nodes", strings.Repeat("1 + ", 2499) + "1 > 0", 2014},
		// 500 levels of parentheses around a comparison.
		{"500 deep", strings.Repeat("(", 500) + "1 > 0" + strings.Repeat(")", 500), 11 + 1 + MaxNesting},
		// 500 nested calls.
		{"500 nested calls", strings.Repeat("not (", 500) + "true" + strings.Repeat(")", 500), 11 + 1 + 5*MaxNesting + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("bounds.yaml", []byte(boundsConfig(tc.when)), func(string) (string, bool) { return "", false })
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("got %v, want the expression refused", err)
			}
			e := list[0]
			if e.File != "bounds.yaml" || e.Line != 6 || e.Col != tc.col || e.Rule != "big" || e.Field != "when" {
				t.Errorf("error at %s:%d:%d rule %q field %q, want bounds.yaml:6:%d rule big, when: %v", e.File, e.Line, e.Col, e.Rule, e.Field, tc.col, e)
			}
			t.Logf("%v", e)
		})
	}
}

func TestNestingIgnoresBracketsInStrings(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", 150)
	for _, src := range []string{
		`"` + deep + `" != ""`,
		`'` + deep + `' != ""`,
		"`" + deep + "` != \"\"",
		`"\"` + deep + `" != ""`,
	} {
		if err := checkNesting(src); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	if err := checkNesting(strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting)); err != nil {
		t.Errorf("MaxNesting levels refused: %v", err)
	}
}

func TestExpressionBlowUpStopsOnlyItsEvent(t *testing.T) {
	t.Parallel()
	for _, when := range []string{
		`len(repeat("x", 10000000)) > 0`,
		`len(1..10000000) > 0`,
		`all(1..300, {all(1..300, {all(1..300, {# > 0})})})`,
		`len(join(map(1..50000, {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}), "")) > 0`,
	} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			// The rule blows up only when the message says so.
			cfg := setup(t, fmt.Sprintf(`
  - name: greedy
    on: { nats: x }
    when: %q
    do: [ { delete: { base: crm, table: T, row: r } } ]
`, "msg.big ? ("+when+") : true"))
			big, _ := natsEvent("x", "m1", []byte(`{"big": true}`), t0)
			if _, err := cfg.Rules[0].Evaluate(&big, nil, t0); err == nil || !strings.Contains(err.Error(), "memory budget") {
				t.Fatalf("want a memory budget error, got %v", err)
			}
			small, _ := natsEvent("x", "m2", []byte(`{"big": false}`), t0)
			out, err := cfg.Rules[0].Evaluate(&small, nil, t0)
			if err != nil || !out.When || len(out.Ops) != 1 {
				t.Fatalf("next event: %+v, %v; want one op", out, err)
			}
		})
	}
}

// BenchmarkExpressionBlowUp measures what one refused evaluation costs
// before the memory budget stops it (the per-event bound of a hostile or
// mistaken expression).
func BenchmarkExpressionBlowUp(b *testing.B) {
	for _, when := range []string{
		`len(repeat("x", 10000000)) > 0`,
		`len(map(1..90000, {#})) > 0`,
		`all(1..300, {all(1..300, {all(1..300, {# > 0})})})`,
		`len(join(map(1..50000, {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}), "")) > 0`,
	} {
		b.Run(when, func(b *testing.B) {
			cfg, err := Parse("bench.yaml", []byte(boundsConfig(when)), func(string) (string, bool) { return "", false })
			if err != nil {
				b.Fatal(err)
			}
			ev, _ := natsEvent("x", "m", []byte(`{}`), t0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cfg.Rules[0].Evaluate(&ev, nil, t0); err == nil {
					b.Fatal("no error")
				}
			}
		})
	}
}
