package query

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql    string
		kind   string
		table  string
		params int
	}{
		{"SELECT * FROM Orders", "SELECT", "Orders", 0},
		{"select `a b` from `My Table` where x = ? and y in (?, ?)", "SELECT", "My Table", 3},
		{"UPDATE t SET a = ?, b = 'x' WHERE c = ?", "UPDATE", "t", 2},
		{"DELETE FROM t WHERE a BETWEEN ? AND ?;", "DELETE", "t", 2},
		{"SELECT COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > ? ORDER BY 1 LIMIT ?, ?", "SELECT", "t", 3},
		{"SELECT a FROM `select`", "SELECT", "select", 0},
		{"SELECT 'it''s', 1.5e3, .5, -2 FROM t", "SELECT", "t", 0},
		{"SELECT Straße FROM Tabelle", "SELECT", "Tabelle", 0},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			st, err := Parse(tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			if st.Kind() != tt.kind || st.TableName() != tt.table || st.NumParams() != tt.params {
				t.Errorf("got %s %q %d params, want %s %q %d", st.Kind(), st.TableName(), st.NumParams(), tt.kind, tt.table, tt.params)
			}
		})
	}
}

func TestParseLiterals(t *testing.T) {
	t.Parallel()
	st, err := Parse("SELECT 'it''s' AS s, 1.5e3, -2, TRUE, null FROM t")
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*selectStmt)
	want := []any{"it's", 1500.0, -2.0, true, nil}
	for i, w := range want {
		lit, ok := s.items[i].expr.(*litNode)
		if !ok || lit.val != w {
			t.Errorf("item %d = %#v, want literal %v", i, s.items[i].expr, w)
		}
	}
	if s.items[0].alias != "s" || s.items[1].text != "1.5e3" || s.items[2].text != "-2" {
		t.Errorf("items = %+v", s.items)
	}
}

func TestParseReservedWordsNeedBackticks(t *testing.T) {
	t.Parallel()
	_, err := Parse("SELECT select FROM t")
	var qe *Error
	if !errors.As(err, &qe) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if _, err := Parse("SELECT `select` FROM t"); err != nil {
		t.Errorf("backticked reserved word: %v", err)
	}
}

func TestParseISO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"2024-01-31", "2024-01-31T00:00:00+02:00", 0, true},
		{"2024-01-31T00:00:00+02:00", "2024-01-30T22:00:00Z", 0, true},
		{"2024-01-31T00:00:00+0200", "2024-01-30T22:00:01Z", -1, true},
		{"2024-01-31 13:59", "2024-01-31T13:58:59.999", 1, true},
		{"2021-03-10T16:19:31.761+00:00", "2021-03-10T16:19:31.76+00:00", 1, true},
		{"2024/02/29", "2024-02-29", 0, true},
		{"1969-12-31", "1970-01-01", -1, true},
		{"2023-02-29", "2023-03-01", 0, false},
		{"2024-01-31T25:00", "2024-01-31", 0, false},
		{"20240131", "2024-01-31", 0, false},
		{"2024-01-31x", "2024-01-31", 0, false},
	}
	for _, tt := range tests {
		got, ok := compareDates(tt.a, tt.b)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("compareDates(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLikeMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"%", "", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"a%c", "abbbc", false, true},
		{"a%c", "abbbd", false, false},
		{"%b%b%", "abcbd", false, true},
		{"_", "é", false, true},
		{"__", "é", false, false},
		{"100\\%", "100%", false, true},
		{"100\\%", "1000", false, false},
		{"ÄB%", "äbc", true, true},
		{"ÄB%", "äbc", false, false},
		{"%a%a%a%a%b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
	}
	for _, tt := range tests {
		if got := likeMatch(compileLike(tt.pat), tt.s, tt.fold); got != tt.want {
			t.Errorf("%q LIKE %q (fold %v) = %v, want %v", tt.s, tt.pat, tt.fold, got, tt.want)
		}
	}
}
