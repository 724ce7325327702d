package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	order := write("order.json", `{"source":"nats","name":"shop.orders.created","msg":{"id":"A-1","total":9.5,"customer":"Acme"}}`)
	natsInput := write("order.yaml", "nats: { subject: shop.orders.created, data: { id: A-2, total: 120 } }\n")
	dealWon := write("deal.yaml", `now: 2026-11-26T10:00:00Z
webhook:
  name: crm-changes
  body: '{"event":"update","data":{"dtable_uuid":"fae0a3a42ba94df88e8303fd385e37de","row_id":"QoNno3QiTF26sxmG1sl3_g","op_type":"modify_row","op_time":1795000000.5,"table_id":"0001","table_name":"Deals","row_data":[{"column_key":"s7Ag","column_name":"Stage","column_type":"single-select","column_data":{"options":[{"name":"Lead","id":"101"},{"name":"Won","id":"103"}]},"value":"103","old_value":"101"}]}}'
`)
	example := repoFile("rules.example.yaml")

	cases := []struct {
		name string
		args []string
		code int
		want []string // lines, each with its leading spaces, then the value
	}{
		{"an expression on a stored event", []string{"eval", `msg.total > 5 && msg.customer == "Acme"`, "--event", order}, 0,
			[]string{`msg.total > 5 && msg.customer == "Acme"   true`, `  msg.total > 5`, `    msg.total`, `9.5`, `    msg.customer`, `"Acme"`}},
		{"a rule-test NATS input needs no config", []string{"eval", "--event", natsInput, "msg.total * 2"}, 0,
			[]string{"msg.total * 2   240", "  msg.total"}},
		{"a rule's when: for a SeaTable webhook body", []string{"eval", "--rule", "stamp-won-deals", "--event", dealWon, "--config", example}, 0,
			[]string{`row.Stage`, `"Won"`, `old.Stage`, `"Lead"`}},
		{"now() is the --now clock", []string{"eval", "format(now(), \"2006\")", "--event", order, "--now", "2031-01-02T00:00:00Z"}, 0,
			[]string{`"2031"`}},
		{"a failing expression shows its parts and exits 1", []string{"eval", "msg.nope.x", "--event", order}, 1,
			[]string{"msg.nope.x   error: cannot fetch x from <nil>", "  msg.nope   nil"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runCLI(t, nil, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("a webhook input without --config says what is missing", func(t *testing.T) {
		t.Parallel()
		_, errOut, code := runCLI(t, nil, "eval", "row.Stage", "--event", dealWon)
		if code != 1 || !strings.Contains(errOut, "Try: webhook: and cron: inputs go through a config's triggers: pass --config FILE") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}
