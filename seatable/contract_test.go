package seatable_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// contractFixture is the emulator's base for the contract suite.
const contractFixture = `
bases:
  - name: contract
    tables:
      - name: Contract
        columns:
          - { name: Name, type: text }
          - { name: Stage, type: single-select, options: [Lead, Won, Lost] }
          - { name: Amount, type: number }
          - { name: Company, type: link, table: Companies }
        rows:
          - { Name: someone else's row, Stage: Won, Amount: 1 }
      - name: Companies
        columns:
          - { name: Title, type: text }
`

// TestContractEmulator runs the contract suite against the emulator, over
// loopback as a real server would be reached.
func TestContractEmulator(t *testing.T) {
	t.Parallel()
	emu, url, base := contractEmulator(t, emulator.Options{})
	// Runs after the suite's own cleanup (cleanups run last first).
	t.Cleanup(func() {
		if rows, _ := emu.Rows(base.UUID, "Contract"); len(rows) != 1 {
			t.Errorf("%d rows left, want only the fixture's", len(rows))
		}
	})
	runContract(t, seatable.New(seatable.Config{ServerURL: url, APIToken: base.APIToken}), "Contract")
}

// liveServer returns SEATABLE_URL, SEATABLE_API_TOKEN and SEATABLE_TABLE
// (default "Contract"), or skips the test when the first two are unset.
func liveServer(t *testing.T) (server, token, table string) {
	t.Helper()
	server, token = os.Getenv("SEATABLE_URL"), os.Getenv("SEATABLE_API_TOKEN")
	if server == "" || token == "" {
		t.Skip("SEATABLE_URL and SEATABLE_API_TOKEN not set")
	}
	table = os.Getenv("SEATABLE_TABLE")
	if table == "" {
		table = "Contract"
	}
	return server, token, table
}

// contractEmulator serves contractFixture from an emulator with opts on
// loopback and returns it, its URL and the base.
func contractEmulator(t *testing.T, opts emulator.Options) (*emulator.Emulator, string, emulator.BaseInfo) {
	t.Helper()
	emu := emulator.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.SetServerURL(srv.URL)
	fx, err := emulator.ParseFixture("contract.yaml", []byte(contractFixture))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := emu.Load(fx)
	if err != nil {
		t.Fatal(err)
	}
	return emu, srv.URL, infos[0]
}

// TestContractLive runs the contract suite against a real SeaTable server
// when SEATABLE_URL and SEATABLE_API_TOKEN are set. SEATABLE_TABLE names
// the table (default "Contract"); it must have the columns the suite
// expects (see runContract). The suite adds rows and removes them again.
func TestContractLive(t *testing.T) {
	server, token, table := liveServer(t)
	var mu sync.Mutex
	var calls []seatable.Call
	c := seatable.New(seatable.Config{ServerURL: server, APIToken: token, Observe: func(call seatable.Call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call)
	}})
	runContract(t, c, table)

	// A failing call never shows the token.
	_, err := c.GetRow(context.Background(), "no such table "+hex.EncodeToString(randomBytes(4)), "AAAAAAAAAAAAAAAAAAAAAA")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("failing call: err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, call := range calls {
		if call.Status == 0 {
			t.Errorf("transport failure during the suite: %+v", call)
		}
	}
	t.Logf("%d HTTP calls", len(calls))
}

