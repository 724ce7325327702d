package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestBasePlan(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("plan.yaml", []byte(`
bases:
  cloud:  { url: "https://cloud.seatable.io", api_token: t, plan: cloud }
  server: { url: "https://seatable.example.com", api_token: t, plan: server, urgent_reserve: 0 }
  legacy: { url: "https://seatable.example.com", api_token: t, plan: legacy }
  plain:  { url: "https://seatable.example.com", api_token: t }
rules:
  - { name: r, on: { cron: "@daily" }, do: [ { update: { base: cloud, table: T, row: x, values: { A: 1 } } } ] }
`), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		base    string
		plan    seaflow.Plan
		windows []seaflow.Window
		reserve int
	}{
		{"cloud", seaflow.PlanCloud, []seaflow.Window{{Span: time.Minute, Calls: 200}}, 20},
		{"server", seaflow.PlanServer, []seaflow.Window{{Span: time.Minute, Calls: 500}}, 0},
		{"legacy", seaflow.PlanLegacy, seaflow.LegacyWindows(), 500},
		{"plain", "", seaflow.LegacyWindows(), 500},
	} {
		b := cfg.Bases[c.base]
		if b.Plan != c.plan || !reflect.DeepEqual(b.Limits, c.windows) || b.UrgentReserve != c.reserve {
			t.Errorf("%s: plan %q limits %v reserve %d, want %q %v %d", c.base, b.Plan, b.Limits, b.UrgentReserve, c.plan, c.windows, c.reserve)
		}
	}
}
