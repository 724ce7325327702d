package queue

import "testing"

// TestCatchUpCursor: compare-and-set on the state bucket; a stale
// revision is refused without an error.
func TestCatchUpCursor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := setup(t).CatchUpCursor()
	key := "catchup/crm/Big Deals"
	if data, rev, err := c.Load(ctx, key); data != nil || rev != 0 || err != nil {
		t.Fatalf("Load before any save = %q %d %v", data, rev, err)
	}
	rev, ok, err := c.Save(ctx, key, []byte("a"), 0)
	if !ok || err != nil {
		t.Fatalf("create: %v %v", ok, err)
	}
	if _, ok, err := c.Save(ctx, key, []byte("b"), 0); ok || err != nil {
		t.Errorf("second create: %v %v, want refused", ok, err)
	}
	rev2, ok, err := c.Save(ctx, key, []byte("c"), rev)
	if !ok || err != nil {
		t.Fatalf("update: %v %v", ok, err)
	}
	if _, ok, err := c.Save(ctx, key, []byte("d"), rev); ok || err != nil {
		t.Errorf("stale update: %v %v, want refused", ok, err)
	}
	if data, got, err := c.Load(ctx, key); string(data) != "c" || got != rev2 || err != nil {
		t.Errorf("Load = %q %d %v", data, got, err)
	}
}