// runContract exercises every Client method against a live server (real
// SeaTable or the emulator). table must have the columns Name (text),
// Stage (single-select with the options Lead, Won, Lost) and Amount
// (number); when it also has a link column, links are tested through it,
// otherwise that subtest is skipped. The suite appends its own rows,
// marked with a random name prefix, and deletes them at the end; other
// rows of the table are left alone.
func runContract(t *testing.T, c *seatable.Client, table string) {
	t.Helper()
	ctx := context.Background()
	marker := "seaflow-contract-" + hex.EncodeToString(randomBytes(6))
	quoted := "`" + strings.ReplaceAll(table, "`", "``") + "`"

	uuid, err := c.BaseUUID(ctx)
	if err != nil {
		t.Fatalf("base uuid: %v", err)
	}
	if len(seatable.CanonicalUUID(uuid)) != 32 {
		t.Fatalf("base uuid %q is not a uuid", uuid)
	}

	md, err := c.Metadata(ctx)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	tb := md.Table(table)
	if tb == nil {
		t.Fatalf("metadata has no table %q", table)
	}
	for name, typ := range map[string]string{"Name": "text", "Stage": "single-select", "Amount": "number"} {
		col := tb.Column(name)
		if col == nil || col.Type != typ {
			t.Fatalf("table %q: column %s is %+v, want type %s", table, name, col, typ)
		}
	}
	if len(tb.Views) == 0 {
		t.Fatalf("table %q has no views", table)
	}

	rows := []seatable.Row{
		{"Name": marker + "-0", "Stage": "Lead", "Amount": 0},
		{"Name": marker + "-1", "Stage": "Lead", "Amount": 10},
		{"Name": marker + "-2", "Stage": "Lost", "Amount": 20},
	}
	ids, err := c.AppendRows(ctx, table, rows)
	if len(ids) > 0 {
		t.Cleanup(func() {
			// Best effort: rows deleted by the suite are already gone.
			_ = c.DeleteRows(context.Background(), table, ids)
		})
	}
	if err != nil {
		t.Fatalf("append rows: %v", err)
	}
	if len(ids) != len(rows) {
		t.Fatalf("append rows: %d ids for %d rows", len(ids), len(rows))
	}

	t.Run("GetRow", func(t *testing.T) {
		row, err := c.GetRow(ctx, table, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if row["_id"] != ids[0] || row["Name"] != marker+"-0" || row["Stage"] != "Lead" || !numberIs(row["Amount"], 0) {
			t.Fatalf("row %v", row)
		}
		_, err = c.GetRow(ctx, table, "AAAAAAAAAAAAAAAAAAAAAA")
		if seatable.KindOf(err) != seatable.KindInvalid {
			t.Fatalf("missing row: err = %v, want kind invalid", err)
		}
	})

	t.Run("UpdateRows", func(t *testing.T) {
		err := c.UpdateRows(ctx, table, []seatable.RowUpdate{{RowID: ids[1], Row: seatable.Row{"Stage": "Won", "Amount": 99.5}}})
		if err != nil {
			t.Fatal(err)
		}
		row, err := c.GetRow(ctx, table, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if row["Stage"] != "Won" || !numberIs(row["Amount"], 99.5) || row["Name"] != marker+"-1" {
			t.Fatalf("row after update %v", row)
		}
	})

	t.Run("ListRows", func(t *testing.T) {
		page, err := c.ListRows(ctx, seatable.ListOptions{Table: table, View: tb.Views[0].Name, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 || len(page) > 2 {
			t.Fatalf("page of %d rows, want 1 or 2", len(page))
		}
		all, err := c.AllRows(ctx, table, "")
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, r := range all {
			if id, _ := r["_id"].(string); id != "" {
				found[id] = true
			}
		}
		for _, id := range ids {
			if !found[id] {
				t.Fatalf("AllRows lacks appended row %s (%d rows)", id, len(all))
			}
		}
	})

	t.Run("SQL", func(t *testing.T) {
		res, err := c.SQL(ctx, "SELECT Name, Stage, Amount FROM "+quoted+" WHERE Name = ?", []any{marker + "-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 1 || res.Rows[0]["Stage"] != "Won" || !numberIs(res.Rows[0]["Amount"], 99.5) {
			t.Fatalf("result %+v", res.Rows)
		}
		if len(res.Columns) == 0 {
			t.Fatal("result has no column metadata")
		}
		_, err = c.SQL(ctx, "SELEC nonsense FROM "+quoted, nil)
		if seatable.KindOf(err) != seatable.KindInvalid {
			t.Fatalf("bad SQL: err = %v, want kind invalid", err)
		}
	})

	t.Run("QueryAll", func(t *testing.T) {
		got, err := c.QueryAll(ctx, "SELECT Name FROM "+quoted+" WHERE Name LIKE ? ORDER BY Name", []any{marker + "%"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0]["Name"] != marker+"-0" || got[2]["Name"] != marker+"-2" {
			t.Fatalf("rows %v", got)
		}
		got, err = c.QueryAll(ctx, "SELECT Name FROM "+quoted+" WHERE Name LIKE ? ORDER BY Name LIMIT 2", []any{marker + "%"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("own LIMIT 2: %d rows", len(got))
		}
	})

	t.Run("LockRows", func(t *testing.T) {
		if err := c.LockRows(ctx, table, ids[:1]); err != nil {
			t.Fatal(err)
		}
		row, err := c.GetRow(ctx, table, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if row["_locked"] != true {
			t.Fatalf("_locked = %v after lock", row["_locked"])
		}
		if err := c.UnlockRows(ctx, table, ids[:1]); err != nil {
			t.Fatal(err)
		}
		row, err = c.GetRow(ctx, table, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if row["_locked"] == true {
			t.Fatal("_locked still true after unlock")
		}
	})

	t.Run("Links", func(t *testing.T) {
		testLinks(t, c, md, tb, ids[0])
	})

	t.Run("DeleteRows", func(t *testing.T) {
		if err := c.DeleteRows(ctx, table, ids[2:]); err != nil {
			t.Fatal(err)
		}
		_, err := c.GetRow(ctx, table, ids[2])
		if seatable.KindOf(err) != seatable.KindInvalid {
			t.Fatalf("deleted row: err = %v, want kind invalid", err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		_, err := c.ListRows(ctx, seatable.ListOptions{Table: "no such table " + marker})
		if seatable.KindOf(err) != seatable.KindInvalid {
			t.Fatalf("missing table: err = %v, want kind invalid", err)
		}
	})
}

// testLinks links row to a fresh row of the other table through the
// first link column of tb, checks the link cell, and removes the link.
func testLinks(t *testing.T, c *seatable.Client, md *seatable.Metadata, tb *seatable.Table, row string) {
	t.Helper()
	ctx := context.Background()
	var col *seatable.Column
	for i := range tb.Columns {
		if tb.Columns[i].Type == "link" {
			col = &tb.Columns[i]
			break
		}
	}
	if col == nil {
		t.Skipf("table %q has no link column", tb.Name)
	}
	linkID, _ := col.Data["link_id"].(string)
	tableID, _ := col.Data["table_id"].(string)
	otherID, _ := col.Data["other_table_id"].(string)
	if linkID == "" || tableID == "" || otherID == "" {
		t.Fatalf("link column %s data %v", col.Name, col.Data)
	}
	// The other side of the link, seen from tb.
	farID := otherID
	if tableID != tb.ID {
		farID = tableID
	}
	far := md.Table(farID)
	if far == nil {
		t.Fatalf("metadata has no table %q", farID)
	}
	farIDs, err := c.AppendRows(ctx, far.Name, []seatable.Row{{}})
	if len(farIDs) > 0 {
		t.Cleanup(func() { _ = c.DeleteRows(context.Background(), far.Name, farIDs) })
	}
	if err != nil {
		t.Fatalf("append to %s: %v", far.Name, err)
	}
	ls := seatable.LinkSet{LinkID: linkID, Table: tb.Name, OtherTable: far.Name, Links: map[string][]string{row: farIDs}}
	if tableID != tb.ID {
		ls = seatable.LinkSet{LinkID: linkID, Table: far.Name, OtherTable: tb.Name, Links: map[string][]string{farIDs[0]: {row}}}
	}
	if err := c.CreateLinks(ctx, ls); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRow(ctx, tb.Name, row)
	if err != nil {
		t.Fatal(err)
	}
	if !linksTo(got[col.Name], farIDs[0]) {
		t.Fatalf("link cell %v lacks %s", got[col.Name], farIDs[0])
	}
	if err := c.DeleteLinks(ctx, ls); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetRow(ctx, tb.Name, row)
	if err != nil {
		t.Fatal(err)
	}
	if linksTo(got[col.Name], farIDs[0]) {
		t.Fatalf("link cell %v still has %s", got[col.Name], farIDs[0])
	}
}

// linksTo reports whether a link cell ([{row_id, display_value}] or a
// list of row ids) contains id.
func linksTo(cell any, id string) bool {
	list, _ := cell.([]any)
	for _, item := range list {
		switch v := item.(type) {
		case string:
			if v == id {
				return true
			}
		case map[string]any:
			if v["row_id"] == id {
				return true
			}
		}
	}
	return false
}

func numberIs(v any, want float64) bool {
	f, ok := v.(float64)
	return ok && f == want
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// TestExchangeRateLimited: the 61st token exchange of a minute gets a 429,
// which the client reports as rate limited with the time it frees up.
func TestExchangeRateLimited(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_, url, base := contractEmulator(t, emulator.Options{Now: func() time.Time { return now }})
	cfg := seatable.Config{ServerURL: url, APIToken: base.APIToken, Now: func() time.Time { return now }}
	for i := range 60 {
		if _, err := seatable.New(cfg).BaseUUID(context.Background()); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
	}
	_, err := seatable.New(cfg).BaseUUID(context.Background())
	var se *seatable.Error
	if !errors.As(err, &se) || se.Kind != seatable.KindRateLimited || !se.ResetAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("61st exchange: %v (%+v), want rate limited until a minute on", err, se)
	}
}
