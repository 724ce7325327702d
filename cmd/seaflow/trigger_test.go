package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

const handConfig = `
server: { listen: "127.0.0.1:0", auth: none }
nats: { listen: "127.0.0.1:0" }
bases:
  crm: { url: "%s", api_token: "%s" }
webhooks:
  - { name: form, path: /hooks/form, token: "form-token" }
rules:
  - name: order-note
    on: { nats: shop.orders.created }
    do:
      - update: { base: crm, table: Deals, row: "=msg.row", values: { Note: "=msg.note" } }
  - name: yearly
    on: { cron: "0 0 1 1 *" }
    do:
      - append: { base: crm, table: Deals, values: { Name: manual, Note: "=event.id" } }
  - name: note
    on: { webhook: form }
    do:
      - update: { base: crm, table: Deals, row: "=body.row", values: { Note: "=body.note" } }
`

// TestTryByHand: nats.listen opens the embedded server on a port,
// `seaflow publish` feeds a NATS rule through it, and `seaflow trigger`
// fires a cron rule now under an id of its own; unknown and non-cron
// rules are refused with a clear error.
func TestTryByHand(t *testing.T) {
	d, b := startTestDaemon(t, handConfig)
	addr := d.q.ListenAddr()
	if addr == "" || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("nats.listen opened %q", addr)
	}
	nats := "nats://" + addr
	id := b.firstRowID(t)

	out, errOut, code := runCLI(t, nil, "publish", "shop.orders.created", `{"row":"`+id+`","note":"by hand"}`, "--nats", nats, "--id", "order-1")
	if code != 0 || !strings.Contains(out, "stored as event nats/shop.orders.created/order-1") {
		t.Fatalf("publish: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b.waitForCell(t, "Deals", "Note", "by hand")

	t.Run("publish errors are one readable line", func(t *testing.T) {
		cases := []struct {
			args []string
			want string
		}{
			{[]string{"publish", "no.rule.here", `{}`, "--nats", nats}, "Error: publish: nothing listens on no.rule.here"},
			{[]string{"publish", "shop.orders.created", `{oops`, "--nats", nats}, "Error: publish: the message is not JSON"},
			{[]string{"publish", "shop.orders.created", `{}`, "--nats", "nats://u:pw@127.0.0.1:1"}, "Error: publish: no NATS server answers at nats://127.0.0.1:1\nTry: "},
		}
		for _, c := range cases {
			_, errOut, code := runCLI(t, nil, c.args...)
			if code == 0 || !strings.HasPrefix(errOut, c.want) || strings.Contains(errOut, "pw") {
				t.Errorf("%v: exit %d, stderr %q", c.args, code, errOut)
			}
		}
	})

	out, errOut, code = runCLI(t, nil, "trigger", "yearly", "--url", b.url)
	if code != 0 || !strings.Contains(out, "event cron/yearly/manual/") {
		t.Fatalf("trigger: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b.waitForCell(t, "Deals", "Name", "manual")
	rows, _ := b.emu.Rows(b.base.UUID, "Deals")
	for _, r := range rows {
		if r["Name"] == "manual" && !strings.HasPrefix(r["Note"].(string), "cron/yearly/manual/") {
			t.Errorf("the manual run's event id is %q", r["Note"])
		}
	}

	for _, c := range []struct{ rule, want string }{
		{"nope", `Error: trigger nope: the daemon answered 404: no rule named "nope"`},
		{"note", `Error: trigger note: the daemon answered 400: rule "note" is a webhook rule: only cron rules can be triggered by hand`},
	} {
		if _, errOut, code := runCLI(t, nil, "trigger", c.rule, "--url", b.url); code != 1 || !strings.HasPrefix(errOut, c.want) {
			t.Errorf("trigger %s: exit %d, stderr %q", c.rule, code, errOut)
		}
	}

	// The scheduled tick is untouched: the cron cursor did not move.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, ok, err := d.q.CronCursor().Last(ctx, "yearly"); err != nil || ok {
		t.Errorf("cron cursor after a manual run: saved %v, err %v", ok, err)
	}
}

func TestNATSAddress(t *testing.T) {
	t.Parallel()
	cases := []struct{ url, storage, listen, want, err string }{
		{"nats://n:4222", "nats://s:4222", "", "nats://n:4222", ""},
		{"", "nats://s:4222", "", "nats://s:4222", ""},
		{"", "", "127.0.0.1:4222", "nats://127.0.0.1:4222", ""},
		{"", "", "0.0.0.0:4222", "nats://127.0.0.1:4222", ""},
		{"", "", "[::1]:4300", "nats://[::1]:4300", ""},
		{"", "", "", "", "opens no port"},
		{"", "", "127.0.0.1:0", "", "picks a free port"},
	}
	for _, c := range cases {
		got, err := natsAddress(c.url, c.storage, c.listen, "f.yaml")
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: got %q, %v", c, got, err)
		}
	}
}
