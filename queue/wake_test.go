package queue

import (
	"testing"

	"github.com/seaflow/seaflow"
)

// TestAfterQueued: a call registered for a lane runs once when ops are
// published for it, not for another lane; a cancelled one never runs.
func TestAfterQueued(t *testing.T) {
	t.Parallel()
	q := setup(t)
	called := make(chan string, 4)
	q.AfterQueued("crm", seaflow.Bulk, func() { called <- "crm bulk" })
	stop := q.AfterQueued("crm", seaflow.Urgent, func() { called <- "crm urgent" })
	if !stop() {
		t.Fatal("stop of a call to come said it was not")
	}
	publishOps(t, q, 1, "other", "hr", seaflow.Bulk)
	publishOps(t, q, 1, "urgent", "crm", seaflow.Urgent)
	publishOps(t, q, 2, "bulk", "crm", seaflow.Bulk)
	if got := <-called; got != "crm bulk" {
		t.Fatalf("called for %s", got)
	}
	publishOps(t, q, 1, "more", "crm", seaflow.Bulk)
	later := q.AfterQueued("crm", seaflow.Bulk, func() { called <- "crm bulk again" })
	publishOps(t, q, 1, "again", "crm", seaflow.Bulk)
	if got := <-called; got != "crm bulk again" {
		t.Fatalf("called for %s", got)
	}
	if later() {
		t.Error("stop after the call said it was still to come")
	}
	select {
	case got := <-called:
		t.Errorf("called again for %s", got)
	default:
	}
}
