package reliability

import (
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/queue"
)

// TestAtomicBatchesOnCluster: on a three-node cluster (R3), a large publish
// of ops goes as atomic batches: every op is queued once, the same publish
// again adds nothing, and another replica fetches them in order.
func TestAtomicBatchesOnCluster(t *testing.T) {
	skipShort(t)
	t.Parallel()
	c := startCluster(t)
	ctx := t.Context()
	a, err := queue.Open(ctx, queue.Options{URL: c.URLs(), Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := queue.Open(ctx, queue.Options{URL: c.URLs(), Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ops := make([]seaflow.Op, 2500)
	for i := range ops {
		ops[i] = seaflow.Op{ID: fmt.Sprintf("page/%d", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Deals", RowID: fmt.Sprintf("r%d", i),
			Lane: seaflow.Bulk, Values: map[string]any{"Stage": "Won"}}
	}
	for range 2 {
		if err := a.PublishOps(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.Pending(ctx, "crm", seaflow.Bulk); err != nil || n != len(ops) {
		t.Fatalf("pending = %d, %v; want %d", n, err, len(ops))
	}
	ds, err := b.Fetch(ctx, "crm", seaflow.Bulk, 1000, 0)
	if err != nil || len(ds) != 1000 {
		t.Fatalf("fetch: %d, %v", len(ds), err)
	}
	for i, d := range ds {
		if d.Op.ID != ops[i].ID {
			t.Fatalf("op %d is %s, want %s", i, d.Op.ID, ops[i].ID)
		}
	}
}
