package rules

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/seaflow/seaflow/seatable/emulator"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	summary, errs := Validate("../rules.example.yaml")
	if len(errs) != 0 || summary != "rules.example.yaml: 10 rules, 2 webhooks, 1 base: OK" {
		t.Errorf("Validate = %q, %v", summary, errs)
	}
	summary, errs = Validate("testdata/sql.bad.yaml")
	if summary != "" || len(errs) != 5 {
		t.Errorf("bad file: %q, %v", summary, errs)
	}
	if _, errs := Validate("testdata/no-such-file.yaml"); len(errs) != 1 || !strings.Contains(errs[0].Msg, "no such file") {
		t.Errorf("missing file: %v", errs)
	}
}

// fixtureMetadata serves the tables of an emulator fixture as metadata.
func fixtureMetadata(t *testing.T, path string) MetadataFunc {
	t.Helper()
	fx, err := emulator.LoadFixtureFile(path)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return func(_ context.Context, base string) (map[string][]string, error) {
		for _, b := range fx.Bases {
			if b.Name != base {
				continue
			}
			out := map[string][]string{}
			for _, tb := range b.Tables {
				for _, c := range tb.Columns {
					out[tb.Name] = append(out[tb.Name], c.Name)
				}
			}
			return out, nil
		}
		return nil, errors.New("no such base")
	}
}

func TestCheckOnlineExample(t *testing.T) {
	t.Parallel()
	cfg, err := Load("../rules.example.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if errs := cfg.CheckOnline(context.Background(), fixtureMetadata(t, cfg.Bases["crm"].Fixture)); len(errs) != 0 {
		t.Errorf("example does not match its fixture:\n%v", errs)
	}
}

func TestCheckOnlineFindsMismatches(t *testing.T) {
	t.Parallel()
	cfg := setup(t, `
  - name: r
    on: { nats: a }
    do:
      - update: { base: crm, table: Deals, row: "=msg.row", values: { Stage: Won, Stge: Won, Dyn: "=msg.v" } }
      - append: { base: crm, table: Dealz, values: { Stage: Won } }
      - append: { base: crm, table: Deals, values: { Stage: Won }, dedupe_column: Seaflow ID }
      - upsert: { base: crm, table: Deals, key: Idd, values: { Idd: "=msg.id" } }
      - link: { base: crm, table: Deals, column: Company, row: "=msg.row", other_rows: [] }
      - update: { base: crm, table: "=msg.table", row: "=msg.row", values: { Anything: 1 } }
`)
	meta := func(_ context.Context, base string) (map[string][]string, error) {
		return map[string][]string{"Deals": {"Stage", "Dyn", "Company"}}, nil
	}
	got := cfg.CheckOnline(context.Background(), meta).Error()
	want := strings.Join([]string{
		`test.yaml:12:83: rule "r": do[0].update.values.Stge: table "Deals" has no column "Stge"`,
		`test.yaml:13:37: rule "r": do[1].append.table: base "crm" has no table "Dealz"`,
		`test.yaml:14:83: rule "r": do[2].append.dedupe_column: table "Deals" has no column "Seaflow ID"`,
		`test.yaml:15:49: rule "r": do[3].upsert.key: table "Deals" has no column "Idd"`,
		`test.yaml:15:64: rule "r": do[3].upsert.values.Idd: table "Deals" has no column "Idd"`,
	}, "\n")
	if got != want {
		t.Errorf("CheckOnline:\n%s\nwant:\n%s", got, want)
	}
	failing := func(context.Context, string) (map[string][]string, error) { return nil, errors.New("403") }
	errs := cfg.CheckOnline(context.Background(), failing)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "bases.crm: fetch metadata: 403") {
		t.Errorf("metadata failure: %v", errs)
	}
}
