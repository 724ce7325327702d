package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// publishWindow is how many asynchronous publishes one batch keeps in
	// flight before it waits for their acks.
	publishWindow = 1024
	// publishMaxPending bounds unacked asynchronous publishes on the
	// connection, across every concurrent batch.
	publishMaxPending = 8 * publishWindow
	// publishAckTimeout fails an asynchronous publish whose ack never comes.
	publishAckTimeout = 30 * time.Second
	// publishStallWait is how long a publish waits for room under
	// publishMaxPending before it fails.
	publishStallWait = 10 * time.Second
)

// publishAll publishes msgs asynchronously, at most publishWindow in flight,
// and returns nil only once the server has acked every one of them (a
// duplicate the stream dropped counts as acked: it is stored already).
// On error some messages may be stored and others not; publishing the same
// batch again is safe because every message carries a Nats-Msg-Id.
func (q *Queue) publishAll(ctx context.Context, msgs []*nats.Msg) error {
	futures := make([]jetstream.PubAckFuture, 0, min(len(msgs), publishWindow))
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish %s: %w", f.Msg().Header.Get(jetstream.MsgIDHeader), err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := q.js.PublishMsgAsync(m, jetstream.WithStallWait(publishStallWait))
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.Header.Get(jetstream.MsgIDHeader), err)
		}
		futures = append(futures, f)
		if len(futures) == publishWindow {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}

// newMsg builds a message with a Nats-Msg-Id for deduplication.
func newMsg(subject, id string, data []byte) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID(id))
	return m
}

// publishEach turns every item into its message and publishes them all
// with publishAll; op names the operation in errors.
func publishEach[T any](ctx context.Context, q *Queue, op string, items []T, toMsg func(T) (*nats.Msg, error)) error {
	msgs := make([]*nats.Msg, 0, len(items))
	for _, it := range items {
		m, err := toMsg(it)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := q.publishAll(ctx, msgs); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
