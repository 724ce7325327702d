package rules

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestBudgetShareDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	src := `
bases:
  crm: { url: "https://seatable.example.com", api_token: tok }
  small: { url: "https://seatable.example.com", api_token: tok, limits: [ {window: 1m, calls: 10}, {window: 1h, calls: 100} ] }
  monthly: { url: "https://seatable.example.com", api_token: tok, limits: [ {window: 1m, calls: 200}, {window: month, calls: 30000} ] }
webhooks:
  - { name: form, path: /hooks/form, token: tok, rate_limit: { events: 20, per: 1s } }
  - { name: crm, path: /hooks/crm, seatable: { base: crm, secret: s } }
rules:
  - { name: hook-default, on: { webhook: form }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: hook-tenth, on: { webhook: crm }, budget_share: 0.1, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: hook-all, on: { webhook: crm }, budget_share: 1, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: nats-default, on: { nats: x }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: cron-default, on: { cron: "@hourly" }, do: [ { delete: { base: crm, table: T, row: r } } ] }
  - { name: seventy, on: { nats: y }, budget_share: "0.7", do: [ { delete: { base: crm, table: T, row: r } } ] }
`
	cfg, err := Parse("share.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"hook-default": DefaultWebhookBudgetShare, "hook-tenth": 0.1, "hook-all": 1,
		"nats-default": 1, "cron-default": 1, "seventy": 0.7,
	} {
		if got := cfg.Rule(name).BudgetShare; got != want {
			t.Errorf("%s: budget share %v, want %v", name, got, want)
		}
	}
	if w := cfg.Webhook("form"); w.RateLimit == nil || w.RateLimit.Events != 20 || w.RateLimit.Per != time.Second {
		t.Errorf("form rate limit %+v, want 20 per 1s", w.RateLimit)
	}
	if w := cfg.Webhook("crm"); w.RateLimit != nil {
		t.Errorf("crm rate limit %+v, want none", w.RateLimit)
	}

	day := 24 * time.Hour
	for _, tc := range []struct {
		base, rule string
		want       seaflow.Window
		capped     bool
	}{
		{"crm", "hook-default", seaflow.Window{Span: day, Calls: 2500}, true},
		{"crm", "hook-tenth", seaflow.Window{Span: day, Calls: 500}, true},
		{"small", "hook-tenth", seaflow.Window{Span: time.Hour, Calls: 10}, true},
		{"small", "seventy", seaflow.Window{Span: time.Hour, Calls: 70}, true}, // not 71
		{"monthly", "hook-tenth", seaflow.Window{Month: true, Calls: 3000}, true},
		{"crm", "hook-all", seaflow.Window{}, false},
		{"crm", "nats-default", seaflow.Window{}, false},
		{"crm", "cron-default", seaflow.Window{}, false},
		{"crm", "no-such-rule", seaflow.Window{}, false},
		{"nowhere", "hook-tenth", seaflow.Window{}, false},
		{"crm", "", seaflow.Window{}, false},
	} {
		l, ok := cfg.RuleLimits(tc.base, tc.rule)
		if ok != tc.capped {
			t.Errorf("%s/%s: capped %v, want %v", tc.base, tc.rule, ok, tc.capped)
			continue
		}
		if !ok {
			continue
		}
		if len(l.Windows) != 1 || l.Windows[0] != tc.want || l.UrgentReserve != 0 || l.BulkSegments != 1 {
			t.Errorf("%s/%s: limits %+v, want one window %+v, no reserve, no bulk pacing", tc.base, tc.rule, l, tc.want)
		}
		if err := l.Validate(); err != nil {
			t.Errorf("%s/%s: %v", tc.base, tc.rule, err)
		}
	}
	// Every rule here calls crm only: its cap elsewhere has no spend.
	if r := cfg.Rule("hook-tenth"); !r.Calls("crm") || r.Calls("small") || r.Calls("monthly") {
		t.Errorf("hook-tenth calls crm %v, small %v, monthly %v; want crm only", r.Calls("crm"), r.Calls("small"), r.Calls("monthly"))
	}
}

func TestShareOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		share float64
		calls int
		want  int
	}{
		{0.1, 100, 10}, {0.7, 100, 70}, {0.5, 5000, 2500}, {0.3, 10, 3},
		{0.15, 10, 2}, {0.0001, 100, 1}, {1, 5000, 5000}, {1.0 / 3, 100, 34},
	} {
		if got := ShareOf(tc.share, tc.calls); got != tc.want {
			t.Errorf("ShareOf(%v, %d) = %d, want %d", tc.share, tc.calls, got, tc.want)
		}
	}
}
