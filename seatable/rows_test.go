package seatable

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
)

func TestAppendRowsSplitsIntoCallsOf1000(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		var req struct {
			Table string `json:"table_name"`
			Rows  []Row  `json:"rows"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Table != "Deals" {
			writeJSON(w, 400, map[string]any{"error_msg": "bad body"})
			return
		}
		ids := make([]any, len(req.Rows))
		for i, row := range req.Rows {
			// ids encode the row's own sequence number so order is checkable
			ids[i] = map[string]any{"_id": fmt.Sprintf("id-%v", row["N"])}
		}
		writeJSON(w, 200, map[string]any{"inserted_row_count": len(ids), "row_ids": ids})
	}
	c := f.client(nil)
	rows := make([]Row, 2500)
	for i := range rows {
		rows[i] = Row{"N": i}
	}
	ids, err := c.AppendRows(context.Background(), "Deals", rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2500 {
		t.Fatalf("got %d ids", len(ids))
	}
	for i, id := range ids {
		if id != "id-"+strconv.Itoa(i) {
			t.Fatalf("ids[%d] = %q: out of order", i, id)
		}
	}
	calls := f.baseCalls()
	if len(calls) != 3 {
		t.Fatalf("calls = %d, want 3", len(calls))
	}
	for i, want := range []int{1000, 1000, 500} {
		var req struct{ Rows []Row }
		if err := json.Unmarshal(calls[i].Body, &req); err != nil {
			t.Fatal(err)
		}
		if calls[i].Method != "POST" || calls[i].Path != "/rows/" || len(req.Rows) != want {
			t.Fatalf("call %d: %s %s with %d rows, want POST /rows/ with %d", i, calls[i].Method, calls[i].Path, len(req.Rows), want)
		}
	}
}

func TestAppendRowsPartialFailureReturnsDoneIDs(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	n := 0
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		n++
		if n == 2 {
			writeJSON(w, 400, map[string]any{"error_msg": "Exceed the rows limit"})
			return
		}
		var req struct{ Rows []Row }
		_ = json.Unmarshal(body, &req)
		ids := make([]any, len(req.Rows))
		for i := range ids {
			ids[i] = map[string]any{"_id": fmt.Sprintf("r%d", i)}
		}
		writeJSON(w, 200, map[string]any{"row_ids": ids})
	}
	ids, err := f.client(nil).AppendRows(context.Background(), "T", make([]Row, 1500))
	if KindOf(err) != KindInvalid || len(ids) != 1000 {
		t.Fatalf("ids %d, err %v; want 1000 ids and an invalid error", len(ids), err)
	}
}

func TestAppendRowsCountMismatch(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		writeJSON(w, 200, map[string]any{"row_ids": []any{map[string]any{"_id": "only-one"}}})
	}
	_, err := f.client(nil).AppendRows(context.Background(), "T", []Row{{}, {}})
	if KindOf(err) != KindTransient {
		t.Fatalf("err = %v", err)
	}
}

func TestBatchWritesSplit(t *testing.T) {
	t.Parallel()
	ids := make([]string, 2500)
	for i := range ids {
		ids[i] = "row" + strconv.Itoa(i)
	}
	updates := make([]RowUpdate, len(ids))
	for i, id := range ids {
		updates[i] = RowUpdate{RowID: id, Row: Row{"Amount": i}}
	}
	tests := []struct {
		name     string
		method   string
		endpoint string
		run      func(*Client) error
		count    func(body []byte) (int, string)
	}{
		{"update", "PUT", "/rows/", func(c *Client) error { return c.UpdateRows(context.Background(), "T", updates) },
			func(b []byte) (int, string) {
				var req struct {
					Updates []struct {
						RowID string `json:"row_id"`
						Row   Row    `json:"row"`
					} `json:"updates"`
				}
				_ = json.Unmarshal(b, &req)
				return len(req.Updates), req.Updates[0].RowID
			}},
		{"delete", "DELETE", "/rows/", func(c *Client) error { return c.DeleteRows(context.Background(), "T", ids) }, rowIDsCount},
		{"lock", "PUT", "/lock-rows/", func(c *Client) error { return c.LockRows(context.Background(), "T", ids) }, rowIDsCount},
		{"unlock", "PUT", "/unlock-rows/", func(c *Client) error { return c.UnlockRows(context.Background(), "T", ids) }, rowIDsCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGateway(t)
			if err := tt.run(f.client(nil)); err != nil {
				t.Fatal(err)
			}
			calls := f.baseCalls()
			if len(calls) != 3 {
				t.Fatalf("calls = %d, want 3", len(calls))
			}
			for i, want := range []struct {
				n     int
				first string
			}{{1000, "row0"}, {1000, "row1000"}, {500, "row2000"}} {
				n, first := tt.count(calls[i].Body)
				if calls[i].Method != tt.method || calls[i].Path != tt.endpoint || n != want.n || first != want.first {
					t.Fatalf("call %d: %s %s, %d rows from %q; want %s %s, %d from %q",
						i, calls[i].Method, calls[i].Path, n, first, tt.method, tt.endpoint, want.n, want.first)
				}
			}
		})
	}
}

func rowIDsCount(b []byte) (int, string) {
	var req struct {
		Table  string   `json:"table_name"`
		RowIDs []string `json:"row_ids"`
	}
	_ = json.Unmarshal(b, &req)
	if req.Table != "T" || len(req.RowIDs) == 0 {
		return 0, ""
	}
	return len(req.RowIDs), req.RowIDs[0]
}

func TestEmptyBatchesMakeNoCalls(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	c := f.client(nil)
	ctx := context.Background()
	ids, err := c.AppendRows(ctx, "T", nil)
	if err != nil || ids != nil {
		t.Fatalf("append: %v %v", ids, err)
	}
	for _, err := range []error{
		c.UpdateRows(ctx, "T", nil), c.DeleteRows(ctx, "T", nil), c.LockRows(ctx, "T", nil),
		c.CreateLinks(ctx, LinkSet{LinkID: "l", Table: "A", OtherTable: "B"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.baseCalls()); n != 0 {
		t.Fatalf("base calls = %d, want 0", n)
	}
}

func TestInvalidArgumentsAreRefusedLocally(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	c := f.client(nil)
	ctx := context.Background()
	_, e1 := c.ListRows(ctx, ListOptions{})
	_, e2 := c.ListRows(ctx, ListOptions{Table: "T", Start: -1})
	_, e3 := c.GetRow(ctx, "T", "")
	_, e4 := c.AppendRows(ctx, "", []Row{{}})
	e5 := c.UpdateRows(ctx, "T", []RowUpdate{{Row: Row{"a": 1}}})
	e6 := c.DeleteRows(ctx, "T", []string{"a", ""})
	e7 := c.CreateLinks(ctx, LinkSet{Table: "A", OtherTable: "B", Links: map[string][]string{"r": {"s"}}})
	_, e8 := c.SQL(ctx, "  ", nil)
	for i, err := range []error{e1, e2, e3, e4, e5, e6, e7, e8} {
		if KindOf(err) != KindInvalid {
			t.Fatalf("case %d: err = %v, want invalid", i+1, err)
		}
	}
	if n := f.exchangeCount() + len(f.baseCalls()); n != 0 {
		t.Fatalf("%d calls made, want 0", n)
	}
}

// rowsHandler serves GET /rows/ pages from n numbered rows.
func rowsHandler(n int) func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		q := r.URL.Query()
		start, _ := strconv.Atoi(q.Get("start"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		if q.Get("convert_keys") != "true" || limit > 1000 || limit <= 0 {
			writeJSON(w, 400, map[string]any{"error_msg": "bad query " + r.URL.RawQuery})
			return
		}
		rows := []any{}
		for i := start; i < min(start+limit, n); i++ {
			rows = append(rows, map[string]any{"_id": fmt.Sprintf("r%d", i), "N": i})
		}
		writeJSON(w, 200, map[string]any{"rows": rows})
	}
}

func TestListRowsQueryAndCap(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = rowsHandler(5000)
	rows, err := f.client(nil).ListRows(context.Background(), ListOptions{Table: "My Table", View: "Open deals", Start: 10, Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1000 || rows[0]["_id"] != "r10" {
		t.Fatalf("got %d rows from %v", len(rows), rows[0]["_id"])
	}
	q, _ := url.ParseQuery(f.baseCalls()[0].Query)
	want := url.Values{"table_name": {"My Table"}, "view_name": {"Open deals"}, "start": {"10"}, "limit": {"1000"}, "convert_keys": {"true"}}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("query %v, want %v", q, want)
	}
}

func TestAllRowsPagesUntilShortPage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ rows, calls int }{{0, 1}, {999, 1}, {2000, 3}, {2345, 3}} {
		t.Run(strconv.Itoa(tt.rows), func(t *testing.T) {
			t.Parallel()
			f := newFakeGateway(t)
			f.base = rowsHandler(tt.rows)
			rows, err := f.client(nil).AllRows(context.Background(), "T", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tt.rows {
				t.Fatalf("got %d rows, want %d", len(rows), tt.rows)
			}
			for i, r := range rows {
				if r["N"] != float64(i) {
					t.Fatalf("row %d is %v", i, r["N"])
				}
			}
			if n := len(f.baseCalls()); n != tt.calls {
				t.Fatalf("calls = %d, want %d", n, tt.calls)
			}
		})
	}
}

func TestGetRow(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		switch path {
		case "/rows/QoNno3QiTF26sxmG1sl3_g/":
			writeJSON(w, 200, map[string]any{"_id": "QoNno3QiTF26sxmG1sl3_g", "Name": "ACME"})
		case "/rows/missing/":
			writeJSON(w, 404, map[string]any{"error_msg": "row _id not exits"})
		default:
			writeJSON(w, 200, map[string]any{"Name": "no id"})
		}
	}
	c := f.client(nil)
	ctx := context.Background()
	row, err := c.GetRow(ctx, "T", "QoNno3QiTF26sxmG1sl3_g")
	if err != nil || row["Name"] != "ACME" {
		t.Fatalf("row %v, err %v", row, err)
	}
	if q, _ := url.ParseQuery(f.baseCalls()[0].Query); q.Get("table_name") != "T" || q.Get("convert_keys") != "true" {
		t.Fatalf("query %v", q)
	}
	if _, err := c.GetRow(ctx, "T", "missing"); KindOf(err) != KindInvalid {
		t.Fatalf("missing row: %v", err)
	}
	if _, err := c.GetRow(ctx, "T", "other"); KindOf(err) != KindTransient {
		t.Fatalf("row without _id: %v", err)
	}
}
