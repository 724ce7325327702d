package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// Consumer settings of ConsumeEvents.
const (
	// eventsAckWait is how long the server waits for an event's ack before it
	// redelivers it. While a handler runs, the event is kept alive with an
	// in-progress signal every eventsAckWait/3, so a slow handler (a for_each
	// query waiting for budget) is not redelivered; a crashed process's event
	// comes back within a minute.
	eventsAckWait = time.Minute
	// eventsMaxAckPending caps unacked events across every replica sharing
	// the durable consumer. Each process holds at most eventsBatch at a
	// time, so this only matters with many replicas or many events waiting
	// out a retry delay.
	eventsMaxAckPending = 1000
	// eventsBatch is how many waiting events one pull takes. Handling one
	// takes well under a millisecond (a handler never waits for SeaTable),
	// so a batch is begun long before its ack wait, and a pull per batch
	// instead of per event is most of what a burst costs the runner.
	eventsBatch = 64
	// eventsPollWait is how long one pull request for the next event waits
	// on the server. Short, so a pull left behind by a stop expires soon.
	eventsPollWait = 5 * time.Second
	// ackTimeout bounds a double ack (an ack the server confirms).
	ackTimeout = 10 * time.Second
)

// PublishEvent stores ev on the EVENTS stream, subject
// seaflow.events.<source>, and returns only once the server acked the write
// (so a trigger may then acknowledge what it received). A duplicate of an
// id stored within the duplicate window is dropped and reported as success.
func (q *Queue) PublishEvent(ctx context.Context, ev seaflow.Event) error {
	m, err := eventMsg(ev)
	if err == nil {
		m, err = q.fitMsg(ctx, m)
	}
	if err != nil {
		return err
	}
	if _, err := q.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	return nil
}

// PublishEvents stores evs asynchronously and returns once every write is
// acked. On error, some events may be stored: publishing the batch again is
// safe (duplicates are dropped by id).
func (q *Queue) PublishEvents(ctx context.Context, evs []seaflow.Event) error {
	return publishEach(ctx, q, "publish events", evs, func(ev seaflow.Event) (*nats.Msg, error) {
		m, err := eventMsg(ev)
		if err != nil {
			return nil, err
		}
		return q.fitMsg(ctx, m)
	})
}

// StoreEvent stores ev and reports whether the stream already held an
// event with its id within the dedupe window (then nothing new is stored:
// the first one stands). It returns once the server answered. An error
// means the event may or may not be stored; storing it again is safe.
func (q *Queue) StoreEvent(ctx context.Context, ev seaflow.Event) (duplicate bool, err error) {
	m, err := eventMsg(ev)
	if err == nil {
		m, err = q.fitMsg(ctx, m)
	}
	if err != nil {
		return false, err
	}
	ack, err := q.js.PublishMsg(ctx, m)
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	return ack.Duplicate, nil
}

func eventMsg(ev seaflow.Event) (*nats.Msg, error) {
	if ev.ID == "" {
		return nil, errors.New("publish event: event has no id")
	}
	data, err := encodeEvent(ev)
	if err != nil {
		return nil, err
	}
	return newMsg(eventsPrefix+Token(string(ev.Source)), ev.ID, data), nil
}

// decodeEvent reads a stored event, decoding a SeaTable body stored as it
// came (seaflow.Event.Raw), so every reader sees the event rules see.
func decodeEvent(data []byte) (seaflow.Event, error) {
	var ev seaflow.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return seaflow.Event{}, err
	}
	seatable.ExpandWebhookEvent(&ev)
	return ev, nil
}

// ConsumeEvents hands every event to handle, one at a time, through the
// durable consumer name (so a restart, or another replica using the same
// name, continues where it stopped). An event is acked only after handle
// returns nil. When handle returns an error, the event is redelivered after
// a delay that doubles from one second up to a minute (it is never dropped);
// later events are handled meanwhile. An event that does not decode is
// logged and terminated so it cannot block the stream.
//
// Consuming stops when ctx ends or stop is called; stop waits for the
// running handler, whose context is cancelled; an event whose handler
// failed because of the stop is handed back for immediate redelivery.
func (q *Queue) ConsumeEvents(ctx context.Context, name string, handle func(context.Context, seaflow.Event) error) (stop func(), err error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "seaflow event consumer",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       eventsAckWait,
		MaxDeliver:    -1,
		MaxAckPending: eventsMaxAckPending,
	}
	cons, err := q.events.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("event consumer %s: %w", name, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.consumeEvents(runCtx, cons, cfg, handle)
	}()
	return func() { cancel(); <-done }, nil
}

// consumeEvents runs the consumer until ctx ends. When no event is
// known to wait, one pull request waits for the next; when events wait (the
// last one delivered said how many), up to eventsBatch of them are taken
// in one request that does not wait, and handled in order. After an error
// it waits a second and recreates the consumer (should it have been
// deleted).
func (q *Queue) consumeEvents(ctx context.Context, cons jetstream.Consumer, cfg jetstream.ConsumerConfig, handle func(context.Context, seaflow.Event) error) {
	log := q.log.With().Str("consumer", cfg.Durable).Logger()
	var waiting uint64
	for ctx.Err() == nil {
		var err error
		waiting, err = q.fetchEvents(ctx, cons, waiting, handle, log)
		if err == nil {
			continue
		}
		if ctx.Err() != nil || q.nc.IsClosed() {
			return
		}
		log.Warn().Err(err).Msg("event consumer interrupted; resuming")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if c, err := q.events.CreateOrUpdateConsumer(ctx, cfg); err == nil {
			cons = c
		}
	}
}

