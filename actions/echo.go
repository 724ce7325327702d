package actions

import (
	"github.com/seaflow/seaflow"
)

// replaySafe returns the op to send for a delivery. An append that was
// delivered before, or produced again from a redelivered event, may have
// landed already (the process died between SeaTable's answer and the ack): when it names a dedupe column holding its
// id, it goes out as an upsert on that column, which finds the row instead
// of adding it again. A first delivery stays a plain, cheaper append.
func replaySafe(dl Delivery) seaflow.Op {
	op := dl.Op
	if (dl.Redelivered || op.Replay) && op.Kind == seaflow.KindAppend && op.DedupeColumn != "" {
		op.Kind, op.Key = seaflow.KindUpsert, op.DedupeColumn
	}
	return op
}
