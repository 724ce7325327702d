package query

import (
	"errors"
	"reflect"
	"testing"
)

func TestUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql      string
		params   []any
		affected int
		check    string         // SELECT run afterwards
		want     map[string]any // Name -> value of the checked column
	}{
		{"UPDATE Orders SET Amount = 1", nil, 5,
			"SELECT Name, Amount AS v FROM Orders", map[string]any{"alpha": 1.0, "Beta": 1.0, "gamma": 1.0, "delta_x": 1.0, "O'Brien": 1.0}},
		{"UPDATE Orders SET Amount = Amount + 1 WHERE Amount < 20", nil, 2,
			"SELECT Name, Amount AS v FROM Orders", map[string]any{"alpha": 11.0, "Beta": 25.5, "gamma": nil, "delta_x": 6.0, "O'Brien": 100.0}},
		{"update `Orders` set `Status` = ?, Done = ? where `Order ID` in (?, ?)", []any{"paid", true, "o-1", "o-4"}, 2,
			"SELECT Name, Status AS v FROM Orders", map[string]any{"alpha": "paid", "Beta": "paid", "gamma": nil, "delta_x": "paid", "O'Brien": "void"}},
		{"UPDATE Orders SET Name = 'x' WHERE Amount > 1000", nil, 0,
			"SELECT Name, Amount AS v FROM Orders", map[string]any{"alpha": 10.0, "Beta": 25.5, "gamma": nil, "delta_x": 5.0, "O'Brien": 100.0}},
		{"UPDATE Orders SET Amount = NULL WHERE Status = 'open'", nil, 2,
			"SELECT Name, Amount AS v FROM Orders", map[string]any{"alpha": nil, "Beta": 25.5, "gamma": nil, "delta_x": nil, "O'Brien": 100.0}},
		// every SET expression sees the row as it was
		{"UPDATE Orders SET Name = `Order ID`, `Order ID` = Name WHERE Amount = 5", nil, 1,
			"SELECT `Order ID` AS Name, Name AS v FROM Orders WHERE Amount = 5", map[string]any{"delta_x": "o-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			t.Parallel()
			cat, orders := setup(t)
			res, err := Run(cat, tt.sql, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if res.Select || res.Affected != tt.affected || orders.updates != tt.affected {
				t.Errorf("result = %+v, updates = %d, want affected %d", res, orders.updates, tt.affected)
			}
			check, err := Run(cat, tt.check, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			for _, r := range check.Rows {
				got[r["Name"].(string)] = r["v"]
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("after update: %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("table validation error reaches the caller", func(t *testing.T) {
		t.Parallel()
		cat, _ := setup(t)
		res, err := Run(cat, "UPDATE Orders SET Amount = 'lots' WHERE Amount = 5", nil)
		var qe *Error
		if !errors.As(err, &qe) || qe.Msg != "column Amount needs a number" {
			t.Fatalf("err = %v, want the table's *Error", err)
		}
		if res == nil || res.Affected != 0 {
			t.Errorf("result = %+v", res)
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql      string
		params   []any
		affected int
		left     string
	}{
		{"DELETE FROM Orders", nil, 5, ""},
		{"DELETE FROM Orders WHERE Amount > ?", []any{6}, 3, "gamma,delta_x"},
		{"delete from `Orders` where `Order ID` = 'o-3';", nil, 1, "alpha,Beta,delta_x,O'Brien"},
		{"DELETE FROM Orders WHERE Amount IS NULL OR Tags = 'c'", nil, 2, "alpha,Beta,O'Brien"},
		{"DELETE FROM Orders WHERE Amount = NULL", nil, 0, "alpha,Beta,gamma,delta_x,O'Brien"},
		{"DELETE FROM Orders WHERE _id IN ('row0000', 'row0004', 'nope')", nil, 2, "Beta,gamma,delta_x"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			t.Parallel()
			cat, _ := setup(t)
			res, err := Run(cat, tt.sql, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if res.Select || res.Affected != tt.affected {
				t.Errorf("result = %+v, want affected %d", res, tt.affected)
			}
			left, err := Run(cat, "SELECT Name FROM Orders", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(left); got != tt.left {
				t.Errorf("left %q, want %q", got, tt.left)
			}
		})
	}

	t.Run("many rows in one call", func(t *testing.T) {
		t.Parallel()
		big := newMemTable("Big", []Column{{Name: "N", Key: "0000", Type: "number"}})
		for i := range 25000 {
			big.add(map[string]any{"N": float64(i % 10)})
		}
		cat := memCatalog{"Big": big}
		res, err := Run(cat, "DELETE FROM Big WHERE N < 4", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Affected != 10000 || len(big.ids) != 15000 {
			t.Errorf("affected %d, left %d", res.Affected, len(big.ids))
		}
		res, err = Run(cat, "UPDATE Big SET N = N * 10 WHERE N >= 8", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Affected != 5000 {
			t.Errorf("update affected %d", res.Affected)
		}
	})
}