// fetchEvents handles the next events: with none known to wait, the next
// one, waiting up to eventsPollWait for it; else up to eventsBatch of those
// waiting. It returns how many more wait after the last one it was handed.
//
// A taken event's ack timer runs from its delivery, so one not begun
// within eventsAckWait/3 of it (the handlers before it were slow) is handed
// back instead of being handled late, possibly after the server gave it to
// another replica.
func (q *Queue) fetchEvents(ctx context.Context, cons jetstream.Consumer, waiting uint64, handle func(context.Context, seaflow.Event) error, log zerolog.Logger) (uint64, error) {
	var batch jetstream.MessageBatch
	var err error
	if waiting > 0 {
		batch, err = cons.FetchNoWait(int(min(waiting, eventsBatch)))
	} else {
		fctx, cancel := context.WithTimeout(ctx, eventsPollWait)
		defer cancel()
		batch, err = cons.Fetch(1, jetstream.FetchContext(fctx))
	}
	if err != nil {
		return 0, err
	}
	taken := q.now()
	waiting = 0
	for msg := range batch.Messages() {
		if meta, err := msg.Metadata(); err == nil {
			waiting = meta.NumPending
		}
		if ctx.Err() != nil || q.now().Sub(taken) > eventsAckWait/3 {
			_ = msg.Nak() // stopping, or late: hand it back at once
			continue
		}
		q.handleEvent(ctx, msg, handle, log)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return 0, err
	}
	return waiting, nil
}

// handleEvent decodes, handles and settles one event.
func (q *Queue) handleEvent(ctx context.Context, msg jetstream.Msg, handle func(context.Context, seaflow.Event) error, log zerolog.Logger) {
	meta, _ := msg.Metadata()
	data, err := q.msgData(ctx, msg)
	if err != nil {
		// The body store may be back later: leave the event for a retry.
		log.Error().Err(err).Str("subject", msg.Subject()).Msg("event body unavailable")
		_ = msg.NakWithDelay(q.retry.max)
		return
	}
	ev, err := decodeEvent(data)
	if err != nil {
		l := log.Error().Err(err).Str("subject", msg.Subject())
		if meta != nil {
			l = l.Uint64("seq", meta.Sequence.Stream)
		}
		l.Msg("undecodable event dropped")
		_ = msg.Term()
		return
	}
	ev.Redelivered = meta != nil && q.maybeSeen(meta)

	keepAlive := make(chan struct{})
	go func() {
		t := time.NewTicker(eventsAckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-keepAlive:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	err = handle(ctx, ev)
	close(keepAlive)

	if err == nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
		defer cancel()
		if err := msg.DoubleAck(actx); err != nil {
			// The event will be redelivered and handled again: at least once.
			log.Warn().Err(err).Str("event", ev.ID).Msg("ack event")
		}
		return
	}
	if ctx.Err() != nil {
		// Stopping: give it back at once for the next consumer.
		_ = msg.Nak()
		return
	}
	attempt := uint64(1)
	if meta != nil {
		attempt = meta.NumDelivered
	}
	delay := q.retry.delay(attempt)
	log.Warn().Err(err).Str("event", ev.ID).Uint64("attempt", attempt).Dur("retry_in", delay).Msg("event handler failed")
	_ = msg.NakWithDelay(delay)
}

// ReplayEvents calls fn, in stream order, for every stored event that the
// stream received at or after since (the zero time replays everything),
// up to the last event stored when ReplayEvents started. It uses an ordered
// ephemeral consumer and acks nothing, so it does not disturb
// ConsumeEvents. An event that does not decode is logged and skipped. The
// first error from fn stops the replay and is returned.
func (q *Queue) ReplayEvents(ctx context.Context, since time.Time, fn func(seaflow.Event) error) error {
	info, err := q.events.Info(ctx)
	if err != nil {
		return fmt.Errorf("replay events: %w", err)
	}
	st := info.State
	if st.Msgs == 0 || (!since.IsZero() && st.LastTime.Before(since)) {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := q.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return fmt.Errorf("replay events: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("replay events: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("replay events: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("replay events: %w", err)
		}
		var ev seaflow.Event
		data, err := q.msgData(ctx, msg)
		if err == nil {
			ev, err = decodeEvent(data)
		}
		if err != nil {
			q.log.Error().Err(err).Uint64("seq", meta.Sequence.Stream).Msg("undecodable event skipped in replay")
		} else if err := fn(ev); err != nil {
			return fmt.Errorf("replay event %s: %w", ev.ID, err)
		}
		if meta.Sequence.Stream >= st.LastSeq || meta.NumPending == 0 {
			return nil
		}
	}
}

// backoff is a doubling delay between min and max.
type backoff struct{ min, max time.Duration }

// delay is the wait before attempt+1, for attempt >= 1.
func (b backoff) delay(attempt uint64) time.Duration {
	d := b.min
	for i := uint64(1); i < attempt && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}
