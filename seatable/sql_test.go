package seatable

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"testing"
)

func TestSQLRequestAndResult(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		if r.Method != "POST" || path != "/sql" {
			writeJSON(w, 404, map[string]any{"error_msg": "wrong path"})
			return
		}
		writeJSON(w, 200, map[string]any{"success": true, "error_message": "", "is_join_stmt": false,
			"metadata": []any{map[string]any{"key": "0000", "name": "Name", "type": "text", "data": nil},
				map[string]any{"key": "COUNT(*)", "name": "COUNT(*)", "type": "number"}},
			"results": []any{map[string]any{"Name": "ACME", "COUNT(*)": 4}}})
	}
	c := f.client(nil)
	ctx := context.Background()
	res, err := c.SQL(ctx, "SELECT Name, COUNT(*) FROM Deals WHERE Stage = ? GROUP BY Name", []any{"Won"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Columns) != 2 || res.Columns[1].Name != "COUNT(*)" || len(res.Rows) != 1 || res.Rows[0]["COUNT(*)"] != float64(4) {
		t.Fatalf("result %+v", res)
	}
	if _, err := c.SQL(ctx, "UPDATE Deals SET Amount = 0", nil); err != nil {
		t.Fatal(err)
	}
	calls := f.baseCalls()
	var withParams, without map[string]any
	_ = json.Unmarshal(calls[0].Body, &withParams)
	_ = json.Unmarshal(calls[1].Body, &without)
	if !reflect.DeepEqual(withParams, map[string]any{"sql": "SELECT Name, COUNT(*) FROM Deals WHERE Stage = ? GROUP BY Name",
		"convert_keys": true, "parameters": []any{"Won"}}) {
		t.Fatalf("body %v", withParams)
	}
	if _, ok := without["parameters"]; ok || without["convert_keys"] != true {
		t.Fatalf("body without params %v", without)
	}
}

var limitOffset = regexp.MustCompile(`^SELECT \* FROM T ORDER BY N LIMIT (\d+) OFFSET (\d+)$`)

func TestQueryAllPages(t *testing.T) {
	t.Parallel()
	const total = 23456
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		var req struct{ SQL string }
		_ = json.Unmarshal(body, &req)
		m := limitOffset.FindStringSubmatch(req.SQL)
		if m == nil {
			writeJSON(w, 400, map[string]any{"error_message": "unexpected statement " + req.SQL})
			return
		}
		limit, _ := strconv.Atoi(m[1])
		offset, _ := strconv.Atoi(m[2])
		rows := []any{}
		for i := offset; i < min(offset+limit, total); i++ {
			rows = append(rows, map[string]any{"N": i})
		}
		writeJSON(w, 200, map[string]any{"success": true, "metadata": []any{}, "results": rows})
	}
	rows, err := f.client(nil).QueryAll(context.Background(), "  SELECT * FROM T ORDER BY N ; ", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != total {
		t.Fatalf("got %d rows", len(rows))
	}
	for i, r := range rows {
		if r["N"] != float64(i) {
			t.Fatalf("row %d = %v", i, r["N"])
		}
	}
	if n := len(f.baseCalls()); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestQueryAllRunsOnceWithOwnLimit(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"SELECT * FROM T LIMIT 5", "select * from T limit 5 offset 2", "UPDATE T SET a = 1", "DELETE FROM T WHERE a = 'LIMIT'"} {
		f := newFakeGateway(t)
		var got string
		f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
			var req struct{ SQL string }
			_ = json.Unmarshal(body, &req)
			got = req.SQL
			rows := make([]any, 0, MaxSQLRows)
			for range MaxSQLRows {
				rows = append(rows, map[string]any{})
			}
			writeJSON(w, 200, map[string]any{"success": true, "results": rows})
		}
		rows, err := f.client(nil).QueryAll(context.Background(), q, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != MaxSQLRows || got != q || len(f.baseCalls()) != 1 {
			t.Fatalf("%q: sent %q, %d rows, %d calls", q, got, len(rows), len(f.baseCalls()))
		}
	}
}

