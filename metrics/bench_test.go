package metrics

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkAPICall measures the per-call cost on the dispatcher's hot path.
func BenchmarkAPICall(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.APICall("crm", "/api/v2/dtables/6f1c4a2e9b7d4e3f8a1b2c3d4e5f6a7b/batch-update-rows/", 200, 1000, 80*time.Millisecond)
	}
}

// BenchmarkScrape measures one scrape with a three-base snapshot.
func BenchmarkScrape(b *testing.B) {
	m := New()
	var s Snapshot
	for _, base := range []string{"crm", "shop", "support"} {
		s.Budgets = append(s.Budgets, BudgetWindow{Base: base, Window: "1m", Limit: 300}, BudgetWindow{Base: base, Window: "24h", Limit: 5000})
		for _, lane := range []string{"urgent", "normal", "bulk"} {
			s.Queues = append(s.Queues, QueueDepth{Base: base, Lane: lane})
		}
		m.APICall(base, "rows.append", 200, 10, time.Millisecond)
	}
	m.SetSnapshot(func(context.Context) Snapshot { return s })
	h := m.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
