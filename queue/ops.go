package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
)

// Consumer settings of the OPS work queue, one durable pull consumer per
// base and lane.
const (
	// opsAckWait is how long a fetched op may stay unsettled before the
	// server hands it to another fetch. It bounds how long the ops a
	// crashed replica had fetched wait before another process (or the
	// restarted one) gets them. The dispatcher extends held ops every 10 s
	// and a SeaTable call times out after 30 s, so a live holder never
	// loses its ops to the timer: 45 s leaves room above 10 s + 30 s.
	opsAckWait = 45 * time.Second
	// opsMaxAckPending caps fetched-but-unsettled ops per base and lane:
	// a full batch of 1,000 plus the next one lingering, with room to spare.
	opsMaxAckPending = 4000
	// opsMinWait is the shortest wait sent to the server; shorter waits
	// take only what is there.
	opsMinWait = 10 * time.Millisecond
	// opsIdleConsumer is how long a lane's consumer may go without a fetch
	// before the server deletes it. A consumer costs the embedded server
	// some 35 to 50 kB and four goroutines: a thousand bases' lanes that
	// were used once held 35 MB. The server waits for every op the
	// consumer handed out to be settled or to time out first, and a
	// deleted consumer is made again at the lane's next fetch, which
	// starts from the oldest op queued: nothing is skipped.
	opsIdleConsumer = 2 * time.Minute
)

var _ actions.Source = (*Queue)(nil)
var _ actions.DeadLetters = (*Queue)(nil)

// PublishOps queues ops on the OPS work queue, each on the subject of its
// base and lane (seaflow.ops.<base>.<lane>), and returns once the server
// stored every one. Within the duplicate window, a publish of fewer than
// 32 ops drops each op whose id was queued already; a larger one goes as
// atomic batches of up to 1,000, and drops a batch of the same ops, in the
// same order, that was stored already (atomic.go). On error, publishing
// the same ops again is safe.
func (q *Queue) PublishOps(ctx context.Context, ops []seaflow.Op) error {
	err := q.publishOps(ctx, ops)
	// Even after an error some may be stored: wake their lanes.
	subjects := map[string]bool{}
	for _, op := range ops {
		if subj, err := opsSubject(op.Base, op.Lane); err == nil {
			subjects[subj] = true
		}
	}
	q.queuedOn(subjects)
	return err
}

// publishOps publishes ops with an id each, or, when there are many and the
// server takes them, as atomic batches with an id per batch (atomic.go).
func (q *Queue) publishOps(ctx context.Context, ops []seaflow.Op) error {
	if !q.atomic || len(ops) < atomicMinOps {
		return publishEach(ctx, q, "publish ops", ops, opMsg)
	}
	msgs := make([]batchMsg, 0, len(ops))
	for _, op := range ops {
		subj, data, err := opPayload(op)
		if err != nil {
			return err
		}
		m := nats.NewMsg(subj)
		m.Data = data
		msgs = append(msgs, batchMsg{msg: m, id: op.ID})
	}
	if err := q.publishAtomic(ctx, msgs); err != nil {
		return fmt.Errorf("publish ops: %w", err)
	}
	return nil
}

// opMsg is op's message with its own duplicate id.
func opMsg(op seaflow.Op) (*nats.Msg, error) {
	subj, data, err := opPayload(op)
	if err != nil {
		return nil, err
	}
	return newMsg(subj, op.ID, data), nil
}

// opPayload returns the subject and the body of op's message.
func opPayload(op seaflow.Op) (subject string, data []byte, err error) {
	if op.ID == "" {
		return "", nil, errors.New("publish op: op has no id")
	}
	subject, err = opsSubject(op.Base, op.Lane)
	if err != nil {
		return "", nil, fmt.Errorf("publish op %s: %w", op.ID, err)
	}
	data, err = json.Marshal(op)
	if err != nil {
		return "", nil, fmt.Errorf("encode op %s: %w", op.ID, err)
	}
	return subject, data, nil
}

