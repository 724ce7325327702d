package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// A large publish of ops goes to the OPS stream as JetStream atomic batches
// (nats-server 2.12 and later): up to atomicMaxMsgs messages, stored all
// together or not at all. Only the first message of a batch carries a
// Nats-Msg-Id, derived from the ids of every op in the batch. So the same
// ops published again within the duplicate window (the runner retrying an
// event, a page event redelivered) are refused whole as a duplicate, as
// before, while the server's duplicate table holds one id per batch instead
// of one per op: a million queued ops cost it about a thousand entries of
// some 170 B, instead of a million.
//
// What changes is the unit of deduplication: a publish of other ops that
// shares some with an earlier one is not trimmed op by op. Large publishes
// come from stored page events and cron runs, which produce the same ops in
// the same order when run again; a redelivered event's ops are marked
// Replay, so an append with a dedupe column checks before it adds. Small
// publishes (webhook reactions) keep an id per op.

// Atomic batch headers (ADR-50).
const (
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"
)

const (
	// atomicMinOps is the fewest ops a publish sends as atomic batches;
	// below it each op carries its own Nats-Msg-Id.
	atomicMinOps = 32
	// atomicMaxMsgs is the most messages in one batch: the server's
	// default limit.
	atomicMaxMsgs = 1000
	// atomicMaxBytes bounds the payload of one batch, which the server
	// stages and copies before it commits.
	atomicMaxBytes = 8 << 20
	// atomicSlots bounds this process's batches in flight, well under the
	// server's 50 per stream.
	atomicSlots = 8
	// atomicTries is how often a batch is sent before its error is
	// returned, when the error says a later try may succeed.
	atomicTries = 5
)

// JetStream error codes of atomic publishing.
const (
	errCodeAtomicDuplicate  = 10201 // the batch holds a duplicate message id: stored already
	errCodeAtomicIncomplete = 10176 // a message of the batch did not arrive
	errCodeAtomicInflight   = 10210 // too many batches in flight
)

// atomicAckError is the server's refusal of an atomic batch.
type atomicAckError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *atomicAckError) Error() string {
	return fmt.Sprintf("%s (status %d, code %d)", e.Description, e.Code, e.ErrCode)
}

// retryable says whether sending the batch again may succeed.
func (e *atomicAckError) retryable() bool {
	return e.ErrCode == errCodeAtomicIncomplete || e.ErrCode == errCodeAtomicInflight || e.Code == 503
}

// batchMsg is one message of an atomic batch and the op id it carries.
type batchMsg struct {
	msg *nats.Msg
	id  string
}

// publishAtomic publishes msgs, in order, as atomic batches of at most
// atomicMaxMsgs messages and atomicMaxBytes of payload. It returns nil once
// every batch is stored (or was already); on error, the batches before the
// failed one are stored and publishing the same msgs again is safe.
func (q *Queue) publishAtomic(ctx context.Context, msgs []batchMsg) error {
	for start := 0; start < len(msgs); {
		end, size := start, 0
		for end < len(msgs) && end-start < atomicMaxMsgs && (end == start || size+len(msgs[end].msg.Data) <= atomicMaxBytes) {
			size += len(msgs[end].msg.Data)
			end++
		}
		if err := q.publishBatch(ctx, msgs[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// batchDedupeID is the Nats-Msg-Id of a batch: a digest of its ops' ids,
// in order.
func batchDedupeID(msgs []batchMsg) string {
	h := sha256.New()
	for _, m := range msgs {
		h.Write([]byte(m.id))
		h.Write([]byte{0})
	}
	return "batch:" + hex.EncodeToString(h.Sum(nil))
}

// publishBatch sends one atomic batch, again while the server says a later
// try may succeed, each try under a batch id of its own.
func (q *Queue) publishBatch(ctx context.Context, msgs []batchMsg) error {
	select {
	case q.atomicSlots <- struct{}{}:
		defer func() { <-q.atomicSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	dedupe := batchDedupeID(msgs)
	wait := 20 * time.Millisecond
	for try := 1; ; try++ {
		err := q.sendBatch(ctx, msgs, dedupe)
		if err == nil || !mayRetryBatch(ctx, err) || try == atomicTries {
			if err != nil {
				return fmt.Errorf("publish batch of %d ops from %s: %w", len(msgs), msgs[0].id, err)
			}
			return nil
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// mayRetryBatch says whether a batch that failed with err may be stored by
// another try: the answer timed out or the server asked to come back.
func mayRetryBatch(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ae *atomicAckError
	if errors.As(err, &ae) {
		return ae.retryable()
	}
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders)
}

// sendBatch sends msgs as one atomic batch: every message but the last
// without a reply, the last with the commit header as a request, whose
// answer says whether the server stored them all.
func (q *Queue) sendBatch(ctx context.Context, msgs []batchMsg, dedupe string) error {
	batch := nuid.Next()
	last := len(msgs) - 1
	for i, bm := range msgs {
		h := bm.msg.Header
		h.Set(batchIDHeader, batch)
		h.Set(batchSeqHeader, strconv.Itoa(i+1))
		if i == 0 {
			h.Set(jetstream.MsgIDHeader, dedupe)
		}
		if i == last {
			h.Set(batchCommitHeader, "1")
			break
		}
		if err := q.nc.PublishMsg(bm.msg); err != nil {
			return err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, publishAckTimeout)
	defer cancel()
	resp, err := q.nc.RequestMsgWithContext(rctx, msgs[last].msg)
	if err != nil {
		return err
	}
	var ack struct {
		Error *atomicAckError `json:"error"`
		Count int             `json:"count"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("batch ack %q: %w", resp.Data, err)
	}
	switch {
	case ack.Error != nil && ack.Error.ErrCode == errCodeAtomicDuplicate:
		return nil // the same ops, stored by an earlier publish
	case ack.Error != nil:
		return ack.Error
	case ack.Count != len(msgs):
		return fmt.Errorf("the server stored %d of a batch of %d", ack.Count, len(msgs))
	}
	return nil
}
