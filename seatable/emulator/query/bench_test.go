package query

import (
	"fmt"
	"testing"
)

// benchTable builds n rows shaped like a real base.
func benchTable(n int) memCatalog {
	t := newMemTable("Orders", orderColumns)
	statuses := []any{"open", "paid", "void", nil}
	for i := range n {
		t.add(map[string]any{
			"Name":     fmt.Sprintf("customer %d", i),
			"Amount":   float64(i % 1000),
			"Status":   statuses[i%len(statuses)],
			"Tags":     []any{"a"},
			"Due":      fmt.Sprintf("2024-%02d-%02dT00:00:00+02:00", i%12+1, i%28+1),
			"Done":     i%2 == 0,
			"Order ID": fmt.Sprintf("o-%d", i),
		})
	}
	return memCatalog{"Orders": t}
}

// BenchmarkSelectWhere runs a SELECT with a WHERE over 100,000 rows.
func BenchmarkSelectWhere(b *testing.B) {
	cat := benchTable(100000)
	queries := []struct{ name, sql string }{
		{"number-string-date", "SELECT Name, Amount FROM Orders WHERE Amount > 990 AND Status = 'open' AND Due >= '2024-06-01' LIMIT 10000"},
		{"like", "SELECT Name FROM Orders WHERE Name LIKE '%99%' LIMIT 10000"},
		{"count", "SELECT COUNT(*) FROM Orders WHERE Amount BETWEEN 100 AND 200 OR Status IN ('void')"},
		{"order-by", "SELECT Name FROM Orders WHERE Amount < 500 ORDER BY Amount DESC LIMIT 100"},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Run(cat, q.sql, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) == 0 {
					b.Fatal("no rows")
				}
			}
		})
	}
}
