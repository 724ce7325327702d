package budget

import (
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// fullDay returns a State holding 5,000 calls of the last 24 hours, evenly
// paced, at the default limits, and the time just after the last one.
func fullDay(b *testing.B) (*State, time.Time) {
	b.Helper()
	s := &State{}
	l := DefaultLimits()
	const gap = 17280 * time.Millisecond
	for i := range 5000 {
		if ok, _ := s.Admit(l, seaflow.Urgent, t0.Add(time.Duration(i)*gap)); !ok {
			b.Fatalf("call %d refused", i)
		}
	}
	return s, t0.Add(5000 * gap)
}

// BenchmarkAdmit measures an admitted urgent call at the default limits
// with a full day in the log: each iteration a call a day old expires and
// a new one is recorded (the log stays at 5,000).
func BenchmarkAdmit(b *testing.B) {
	l := DefaultLimits()
	s, now := fullDay(b)
	const gap = 17280 * time.Millisecond
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if ok, _ := s.Admit(l, seaflow.Urgent, now.Add(time.Duration(i)*gap)); !ok {
			b.Fatal("refused")
		}
	}
}

// BenchmarkAdmitBulkRefused measures the costliest answer: a bulk call
// checked against all 24 steps of the curve and refused with its exact next.
func BenchmarkAdmitBulkRefused(b *testing.B) {
	l := DefaultLimits()
	s, now := fullDay(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ok, _ := s.Admit(l, seaflow.Bulk, now); ok {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkEncode measures a full day's round trip through the encoding a
// Keeper does on every Reserve with a Store.
func BenchmarkEncode(b *testing.B) {
	s, _ := fullDay(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		data, err := s.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		var back State
		if err := back.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
