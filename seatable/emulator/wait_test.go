package emulator

import (
	"context"
	"testing"
	"time"
)

func TestWaitForWakesOnEdit(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	fx, err := ParseFixture("f.yaml", []byte("bases:\n  - name: crm\n    tables:\n      - name: T\n        columns: [ { name: Name, type: text } ]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(fx); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		rows, err := e.Rows("crm", "T")
		if err != nil {
			t.Error(err)
		}
		return len(rows)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.WaitFor(ctx, func() bool { return count() == 2 })
	}()
	for i := 0; i < 2; i++ {
		if _, err := e.Edit(EditRequest{BaseUUID: "crm", TableName: "T", Op: "insert", Row: map[string]any{"Name": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitFor: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.WaitFor(ctx, func() bool { return false }); err != context.Canceled {
		t.Errorf("WaitFor on a cancelled context = %v", err)
	}
}
