package rules

import (
	"reflect"
	"testing"
	"time"
)

func TestWhenTables(t *testing.T) {
	t.Parallel()
	for src, want := range map[string][]string{
		`event.table == "Deals"`:                                                   {"Deals"},
		`"Deals" == event.table && row.Stage == "Won"`:                             {"Deals"},
		`row.Stage == "Won" && (event.table == "Deals" || event.table == "Leads")`: {"Deals", "Leads"},
		`event.table in ["A", "B"] && event.op_type == "modify_row"`:               {"A", "B"},
		`event["table"] == "X"`:                                                    {"X"},
		`event.table == "A" && event.table == "B"`:                                 {},
		`row.Stage == "Won"`:                                                       nil,
		`event.table == "A" || row.Stage == "Won"`:                                 nil,
		`event.table != "A"`:                                                       nil,
		``:                                                                         nil,
	} {
		got, ok := whenTables(src)
		if want == nil {
			if ok {
				t.Errorf("%s: %v, want any table", src, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v, want %v", src, got, ok, want)
		}
	}
}

func TestCatchUpConfig(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("catchup.yaml", []byte(`
bases:
  crm: { url: "https://cloud.seatable.io", api_token: t }
  shop: { url: "https://cloud.seatable.io", api_token: t }
webhooks:
  - { name: crm, path: /crm, seatable: { base: crm, secret: s, catch_up: { every: 2m } } }
  - { name: shop, path: /shop, seatable: { base: shop, secret: s, catch_up: { tables: [Orders], lag: 30s } } }
rules:
  - name: won
    on: { webhook: crm }
    when: event.table == "Deals" && row.Stage == "Won"
    do: [ { update: { base: crm, table: Deals, row: "=event.row_id", values: { A: 1 } } } ]
  - name: leads
    on: { webhook: crm }
    when: event.table in ["Leads", "Deals"]
    do: [ { update: { base: crm, table: Leads, row: "=event.row_id", values: { A: 1 } } } ]
  - name: anything
    on: { webhook: shop }
    do: [ { update: { base: shop, table: Orders, row: "=event.row_id", values: { A: 1 } } } ]
`), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	crm, shop := cfg.Webhook("crm").SeaTable.CatchUp, cfg.Webhook("shop").SeaTable.CatchUp
	if crm.Every != 2*time.Minute || crm.Lag != DefaultCatchUpLag || !crm.Inferred || !reflect.DeepEqual(crm.Tables, []string{"Deals", "Leads"}) {
		t.Errorf("crm catch-up %+v", crm)
	}
	if shop.Every != DefaultCatchUpEvery || shop.Lag != 30*time.Second || shop.Inferred || !reflect.DeepEqual(shop.Tables, []string{"Orders"}) {
		t.Errorf("shop catch-up %+v", shop)
	}
	if n := len(cfg.CatchUps()); n != 2 {
		t.Errorf("%d catch-ups", n)
	}
}
