package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
)

// bulkOps is an arrival of n bulk ops numbered from from, over 10 rows.
func bulkOps(from, n int) Arrival {
	rows := make([]string, 10)
	for i := range rows {
		rows[i] = fmt.Sprint("r", i)
	}
	return Arrival{First: from, N: n, Lane: seaflow.Bulk, Column: BacklogColumn, RowMod: len(rows), rowIDs: rows}
}

func ids(ds []actions.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Op.ID
	}
	return out
}

func TestSimQueue(t *testing.T) {
	ctx := context.Background()
	t.Run("fetch waits for a full batch or the wait", func(t *testing.T) {
		c := NewClock(t0)
		q := newSimQueue(c, func(seaflow.Op) {})
		type fetched struct {
			at  time.Duration
			ids []string
		}
		got := make(chan fetched, 2)
		c.Go(func() {
			for range 2 {
				ds, err := q.Fetch(ctx, BaseName, seaflow.Bulk, 3, 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				got <- fetched{c.Now().Sub(t0), ids(ds)}
			}
		})
		c.At(t0.Add(time.Second), func() { q.push(bulkOps(1, 2)) })
		c.At(t0.Add(2*time.Second), func() { q.push(bulkOps(3, 2)) })
		c.Run(t0.Add(time.Minute))
		first, second := <-got, <-got
		if first.at != 2*time.Second || fmt.Sprint(first.ids) != "[op-1 op-2 op-3]" {
			t.Errorf("first fetch %+v, want op-1..3 at 2s (batch full)", first)
		}
		if second.at != 12*time.Second || fmt.Sprint(second.ids) != "[op-4]" {
			t.Errorf("second fetch %+v, want op-4 at 12s (wait over)", second)
		}
	})
	t.Run("pending counts unsettled ops and release keeps queue order", func(t *testing.T) {
		c := NewClock(t0)
		var acked []string
		q := newSimQueue(c, func(op seaflow.Op) { acked = append(acked, op.ID) })
		q.push(bulkOps(1, 5))
		ds, err := q.Fetch(ctx, BaseName, seaflow.Bulk, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := q.Pending(ctx, BaseName, seaflow.Bulk); n != 5 {
			t.Errorf("pending %d with 3 fetched of 5, want 5", n)
		}
		if err := ds[0].Ack(ctx); err != nil {
			t.Fatal(err)
		}
		for _, d := range ds[1:] {
			if err := d.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := q.Pending(ctx, BaseName, seaflow.Bulk); n != 4 {
			t.Errorf("pending %d after one ack, want 4", n)
		}
		rest, err := q.Fetch(ctx, BaseName, seaflow.Bulk, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids(rest)) != "[op-2 op-3 op-4 op-5]" || fmt.Sprint(acked) != "[op-1]" {
			t.Errorf("after release fetched %v, acked %v", ids(rest), acked)
		}
		if n, _ := q.Pending(ctx, BaseName, seaflow.Urgent); n != 0 {
			t.Errorf("urgent pending %d, want 0", n)
		}
	})
}