// opsConsumerFor returns the durable consumer of base and lane, creating it
// on first use.
func (q *Queue) opsConsumerFor(ctx context.Context, base string, lane seaflow.Lane) (jetstream.Consumer, error) {
	subj, err := opsSubject(base, lane)
	if err != nil {
		return nil, err
	}
	name := opsConsumer(base, lane)
	q.mu.Lock()
	c, ok := q.consumers[name]
	q.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err = q.ops.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "seaflow dispatcher: base " + base + ", lane " + string(lane),
		FilterSubject: subj,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       opsAckWait,
		MaxDeliver:    -1,
		MaxAckPending: opsMaxAckPending,
		// The server deletes it when idle (see opsIdleConsumer).
		InactiveThreshold: cmp.Or(q.o.idleConsumer, opsIdleConsumer),
	})
	if err != nil {
		return nil, fmt.Errorf("op consumer %s: %w", name, err)
	}
	q.mu.Lock()
	q.consumers[name] = c
	q.mu.Unlock()
	return c, nil
}

// Fetch takes up to max ops of base and lane from the work queue. It returns
// as soon as max ops are there, or when wait has passed with what it has
// (possibly nothing, without error), plus whatever is queued by then; a
// wait of zero takes only what is there now. If ctx ends first it returns ctx.Err() and hands back anything
// it took. Each op must then be settled with exactly one of Ack (done:
// removed from the queue) or Release (redelivered at once), and may be
// kept with Extend meanwhile; an op left unsettled comes back after five
// minutes. An op that does not decode is logged and removed.
func (q *Queue) Fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]actions.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds, err := q.fetch(ctx, base, lane, max, wait)
	// The server deleted the idle consumer: make it again. A create that
	// meets the deletion still under way is refused as "does not exist"
	// (seen under the race detector): one more try then.
	for try := 0; try < 2 && err != nil && consumerGone(err); try++ {
		q.forgetConsumer(base, lane)
		ds, err = q.fetch(ctx, base, lane, max, wait)
	}
	return ds, err
}

// consumerGone says whether a fetch failed because its consumer no longer
// exists: nothing answers on its subject, or the server says so.
func consumerGone(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrConsumerDoesNotExist)
}

// forgetConsumer drops the consumer of base and lane from the cache, so the
// next fetch creates it again.
func (q *Queue) forgetConsumer(base string, lane seaflow.Lane) {
	q.mu.Lock()
	delete(q.consumers, opsConsumer(base, lane))
	q.mu.Unlock()
}

// fetch is Fetch on the cached consumer of base and lane.
func (q *Queue) fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]actions.Delivery, error) {
	cons, err := q.opsConsumerFor(ctx, base, lane)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = time.Until(dl)
	}
	// Grown as ops come: a Delivery is some 400 B, and a lane asks for up
	// to 1,000 while it mostly gets a few (preallocating max was 58 % of
	// the daemon's allocations with 1,000 bases).
	out := make([]actions.Delivery, 0, min(max, 64))
	var msgs []jetstream.Msg
	take := func(batch jetstream.MessageBatch) error {
		n := 0
		for msg := range batch.Messages() {
			n++
			msgs = append(msgs, msg)
			var op seaflow.Op
			if err := json.Unmarshal(msg.Data(), &op); err != nil {
				q.log.Error().Err(err).Str("subject", msg.Subject()).Msg("undecodable op dropped")
				_ = msg.Term()
				continue
			}
			out = append(out, q.delivery(op, msg))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
			// What arrived is still good; the error ends only this fetch.
			if n == 0 && len(out) == 0 {
				return fmt.Errorf("fetch ops %s/%s: %w", base, lane, err)
			}
			q.log.Warn().Err(err).Str("base", base).Str("lane", string(lane)).Int("ops", len(out)).Msg("fetch ended early")
		}
		return nil
	}
	var batch jetstream.MessageBatch
	timed := wait >= opsMinWait
	if timed {
		// The server ends the request when wait has passed, and the client
		// reads every op the server handed over. A client-side deadline
		// would stop reading while ops are in transit: those would sit
		// delivered and unacked for the ack wait (45 s) before coming back.
		batch, err = cons.Fetch(max, jetstream.FetchMaxWait(wait))
		if err == nil {
			err = take(batch)
		}
		if err != nil {
			return nil, fmt.Errorf("fetch ops %s/%s: %w", base, lane, err)
		}
	}
	// Whatever is queued when the wait ends goes in too: a timed fetch on
	// a loaded machine can end while the server is still handing over ops
	// that were there all along, and those belong in this batch, not in a
	// call of their own. (A timed fetch that got nothing found the queue
	// empty: no second round trip for an idle lane.)
	for len(msgs) < max && ctx.Err() == nil && (!timed || len(msgs) > 0) {
		before := len(msgs)
		if batch, err = cons.FetchNoWait(max - len(msgs)); err != nil {
			if len(msgs) == 0 {
				return nil, fmt.Errorf("fetch ops %s/%s: %w", base, lane, err)
			}
			break
		}
		if err := take(batch); err != nil {
			if len(msgs) == 0 {
				return nil, err // take's, with base and lane
			}
			break
		}
		if len(msgs) == before {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		for _, m := range msgs {
			_ = m.Nak()
		}
		return nil, err
	}
	return out, nil
}