func TestPageableSelect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		stmt string
		ok   bool
	}{
		{"SELECT * FROM T", "SELECT * FROM T", true},
		{"select a from `T` where b = 'x';;", "select a from `T` where b = 'x'", true},
		{"SELECT * FROM T LIMIT 10", "SELECT * FROM T LIMIT 10", false},
		{"SELECT * FROM T\nlimit\n10", "SELECT * FROM T\nlimit\n10", false},
		{"SELECT * FROM T WHERE Name = 'no LIMIT here'", "SELECT * FROM T WHERE Name = 'no LIMIT here'", true},
		{"SELECT * FROM T WHERE Name = 'it''s LIMIT'", "SELECT * FROM T WHERE Name = 'it''s LIMIT'", true},
		{`SELECT * FROM T WHERE Name = "a \" LIMIT"`, `SELECT * FROM T WHERE Name = "a \" LIMIT"`, true},
		{"SELECT `limit` FROM T", "SELECT `limit` FROM T", true},
		{"SELECT * FROM T /* LIMIT 3 */ WHERE a = 1", "SELECT * FROM T /* LIMIT 3 */ WHERE a = 1", true},
		{"SELECT * FROM T -- LIMIT 3", "SELECT * FROM T -- LIMIT 3", false},
		{"SELECT * FROM T -- LIMIT 3\nWHERE a = 1", "SELECT * FROM T -- LIMIT 3\nWHERE a = 1", true},
		{"SELECT * FROM T WHERE a IN (SELECT b FROM U LIMIT 3)", "SELECT * FROM T WHERE a IN (SELECT b FROM U LIMIT 3)", true},
		{"SELECT * FROM T WHERE a = 'open", "SELECT * FROM T WHERE a = 'open", false},
		{"SELECT * FROM T; DELETE FROM T", "SELECT * FROM T; DELETE FROM T", false},
		{"UPDATE T SET a = 1", "UPDATE T SET a = 1", false},
		{"(SELECT 1)", "(SELECT 1)", false},
		{"SELECT * FROM T WHERE (a = 1", "SELECT * FROM T WHERE (a = 1", false},
	}
	for _, tt := range tests {
		stmt, ok := pageableSelect(tt.in)
		if stmt != tt.stmt || ok != tt.ok {
			t.Errorf("pageableSelect(%q) = %q, %v; want %q, %v", tt.in, stmt, ok, tt.stmt, tt.ok)
		}
	}
}

func TestStatementTable(t *testing.T) {
	for _, c := range []struct {
		sql, table string
		ok         bool
	}{
		{"SELECT * FROM Tasks WHERE Status = ?", "Tasks", true},
		{"select `Name`, Due from `My Tasks` order by Due, Name", "My Tasks", true},
		{"UPDATE Stats SET Count = Count + 1, Seen = ? WHERE Day = ?", "Stats", true},
		{"DELETE FROM Logs WHERE Age > 30", "Logs", true},
		{"SELECT a FROM Tasks t WHERE t.a = 1", "Tasks", true},
		{"SELECT a FROM Tasks AS t WHERE t.a = 1", "Tasks", true},
		{"SELECT * FROM Tasks WHERE Name IN (SELECT Name FROM Other)", "", false},
		{"SELECT * FROM A, B", "", false},
		{"SELECT * FROM A JOIN B ON A.x = B.x", "", false},
		{"UPDATE A SET x = 1; DELETE FROM B", "", false},
		{"SELECT 1", "", false},
		{"INSERT INTO A (x) VALUES (1)", "", false},
		{"SELECT * FROM 'unclosed", "", false},
	} {
		table, ok := StatementTable(c.sql)
		if table != c.table || ok != c.ok {
			t.Errorf("StatementTable(%q) = %q, %v; want %q, %v", c.sql, table, ok, c.table, c.ok)
		}
	}
}

func TestPageStatement(t *testing.T) {
	if s, paged := PageStatement("SELECT * FROM T ORDER BY _id;", 20000); !paged || s != "SELECT * FROM T ORDER BY _id LIMIT 10000 OFFSET 20000" {
		t.Errorf("got %q, %v", s, paged)
	}
	if s, paged := PageStatement("SELECT * FROM T LIMIT 5", 0); paged || s != "SELECT * FROM T LIMIT 5" {
		t.Errorf("own limit: got %q, %v", s, paged)
	}
}
