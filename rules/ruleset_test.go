package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func names(rs []*Rule) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func TestMatch(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - { name: exact, on: { nats: shop.orders.created }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: star, on: { nats: "shop.*.created" }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: rest, on: { nats: "shop.>" }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: other, on: { nats: billing.paid }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: hook1, on: { webhook: crm }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: hook2, on: { webhook: crm }, on_self: true, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: form, on: { webhook: form }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: nightly, on: { cron: "@daily" }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: hourly, on: { cron: "@hourly" }, do: [ { delete: { base: crm, table: T, row: r } } ] }
`)
	rs := cfg.RuleSet()
	tests := []struct {
		name string
		ev   seaflow.Event
		want string
	}{
		{"nats exact and wildcards, file order", seaflow.Event{Source: seaflow.SourceNATS, Name: "shop.orders.created"}, "exact,star,rest"},
		{"nats star", seaflow.Event{Source: seaflow.SourceNATS, Name: "shop.items.created"}, "star,rest"},
		{"nats > needs a token", seaflow.Event{Source: seaflow.SourceNATS, Name: "shop"}, ""},
		{"nats deep", seaflow.Event{Source: seaflow.SourceNATS, Name: "shop.a.b.c.d"}, "rest"},
		{"nats none", seaflow.Event{Source: seaflow.SourceNATS, Name: "billing.refunded"}, ""},
		{"webhook", seaflow.Event{Source: seaflow.SourceWebhook, Name: "crm"}, "hook1,hook2"},
		{"webhook self skips rules without on_self", seaflow.Event{Source: seaflow.SourceWebhook, Name: "crm", Self: true}, "hook2"},
		{"webhook other", seaflow.Event{Source: seaflow.SourceWebhook, Name: "form"}, "form"},
		{"webhook unknown", seaflow.Event{Source: seaflow.SourceWebhook, Name: "nope"}, ""},
		{"cron by rule", cronEvent("hourly", t0), "hourly"},
		{"cron unknown", cronEvent("weekly", t0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(rs.Match(&tt.ev)); got != tt.want {
				t.Errorf("Match = %q, want %q", got, tt.want)
			}
		})
	}
	if got := strings.Join(rs.NATSSubjects(), " "); got != "shop.orders.created shop.*.created shop.> billing.paid" {
		t.Errorf("NATSSubjects = %q", got)
	}
	if got := names(rs.CronRules()); got != "nightly,hourly" {
		t.Errorf("CronRules = %q", got)
	}
}

// manyRules builds a config with n rules spread over webhooks, NATS
// subjects and cron schedules, plus the benchmark's rule "won".
func manyRules(tb testing.TB, n int) *Config {
	tb.Helper()
	var b strings.Builder
	b.WriteString("bases:\n  crm: { url: \"https://seatable.example.com\", api_token: tok }\nwebhooks:\n")
	hooks := n/10 + 1
	for i := 0; i < hooks; i++ {
		fmt.Fprintf(&b, "  - { name: h%d, path: /h%d, token: t }\n", i, i)
	}
	b.WriteString("rules:\n")
	b.WriteString(`  - name: won
    on: { webhook: h0 }
    when: event.table == "Deals" && row.Stage == "Won"
    do: [ { update: { base: crm, table: Deals, row: "=event.row_id", values: { Won: true } } } ]
`)
	for i := 1; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "  - { name: r%d, on: { webhook: h%d }, when: 'row.Stage == \"S%d\"', do: [ { delete: { base: crm, table: T, row: r } } ] }\n", i, i%hooks, i)
		case 1:
			fmt.Fprintf(&b, "  - { name: r%d, on: { nats: \"orders.s%d.*\" }, do: [ { delete: { base: crm, table: T, row: r } } ] }\n", i, i)
		default:
			fmt.Fprintf(&b, "  - { name: r%d, on: { cron: \"%d * * * *\" }, do: [ { delete: { base: crm, table: T, row: r } } ] }\n", i, i%60)
		}
	}
	cfg, err := Parse("bench.yaml", []byte(b.String()), nil)
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return cfg
}

func benchMatch(b *testing.B, n int) {
	cfg := manyRules(b, n)
	rs := cfg.RuleSet()
	if rs.Len() != n {
		b.Fatalf("%d rules", rs.Len())
	}
	hook := seaflow.Event{Source: seaflow.SourceWebhook, Name: "h0"}
	msg := seaflow.Event{Source: seaflow.SourceNATS, Name: "orders.s1.created"}
	cron := cronEvent("r2", t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch i % 3 {
		case 0:
			rs.Match(&hook)
		case 1:
			rs.Match(&msg)
		default:
			rs.Match(&cron)
		}
	}
}

// BenchmarkMatch1 and BenchmarkMatch5000 match a webhook, a NATS and a cron
// event in turn; the cost per event should not grow with the rule count.
func BenchmarkMatch1(b *testing.B)    { benchMatch(b, 1) }
func BenchmarkMatch5000(b *testing.B) { benchMatch(b, 5000) }

// BenchmarkWhen evaluates the simple when: of a webhook rule.
func BenchmarkWhen(b *testing.B) {
	cfg := manyRules(b, 1)
	r := cfg.Rules[0]
	ev := seaflow.Event{Source: seaflow.SourceWebhook, Name: "h0", Table: "Deals", RowID: "R1",
		Row: map[string]any{"Stage": "Won"}, Old: map[string]any{"Stage": "Lead"}}
	env := newEnv(r.kind, &ev, nil, t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := run(r.when, env)
		if err != nil || out != true {
			b.Fatal(out, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

// BenchmarkEvaluate is a whole Evaluate of that rule: environment, when:
// and one update op.
func BenchmarkEvaluate(b *testing.B) {
	cfg := manyRules(b, 1)
	r := cfg.Rules[0]
	ev := seaflow.Event{ID: "e1", Source: seaflow.SourceWebhook, Name: "h0", Table: "Deals", RowID: "R1",
		Row: map[string]any{"Stage": "Won"}, Old: map[string]any{"Stage": "Lead"}}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := r.Evaluate(&ev, nil, now)
		if err != nil || len(out.Ops) != 1 {
			b.Fatal(out, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}
