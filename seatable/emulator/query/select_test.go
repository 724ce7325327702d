package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSelectProjection(t *testing.T) {
	t.Parallel()
	cat, _ := setup(t)

	t.Run("star has every column and the system columns", func(t *testing.T) {
		res, err := Run(cat, "SELECT * FROM Orders LIMIT 1", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range res.Columns {
			got = append(got, c.Name)
		}
		want := []string{"Name", "Amount", "Status", "Tags", "Due", "Done", "Order ID",
			"_id", "_ctime", "_mtime", "_creator", "_last_modifier", "_locked", "_locked_by", "_archived"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("columns = %v, want %v", got, want)
		}
		row := res.Rows[0]
		if row["_id"] != "row0000" || row["Amount"] != 10.0 || row["Status"] != "open" || row["Done"] != false {
			t.Errorf("row = %v", row)
		}
		if !reflect.DeepEqual(row["Tags"], []any{"a", "b"}) {
			t.Errorf("Tags = %v", row["Tags"])
		}
		if len(row) != len(want) {
			t.Errorf("row has %d keys, want %d", len(row), len(want))
		}
	})

	t.Run("system columns by name", func(t *testing.T) {
		res, err := Run(cat, "SELECT _creator, _locked FROM Orders WHERE _archived = false LIMIT 1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 1 || res.Rows[0]["_creator"] != "a@auth.local" || res.Rows[0]["_locked"] != nil {
			t.Fatalf("rows = %v", res.Rows)
		}
		if len(res.Columns) != 2 || res.Columns[0].Type != "creator" {
			t.Errorf("columns = %+v", res.Columns)
		}
		if _, err := Run(cat, "UPDATE Orders SET _locked_by = 'x'", nil); err == nil {
			t.Error("UPDATE of a system column succeeded")
		}
	})

	t.Run("columns, aliases and metadata", func(t *testing.T) {
		res, err := Run(cat, "SELECT _id, `Order ID` AS oid, Status s, Amount * 2 AS 'double', Amount + 1 FROM Orders WHERE Amount = 10", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCols := []Column{
			{Name: "_id", Key: "_id", Type: "text"},
			{Name: "oid", Key: "oid", Type: "text"},
			{Name: "s", Key: "s", Type: "single-select", Options: []string{"open", "paid", "void"}},
			{Name: "double", Key: "double", Type: "number"},
			{Name: "Amount + 1", Key: "Amount + 1", Type: "number"},
		}
		if !reflect.DeepEqual(res.Columns, wantCols) {
			t.Errorf("columns = %+v\nwant %+v", res.Columns, wantCols)
		}
		want := []map[string]any{{"_id": "row0000", "oid": "o-1", "s": "open", "double": 20.0, "Amount + 1": 11.0}}
		if !reflect.DeepEqual(res.Rows, want) {
			t.Errorf("rows = %v, want %v", res.Rows, want)
		}
	})

	t.Run("plain column keeps its key", func(t *testing.T) {
		res, err := Run(cat, "SELECT name FROM Orders LIMIT 1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c := res.Columns[0]; c.Name != "Name" || c.Key != "0000" {
			t.Errorf("column = %+v", c)
		}
		if res.Rows[0]["Name"] != "alpha" {
			t.Errorf("row = %v", res.Rows[0])
		}
	})

	t.Run("distinct", func(t *testing.T) {
		res, err := Run(cat, "SELECT DISTINCT Status FROM Orders", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []map[string]any{{"Status": "open"}, {"Status": "paid"}, {"Status": nil}, {"Status": "void"}}
		if !reflect.DeepEqual(res.Rows, want) {
			t.Errorf("rows = %v, want %v", res.Rows, want)
		}
	})

	t.Run("now uses the injected clock", func(t *testing.T) {
		now := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
		res, err := RunWith(cat, "SELECT Name, now() FROM Orders WHERE Due < now()", nil, Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(res); got != "alpha,delta_x" {
			t.Errorf("names = %q", got)
		}
		if v := res.Rows[0]["now()"]; v != "2024-02-01T12:00:00.000+00:00" {
			t.Errorf("now() = %v", v)
		}
		if c := res.Columns[1]; c.Type != "date" {
			t.Errorf("now() column = %+v", c)
		}
	})
}

func TestSelectOrderLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql  string
		want string
	}{
		{"SELECT Name FROM Orders ORDER BY Amount", "gamma,delta_x,alpha,Beta,O'Brien"},
		{"SELECT Name FROM Orders ORDER BY Amount ASC", "gamma,delta_x,alpha,Beta,O'Brien"},
		{"SELECT Name FROM Orders ORDER BY Amount DESC", "O'Brien,Beta,alpha,delta_x,gamma"},
		{"SELECT Name FROM Orders ORDER BY Name", "Beta,O'Brien,alpha,delta_x,gamma"},
		{"SELECT Name FROM Orders ORDER BY Status, Amount DESC", "gamma,alpha,delta_x,Beta,O'Brien"},
		{"SELECT Name FROM Orders ORDER BY Done DESC, Name", "Beta,O'Brien,alpha,delta_x,gamma"},
		{"SELECT Name FROM Orders ORDER BY Due", "gamma,delta_x,alpha,Beta,O'Brien"},
		{"SELECT Name FROM Orders ORDER BY Due DESC", "O'Brien,Beta,alpha,delta_x,gamma"},
		{"SELECT Name, Amount AS a FROM Orders ORDER BY a DESC", "O'Brien,Beta,alpha,delta_x,gamma"},
		{"SELECT Name FROM Orders ORDER BY Amount * -1", "gamma,O'Brien,Beta,alpha,delta_x"},
		{"SELECT Amount, Name FROM Orders ORDER BY 1 DESC, 2", "O'Brien,Beta,alpha,delta_x,gamma"},
		{"SELECT Name FROM Orders LIMIT 2", "alpha,Beta"},
		{"SELECT Name FROM Orders LIMIT 2 OFFSET 1", "Beta,gamma"},
		{"SELECT Name FROM Orders LIMIT 1, 2", "Beta,gamma"},
		{"SELECT Name FROM Orders OFFSET 3", "delta_x,O'Brien"},
		{"SELECT Name FROM Orders ORDER BY Amount DESC LIMIT 2 OFFSET 1", "Beta,alpha"},
		{"SELECT Name FROM Orders LIMIT 0", ""},
		{"SELECT Name FROM Orders LIMIT 10 OFFSET 10", ""},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			t.Parallel()
			cat, _ := setup(t)
			res, err := Run(cat, tt.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectCaps(t *testing.T) {
	t.Parallel()
	big := newMemTable("Big", []Column{{Name: "N", Key: "0000", Type: "number"}})
	for i := range MaxResults + 500 {
		big.add(map[string]any{"N": float64(i)})
	}
	cat := memCatalog{"Big": big}
	tests := []struct {
		sql      string
		params   []any
		want     int
		firstVal float64
	}{
		{"SELECT N FROM Big", nil, DefaultLimit, 0},
		{"SELECT N FROM Big WHERE N >= 50", nil, DefaultLimit, 50},
		{"SELECT N FROM Big LIMIT 20000", nil, MaxResults, 0},
		{"SELECT N FROM Big ORDER BY N DESC LIMIT 20000", nil, MaxResults, MaxResults + 499},
		{"SELECT N FROM Big LIMIT ? OFFSET ?", []any{20000.0, 10400.0}, 100, 10400},
		{"SELECT N FROM Big LIMIT 150", nil, 150, 0},
		{"SELECT DISTINCT N FROM Big LIMIT 10000", nil, MaxResults, 0},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			res, err := Run(cat, tt.sql, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != tt.want {
				t.Fatalf("rows = %d, want %d", len(res.Rows), tt.want)
			}
			if got := res.Rows[0]["N"]; got != tt.firstVal {
				t.Errorf("first N = %v, want %v", got, tt.firstVal)
			}
		})
	}
	t.Run("aggregates see every row", func(t *testing.T) {
		res, err := Run(cat, "SELECT COUNT(*) FROM Big", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Rows[0]["COUNT(*)"]; got != float64(MaxResults+500) {
			t.Errorf("COUNT(*) = %v", got)
		}
	})
}

func TestSelectAggregates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql  string
		want []map[string]any
	}{
		{"SELECT COUNT(*) FROM Orders", []map[string]any{{"COUNT(*)": 5.0}}},
		{"SELECT count(*) FROM Orders WHERE Amount > 6", []map[string]any{{"count(*)": 3.0}}},
		{"SELECT COUNT(*) AS n FROM Orders WHERE Amount > 1000", []map[string]any{{"n": 0.0}}},
		{"SELECT COUNT(Amount), SUM(Amount), MIN(Amount), MAX(Amount), AVG(Amount) FROM Orders",
			[]map[string]any{{"COUNT(Amount)": 4.0, "SUM(Amount)": 140.5, "MIN(Amount)": 5.0, "MAX(Amount)": 100.0, "AVG(Amount)": 35.125}}},
		{"SELECT SUM(Amount), MAX(Name) FROM Orders WHERE Amount > 1000", []map[string]any{{"SUM(Amount)": nil, "MAX(Name)": nil}}},
		{"SELECT MIN(Due), MAX(Due) FROM Orders", []map[string]any{{"MIN(Due)": "2023-12-01T10:00:00+00:00", "MAX(Due)": "2024-03-01T00:00:00+01:00"}}},
		{"SELECT COUNT(DISTINCT Status) FROM Orders", []map[string]any{{"COUNT(DISTINCT Status)": 3.0}}},
		{"SELECT Status, COUNT(*) FROM Orders GROUP BY Status", []map[string]any{
			{"Status": "open", "COUNT(*)": 2.0}, {"Status": "paid", "COUNT(*)": 1.0}, {"Status": nil, "COUNT(*)": 1.0}, {"Status": "void", "COUNT(*)": 1.0}}},
		{"SELECT Status, SUM(Amount) AS total FROM Orders GROUP BY Status HAVING COUNT(*) > 1", []map[string]any{{"Status": "open", "total": 15.0}}},
		{"SELECT Status, SUM(Amount) AS total FROM Orders WHERE Status IS NOT NULL GROUP BY Status ORDER BY total DESC LIMIT 2",
			[]map[string]any{{"Status": "void", "total": 100.0}, {"Status": "paid", "total": 25.5}}},
		{"SELECT Done, COUNT(*) FROM Orders GROUP BY Done ORDER BY COUNT(*) DESC, Done", []map[string]any{
			{"Done": false, "COUNT(*)": 2.0}, {"Done": true, "COUNT(*)": 2.0}, {"Done": nil, "COUNT(*)": 1.0}}},
		{"SELECT Status FROM Orders WHERE Amount > 1000 GROUP BY Status", []map[string]any{}},
		{"SELECT Status, COUNT(*) AS n FROM Orders GROUP BY Status HAVING n > 1", []map[string]any{{"Status": "open", "n": 2.0}}},
		{"SELECT Status, SUM(Amount) AS total FROM Orders WHERE Amount IS NOT NULL GROUP BY Status ORDER BY total * -1 LIMIT 1", []map[string]any{{"Status": "void", "total": 100.0}}},
		{"SELECT COUNT(*) * 2 FROM Orders", []map[string]any{{"COUNT(*) * 2": 10.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			t.Parallel()
			cat, _ := setup(t)
			res, err := Run(cat, tt.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Rows, tt.want) {
				t.Errorf("rows = %v\nwant %v", res.Rows, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql    string
		params []any
		want   string // substring of the message
	}{
		{"", nil, "expected SELECT, UPDATE or DELETE"},
		{"SELEC * FROM Orders", nil, "expected SELECT"},
		{"SELECT * FROM", nil, "expected table name at end"},
		{"SELECT * FROM Orders WHERE", nil, "expected an expression"},
		{"SELECT * FROM Orders WHERE Name = 'x", nil, "unterminated string"},
		{"SELECT * FROM `Orders", nil, "unterminated identifier"},
		{"SELECT * FROM Orders WHERE Amount IN ()", nil, "expected an expression"},
		{"SELECT * FROM Orders WHERE Amount BETWEEN 1", nil, "expected AND"},
		{"SELECT * FROM Orders LIMIT 'x'", nil, "expected a number"},
		{"SELECT * FROM Orders LIMIT 1.5", nil, "LIMIT must be a non-negative integer"},
		{"SELECT * FROM Orders LIMIT ?", []any{-1}, "LIMIT must be a non-negative integer"},
		{"SELECT * FROM Orders extra", nil, "expected end of statement"},
		{"SELECT * FROM Orders WHERE Name = 'a' #", nil, "unexpected character"},
		{"SELECT * FROM Orders, Other", nil, "joins are not supported"},
		{"INSERT INTO Orders (Name) VALUES ('x')", nil, "big data"},
		{"SELECT * FROM Nope", nil, `table "Nope" not found`},
		{"SELECT * FROM orders", nil, `table "orders" not found`},
		{"SELECT Nope FROM Orders", nil, `column "Nope" not found in table "Orders"`},
		{"SELECT * FROM Orders WHERE Nope = 1", nil, `column "Nope" not found`},
		{"SELECT * FROM Orders ORDER BY Nope", nil, `column "Nope" not found`},
		{"SELECT Other.Name FROM Orders", nil, "is not in FROM"},
		{"UPDATE Orders SET Nope = 1", nil, `column "Nope" not found`},
		{"UPDATE Orders SET _id = 'x'", nil, "read-only"},
		{"UPDATE Orders SET Name = 'a', name = 'b'", nil, "set twice"},
		{"DELETE FROM Orders WHERE Nope IS NULL", nil, `column "Nope" not found`},
		{"SELECT * FROM Orders WHERE Amount = ?", nil, "1 placeholders but 0 parameters"},
		{"SELECT * FROM Orders WHERE Amount = ?", []any{1, 2}, "1 placeholders but 2 parameters"},
		{"SELECT * FROM Orders", []any{1}, "0 placeholders but 1 parameters"},
		{"SELECT * FROM Orders WHERE Amount = ?", []any{struct{}{}}, "parameter 1: unsupported type"},
		{"SELECT * FROM Orders WHERE COUNT(*) > 1", nil, "not allowed in WHERE"},
		{"SELECT Status FROM Orders GROUP BY COUNT(*)", nil, "not allowed in GROUP BY"},
		{"SELECT SUM(COUNT(*)) FROM Orders", nil, "cannot be nested"},
		{"SELECT SUM(*) FROM Orders", nil, "only COUNT(*)"},
		{"SELECT lower(Name) FROM Orders", nil, "function lower is not supported"},
		{"SELECT now(1) FROM Orders", nil, "now() takes no arguments"},
		{"SELECT * FROM Orders WHERE " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), nil, "nested too deeply"},
		{"SELECT * FROM Orders WHERE " + strings.Repeat("NOT ", 300) + "Done", nil, "nested too deeply"},
		{"DELETE Orders", nil, "expected FROM"},
		{"UPDATE Orders Name = 1", nil, "expected SET"},
		{"SELECT * FROM Orders LIMIT 1 OFFSET 2 OFFSET 3", nil, "expected end of statement"},
		{"SELECT Name FROM Orders ORDER BY 2", nil, "ORDER BY position 2 is not in the select list"},
		{"SELECT Name FROM Orders ORDER BY 'x'", nil, "ORDER BY position x"},
		{"SELECT * FROM Orders LIMIT 1, 2 OFFSET 3", nil, "OFFSET given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			t.Parallel()
			cat, orders := setup(t)
			before := len(orders.ids)
			_, err := Run(cat, tt.sql, tt.params)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if !strings.Contains(qe.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", qe.Msg, tt.want)
			}
			if len(orders.ids) != before || orders.updates != 0 {
				t.Errorf("a failed statement changed the table")
			}
		})
	}
}
