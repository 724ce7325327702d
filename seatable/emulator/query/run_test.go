package query

import (
	"errors"
	"strings"
	"testing"
)

func TestSelectWhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql    string
		params []any
		want   string // Name cells in order
	}{
		{"SELECT * FROM Orders", nil, "alpha,Beta,gamma,delta_x,O'Brien"},
		{"select name from orders where amount = 10", nil, ""}, // table names are exact
		{"SELECT Name FROM Orders WHERE Amount = 10", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Amount != 10", nil, "Beta,delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount <> 10", nil, "Beta,delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount < 25.5", nil, "alpha,delta_x"},
		{"SELECT Name FROM Orders WHERE Amount <= 25.5", nil, "alpha,Beta,delta_x"},
		{"SELECT Name FROM Orders WHERE Amount > 25.5", nil, "O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount >= 25.5", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount = '10'", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Amount > 5 AND Amount < 50", nil, "alpha,Beta"},
		{"SELECT Name FROM Orders WHERE Amount = 5 OR Name = 'Beta'", nil, "Beta,delta_x"},
		{"SELECT Name FROM Orders WHERE NOT Amount = 5", nil, "alpha,Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE NOT (Amount = 5 OR Amount = 10)", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount = 5 OR Amount = 10 AND Name = 'x'", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE (Amount = 5 OR Amount = 10) AND Name = 'alpha'", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Amount IN (5, 100, 7)", nil, "delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount NOT IN (5, 100)", nil, "alpha,Beta"},
		{"SELECT Name FROM Orders WHERE Amount NOT IN (5, NULL)", nil, ""},
		{"SELECT Name FROM Orders WHERE Amount IN (5, NULL)", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Amount BETWEEN 10 AND 25.5", nil, "alpha,Beta"},
		{"SELECT Name FROM Orders WHERE Amount NOT BETWEEN 10 AND 25.5", nil, "delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE Name LIKE 'a%'", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Name LIKE '%a'", nil, "alpha,Beta,gamma"},
		{"SELECT Name FROM Orders WHERE Name LIKE 'b%'", nil, ""},
		{"SELECT Name FROM Orders WHERE Name ILIKE 'b%'", nil, "Beta"},
		{"SELECT Name FROM Orders WHERE Name LIKE '_eta'", nil, "Beta"},
		{"SELECT Name FROM Orders WHERE Name LIKE 'delta\\_%'", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Name NOT LIKE '%a%'", nil, "O'Brien"},
		{"SELECT Name FROM Orders WHERE Name NOT ILIKE '%B%'", nil, "alpha,gamma,delta_x"},
		{"SELECT Name FROM Orders WHERE Name = 'O''Brien'", nil, "O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount LIKE '2%'", nil, "Beta"},
		{"SELECT Name FROM Orders WHERE Amount IS NULL", nil, "gamma"},
		{"SELECT Name FROM Orders WHERE Amount IS NOT NULL", nil, "alpha,Beta,delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE Tags IS NULL", nil, "gamma,O'Brien"},
		{"SELECT Name FROM Orders WHERE Status IS NULL", nil, "gamma"},
		// NULL compares unknown, whatever the operator.
		{"SELECT Name FROM Orders WHERE Amount = NULL", nil, ""},
		{"SELECT Name FROM Orders WHERE Amount != NULL", nil, ""},
		{"SELECT Name FROM Orders WHERE NOT (Amount > 6)", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Amount > 6 OR Name = 'gamma'", nil, "alpha,Beta,gamma,O'Brien"},
		// select columns compare by option name
		{"SELECT Name FROM Orders WHERE Status = 'open'", nil, "alpha,delta_x"},
		{"SELECT Name FROM Orders WHERE Status IN ('paid', 'void')", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE Status != 'open'", nil, "Beta,O'Brien"},
		// multiple-select: any element
		{"SELECT Name FROM Orders WHERE Tags = 'b'", nil, "alpha,Beta"},
		{"SELECT Name FROM Orders WHERE Tags != 'b'", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Tags IN ('c', 'x')", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Tags NOT IN ('a')", nil, "Beta,delta_x"},
		{"SELECT Name FROM Orders WHERE Tags LIKE 'c%'", nil, "delta_x"},
		// checkbox
		{"SELECT Name FROM Orders WHERE Done = TRUE", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE Done = false", nil, "alpha,delta_x"},
		{"SELECT Name FROM Orders WHERE Done", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE NOT Done", nil, "alpha,delta_x"},
		// dates compare as instants, date-only literals in the cell's offset
		{"SELECT Name FROM Orders WHERE Due = '2024-01-31'", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Due < '2024-01-31'", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Due >= '2024-02-15'", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE Due > '2024-01-30T22:30:00Z'", nil, "Beta,O'Brien"},
		{"SELECT Name FROM Orders WHERE Due = '2024-01-30T22:00:00Z'", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Due BETWEEN '2024-01-01' AND '2024-02-29'", nil, "alpha,Beta"},
		{"SELECT Name FROM Orders WHERE Due < now()", nil, "alpha,Beta,delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE _ctime > '2024-01-01T00:00:02Z'", nil, "delta_x,O'Brien"},
		{"SELECT Name FROM Orders WHERE _id = 'row0001'", nil, "Beta"},
		// arithmetic
		{"SELECT Name FROM Orders WHERE Amount * 2 = 20", nil, "alpha"},
		{"SELECT Name FROM Orders WHERE Amount - 5 > 50 / 2", nil, "O'Brien"},
		{"SELECT Name FROM Orders WHERE -Amount < -50", nil, "O'Brien"},
		{"SELECT Name FROM Orders WHERE Amount % 10 = 5", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE Amount / 0 = 1", nil, ""},
		// backticks, qualified names, case-insensitive column names
		{"SELECT `Name` FROM `Orders` WHERE `Order ID` = 'o-2'", nil, "Beta"},
		{"SELECT Orders.Name FROM Orders WHERE orders.amount = 5", nil, "delta_x"},
		{"SELECT Name FROM Orders WHERE amount = 5", nil, "delta_x"},
		{"sElEcT Name fRoM Orders wHeRe Amount Is NoT nUlL LiMiT 1", nil, "alpha"},
		// placeholders
		{"SELECT Name FROM Orders WHERE Amount > ? AND Status = ?", []any{6, "open"}, "alpha"},
		{"SELECT Name FROM Orders WHERE Name IN (?, ?)", []any{"gamma", "Beta"}, "Beta,gamma"},
		{"SELECT Name FROM Orders WHERE Amount IS NULL OR Amount = ?", []any{int64(100)}, "gamma,O'Brien"},
		{"SELECT Name FROM Orders WHERE Name LIKE ?", []any{"%ta%"}, "Beta,delta_x"},
		{"SELECT Name FROM Orders WHERE Name = ?", []any{"' OR 1=1 --"}, ""},
		{"SELECT Name FROM Orders WHERE Amount = ? LIMIT ?", []any{nil, 5}, ""},
		{"SELECT Name FROM Orders WHERE Name LIKE Name", nil, "alpha,Beta,gamma,delta_x,O'Brien"},
		{"SELECT Name FROM Orders -- comment\nWHERE /* block */ Amount = 5;", nil, "delta_x"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			t.Parallel()
			cat, _ := setup(t)
			res, err := Run(cat, tt.sql, tt.params)
			if strings.Contains(tt.sql, "from orders") {
				var qe *Error
				if !errors.As(err, &qe) {
					t.Fatalf("err = %v, want *Error for unknown table", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !res.Select {
				t.Errorf("Select = false")
			}
			if got := names(res); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
