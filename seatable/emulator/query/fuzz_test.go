package query

import "testing"

// FuzzParse checks that Parse never panics, that every error is a *Error,
// and that running what parses against a small table never panics either.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"SELECT * FROM Orders",
		"SELECT Name, Amount FROM Orders WHERE Amount > 10 ORDER BY Amount DESC LIMIT 5",
		"SELECT `Order ID` AS oid FROM `My Table` WHERE `Order ID` = 'o-1'",
		"SELECT COUNT(*) FROM Orders WHERE Status IN ('open', 'paid')",
		"SELECT Status, COUNT(*), SUM(Amount) FROM Orders GROUP BY Status HAVING COUNT(*) > 1",
		"SELECT DISTINCT Status FROM Orders",
		"SELECT Name FROM Orders WHERE Name LIKE 'a%' OR Name ILIKE '_B%'",
		"SELECT Name FROM Orders WHERE Amount BETWEEN 1 AND 100 AND Done = TRUE",
		"SELECT Name FROM Orders WHERE Amount IS NOT NULL AND NOT (Status = 'void')",
		"SELECT Name FROM Orders WHERE Due < now() AND Due >= '2024-01-01'",
		"SELECT Name FROM Orders WHERE Amount NOT IN (1, 2, 3) LIMIT 10, 20",
		"SELECT Name FROM Orders LIMIT 10 OFFSET 5",
		"SELECT Amount * 2 + 1 AS x FROM Orders WHERE -Amount < -5",
		"SELECT Name FROM Orders WHERE Name = 'O''Brien';",
		"SELECT Name FROM Orders WHERE Amount = ? AND Status = ?",
		"UPDATE Orders SET Amount = Amount + 1, Status = 'paid' WHERE _id = 'row0000'",
		"UPDATE `Orders` SET `Done` = ? WHERE `Amount` > ?",
		"DELETE FROM Orders WHERE Amount IS NULL",
		"DELETE FROM `Orders`",
		"select name from orders -- comment\n where /* c */ amount <> 1",
		"SELECT MIN(Due), MAX(Due), AVG(Amount) FROM Orders WHERE Tags = 'a'",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := Parse(sql)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q) error %T, want *Error", sql, err)
			}
			return
		}
		if st.Kind() != "SELECT" {
			return // keep the fuzz table intact; writes are covered by tests
		}
		cat, _ := setup(t)
		params := make([]any, st.NumParams())
		for i := range params {
			params[i] = float64(i)
		}
		_, _ = Execute(cat, st, params, Options{})
	})
}