// delivery wraps a fetched message in the handles the dispatcher settles.
func (q *Queue) delivery(op seaflow.Op, msg jetstream.Msg) actions.Delivery {
	redelivered := false
	if md, err := msg.Metadata(); err == nil {
		redelivered = q.maybeSeen(md)
	}
	return actions.Delivery{
		Op:          op,
		Redelivered: redelivered,
		Ack: func(ctx context.Context) error {
			// A confirmed ack: once it returns, the op is gone from the queue.
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, ackTimeout)
				defer cancel()
			}
			if err := msg.DoubleAck(ctx); err != nil {
				return fmt.Errorf("ack op %s: %w", op.ID, err)
			}
			return nil
		},
		Release: func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := msg.Nak(); err != nil {
				return fmt.Errorf("release op %s: %w", op.ID, err)
			}
			q.signal(msg.Subject()) // this process's lane takes it again
			return nil
		},
		Extend: func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := msg.InProgress(); err != nil {
				if errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
					// Expected: a lane extends what it holds while a later
					// batch waits, and earlier batches' ops are acked by
					// then. Nothing is left to keep.
					q.log.Debug().Str("op", op.ID).Msg("extend op: already acked")
					return nil
				}
				return fmt.Errorf("extend op %s: %w", op.ID, err)
			}
			return nil
		},
	}
}

// Pending returns how many ops of base and lane are queued and not yet
// acked, including those fetched and not settled.
func (q *Queue) Pending(ctx context.Context, base string, lane seaflow.Lane) (int, error) {
	subj, err := opsSubject(base, lane)
	if err != nil {
		return 0, err
	}
	info, err := q.ops.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return 0, fmt.Errorf("pending ops %s/%s: %w", base, lane, err)
	}
	return int(info.State.Subjects[subj]), nil
}

// OldestOp returns when the oldest op of base and lane still in the queue
// was queued; ok is false when none is.
func (q *Queue) OldestOp(ctx context.Context, base string, lane seaflow.Lane) (queued time.Time, ok bool, err error) {
	subj, err := opsSubject(base, lane)
	if err != nil {
		return time.Time{}, false, err
	}
	m, err := q.ops.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("oldest op %s/%s: %w", base, lane, err)
	}
	return m.Time, true, nil
}

// maybeSeen reports whether a message may have been handed out before:
// delivered more than once, or stored before this process opened the
// queue. The second matters after a kill -9 of the embedded server, which
// writes consumer state to disk asynchronously and can come back with a
// delivery count of 1 for a message the dead process had already sent.
func (q *Queue) maybeSeen(md *jetstream.MsgMetadata) bool {
	return md.NumDelivered > 1 || md.Timestamp.Before(q.opened)
}
