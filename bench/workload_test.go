package bench

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

func TestWorkloadArrivals(t *testing.T) {
	w := smallDay()
	rowIDs := make([]string, w.Rows)
	for i := range rowIDs {
		rowIDs[i] = fmt.Sprintf("r%d", i)
	}
	arr := w.Arrivals(rowIDs)
	count := map[seaflow.Lane]int{}
	nightly := 0
	seq := 0
	var last time.Time
	for _, a := range arr {
		if a.At.Before(last) || a.At.Before(w.Start) || !a.At.Before(w.Start.Add(w.Length)) {
			t.Fatalf("arrival at %s out of order or outside the day", a.At)
		}
		last = a.At
		for _, op := range a.Ops() {
			seq++
			if op.ID != fmt.Sprintf("op-%d", seq) || !op.CreatedAt.Equal(a.At) {
				t.Fatalf("op %s created %s in arrival %s, want op-%d", op.ID, op.CreatedAt, a.At, seq)
			}
			if len(op.Values) != 1 {
				t.Fatalf("op %s writes %v", op.ID, op.Values)
			}
			for col, v := range op.Values {
				if v != seq {
					t.Fatalf("op %s writes %v to %s, want its sequence number", op.ID, v, col)
				}
				if col == NightlyColumn {
					nightly++
					if want := rowIDs[(nightly-1)%w.NightlyRows]; op.RowID != want {
						t.Fatalf("nightly op %d on %s, want %s", nightly, op.RowID, want)
					}
				}
			}
			count[op.Lane]++
		}
	}
	if want := 2*w.HourlyOps + w.NightlyOps; count[seaflow.Bulk] != want || nightly != w.NightlyOps {
		t.Errorf("%d bulk ops (%d nightly), want %d (%d)", count[seaflow.Bulk], nightly, want, w.NightlyOps)
	}
	// Poisson arrivals every 20 s on average over 2 hours: 360 expected.
	if n := count[seaflow.Urgent]; n < 300 || n > 420 {
		t.Errorf("%d urgent ops in 2 hours at one per 20 s", n)
	}
	if again := w.Arrivals(rowIDs); !reflect.DeepEqual(again, arr) {
		t.Error("two calls with one seed differ")
	}
	w.Seed++
	if other := w.Arrivals(rowIDs); reflect.DeepEqual(other, arr) {
		t.Error("another seed gives the same arrivals")
	}
}

func TestWorkloadValidate(t *testing.T) {
	for name, change := range map[string]func(*Workload){
		"no length":            func(w *Workload) { w.Length = 0 },
		"no rows":              func(w *Workload) { w.Rows = 0 },
		"nightly beyond table": func(w *Workload) { w.NightlyRows = w.Rows + 1 },
		"negative drain":       func(w *Workload) { w.Drain = -time.Second },
		"negative hourly":      func(w *Workload) { w.HourlyOps = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			w := DefaultWorkload()
			change(&w)
			if err := w.Validate(); err == nil {
				t.Error("no error")
			}
		})
	}
	if err := DefaultWorkload().Validate(); err != nil {
		t.Errorf("default workload: %v", err)
	}
}
