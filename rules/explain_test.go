package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	order := &seaflow.Event{ID: "nats/o/1", Source: seaflow.SourceNATS, Name: "shop.orders.created",
		Msg: map[string]any{"id": "A-1", "total": 9.5, "customer": "Acme", "items": []any{1.0, 2.0, 3.0}}}

	t.Run("each sub-expression with its value, outermost first", func(t *testing.T) {
		t.Parallel()
		steps, err := Explain(`msg.total > 5 && lower(msg.customer) == "acme"`, order, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		want := []Step{
			{0, `msg.total > 5 && lower(msg.customer) == "acme"`, true, ""},
			{1, "msg.total > 5", true, ""},
			{2, "msg.total", 9.5, ""},
			{1, `lower(msg.customer) == "acme"`, true, ""},
			{2, "lower(msg.customer)", "acme", ""},
			{3, "msg.customer", "Acme", ""},
		}
		if len(steps) != len(want) {
			t.Fatalf("got %d steps %+v, want %d", len(steps), steps, len(want))
		}
		for i := range want {
			if steps[i] != want[i] {
				t.Errorf("step %d = %+v, want %+v", i, steps[i], want[i])
			}
		}
	})

	t.Run("now(), closures and errors of a skipped side", func(t *testing.T) {
		t.Parallel()
		steps, err := Explain(`msg.nope != nil && msg.nope.deep == 1 || len(filter(msg.items, # > 1)) == 2 && now().Year() == 2026`, order, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Step{}
		for _, s := range steps {
			got[s.Expr] = s
		}
		if s := got["msg.nope.deep"]; s.Err == "" {
			t.Errorf("msg.nope.deep on its own: %+v, want an error", s)
		}
		if s := got["filter(msg.items, # > 1)"]; s.Err != "" || len(s.Value.([]any)) != 2 {
			t.Errorf("filter: %+v", s)
		}
		if _, ok := got["# > 1"]; ok {
			t.Errorf("a closure's body is listed: %+v", steps)
		}
		if s := got["now().Year()"]; s.Value != 2026 {
			t.Errorf("now().Year() = %+v", s)
		}
		if steps[0].Value != true {
			t.Errorf("whole = %+v", steps[0])
		}
	})

	t.Run("the environment follows the event: item for a for_each row", func(t *testing.T) {
		t.Parallel()
		cron := &seaflow.Event{ID: "cron/x/t", Source: seaflow.SourceCron, Name: "x", Rule: "x", Time: now}
		steps, err := Explain(`item.Due < now()`, cron, map[string]any{"Due": now.Add(-time.Hour)}, now)
		if err != nil || steps[0].Value != true {
			t.Fatalf("%+v %v", steps, err)
		}
		if _, err := Explain(`msg.total`, cron, nil, now); err == nil || !strings.Contains(err.Error(), "unknown name msg") {
			t.Errorf("msg in a cron environment: %v", err)
		}
		if _, err := Explain(`1 +`, order, nil, now); err == nil {
			t.Error("a syntax error explained")
		}
	})

	t.Run("a rule's when:", func(t *testing.T) {
		t.Parallel()
		cfg, err := Parse("t.yaml", []byte(`
bases: { crm: { url: "https://x.example", api_token: t } }
rules:
  - name: big-orders
    on: { nats: shop.orders.created }
    when: msg.total > 100
    do: [ { sql: { base: crm, sql: "DELETE FROM T WHERE x = 1" } } ]
`), nil)
		if err != nil {
			t.Fatal(err)
		}
		steps, err := cfg.Rule("big-orders").Explain(order, nil, now)
		if err != nil || steps[0].Value != false || steps[1].Expr != "msg.total" {
			t.Errorf("%+v %v", steps, err)
		}
	})
}
