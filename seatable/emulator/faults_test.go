package emulator

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T) ([]int, Stats) {
		e, bu := setup(t, Options{Limits: []Limit{}})
		e.SetFaults(Faults{Rate429: 0.1, Rate5xx: 0.05, Seed: 42})
		var codes []int
		for range 1000 {
			rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
			codes = append(codes, rec.Code)
			if rec.Code == http.StatusTooManyRequests && rec.Body.Len() != 0 {
				t.Fatalf("injected 429 has a body: %q", rec.Body)
			}
		}
		return codes, e.Stats()
	}
	a, st := run(t)
	b, _ := run(t)
	count := map[int]int{}
	for i := range a {
		count[a[i]]++
		if a[i] != b[i] {
			t.Fatalf("call %d: %d vs %d with the same seed", i, a[i], b[i])
		}
	}
	if n := count[429]; n < 60 || n > 140 {
		t.Errorf("%d injected 429s of 1000 at rate 0.1", n)
	}
	if n := count[503]; n < 20 || n > 80 {
		t.Errorf("%d injected 503s of 1000 at rate 0.05", n)
	}
	if count[200]+count[429]+count[503] != 1000 {
		t.Errorf("statuses %v", count)
	}
	if s := st.Bases["crm"]; s.Sent429 != count[429] || s.Sent5xx != count[503] {
		t.Errorf("stats sent429 %d sent5xx %d, counted %v", s.Sent429, s.Sent5xx, count)
	}
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{Limits: []Limit{}})
	var slept []time.Duration
	e.sleep = func(_ context.Context, d time.Duration) { slept = append(slept, d) }
	e.SetFaults(Faults{Latency: 40 * time.Millisecond})
	gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	do(t, e, "GET", "/_emulator/stats", "", nil)
	exchange(t, e, bu.crm.APIToken, "Token")
	gw(t, e, bu.crm, bu.token, "GET", "/rows/?table_name=Deals", nil)
	if len(slept) != 2 || slept[0] != 40*time.Millisecond {
		t.Errorf("latency injected %v, want 40ms on the two gateway calls only", slept)
	}
}
