package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// DefaultQueueGroup is the queue group NATS subscribes in when none is given,
// so replicas share each subject's messages.
const DefaultQueueGroup = "seaflow"

// natsNakDelay is how long JetStream waits before redelivering a message
// whose event could not be stored.
const natsNakDelay = time.Second

// natsFlushTimeout bounds the wait for the server to confirm subscriptions.
const natsFlushTimeout = 10 * time.Second

// jsAckPrefix starts the reply subject of a JetStream push delivery.
const jsAckPrefix = "$JS.ACK."

// NATSDecodeFunc turns a NATS message into an event. subject is the subject
// a plain message was published on (a concrete subject that matches the
// subscribed one, which may hold wildcards); for a JetStream delivery it is
// the subscribed deliver subject, the one the rule names, since the message
// itself carries the stream subject it was stored under. id is the
// Nats-Msg-Id header, else a hash of subject, data and stream sequence for a
// JetStream delivery, else a random id. An error means the message can never
// become an event.
type NATSDecodeFunc func(subject, id string, data []byte, received time.Time) (seaflow.Event, error)

// NATS subscribes to the subjects of `on: {nats: …}` rules in a queue group
// and writes each message as an event.
//
// Plain messages are handled as they come: the event is written and, when the
// message has a reply subject, the publisher gets {"id": "..."} (or
// {"error": "..."}), so a request/reply caller learns it was stored.
// A message pushed by a JetStream consumer (reply subject "$JS.ACK.…") is
// acked only after the event is written, nak'd with a short delay when the
// write fails (JetStream redelivers it), and terminated when it cannot be
// decoded. To get that, point a push consumer with DeliverGroup equal to the
// queue group at a deliver subject and list that deliver subject here.
type NATS struct {
	nc        *nats.Conn
	group     string
	decode    NATSDecodeFunc
	sink      Sink
	clock     seaflow.Clock
	log       zerolog.Logger
	nakWait   time.Duration
	ready     chan struct{}
	readyOnce sync.Once

	mu       sync.Mutex
	subjects []string
	ctx      context.Context // the running Run's context; nil when not running
	subs     map[string]*nats.Subscription
}

// NewNATS returns a NATS trigger for subjects on nc; queueGroup "" means
// DefaultQueueGroup. Subjects may contain wildcards; duplicates are
// subscribed once.
func NewNATS(nc *nats.Conn, subjects []string, queueGroup string, decode NATSDecodeFunc, sink Sink, clock seaflow.Clock, log zerolog.Logger) *NATS {
	if queueGroup == "" {
		queueGroup = DefaultQueueGroup
	}
	return &NATS{
		nc:       nc,
		group:    queueGroup,
		decode:   decode,
		sink:     sink,
		clock:    clock,
		log:      log,
		nakWait:  natsNakDelay,
		ready:    make(chan struct{}),
		subjects: uniqueSubjects(subjects),
	}
}

func uniqueSubjects(subjects []string) []string {
	out := slices.Clone(subjects)
	slices.Sort(out)
	return slices.Compact(out)
}

// Ready is closed once Run has subscribed to every subject and the server
// has confirmed the subscriptions.
func (n *NATS) Ready() <-chan struct{} { return n.ready }

// Run subscribes and handles messages until ctx is cancelled, then
// unsubscribes and returns nil. It returns an error when a subscription
// fails at start or Run is already running.
func (n *NATS) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.ctx != nil {
		n.mu.Unlock()
		return errors.New("nats trigger: already running")
	}
	n.ctx = ctx
	n.subs = make(map[string]*nats.Subscription)
	err := n.syncLocked()
	n.mu.Unlock()
	if err == nil {
		err = n.nc.FlushTimeout(natsFlushTimeout)
		if err != nil {
			err = fmt.Errorf("flush subscriptions: %w", err)
		}
	}
	if err == nil {
		n.readyOnce.Do(func() { close(n.ready) })
		<-ctx.Done()
	}
	n.mu.Lock()
	for subject, sub := range n.subs {
		if uerr := sub.Unsubscribe(); uerr != nil && !errors.Is(uerr, nats.ErrConnectionClosed) {
			n.log.Warn().Err(uerr).Str("subject", subject).Msg("nats unsubscribe")
		}
	}
	n.subs = nil
	n.ctx = nil
	n.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// Update replaces the subjects (a reload), all or nothing: new ones are
// subscribed, dropped ones unsubscribed, the rest keep their subscription.
// When a subscription fails the error names it and the old subjects stay.
func (n *NATS) Update(subjects []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.subjects
	n.subjects = uniqueSubjects(subjects)
	if n.ctx == nil {
		return nil
	}
	if err := n.syncLocked(); err != nil {
		n.subjects = old
		return err
	}
	return nil
}

// syncLocked makes the subscriptions match n.subjects, all or nothing: the
// new subjects are subscribed first, and only when every one succeeded are
// the dropped ones unsubscribed; on an error the new subscriptions are
// undone and the old subjects stay. n.mu is held.
func (n *NATS) syncLocked() error {
	want := make(map[string]bool, len(n.subjects))
	for _, s := range n.subjects {
		want[s] = true
	}
	added := map[string]*nats.Subscription{}
	var errs []error
	for _, subject := range n.subjects {
		if _, ok := n.subs[subject]; ok {
			continue
		}
		sub, err := n.nc.QueueSubscribe(subject, n.group, n.handler(n.ctx, subject))
		if err != nil {
			errs = append(errs, fmt.Errorf("subscribe %q: %w", subject, err))
			continue
		}
		added[subject] = sub
	}
	if len(errs) > 0 {
		for _, sub := range added {
			_ = sub.Unsubscribe()
		}
		return errors.Join(errs...)
	}
	for subject, sub := range added {
		n.subs[subject] = sub
		n.log.Info().Str("subject", subject).Str("queue", n.group).Msg("nats subscribed")
	}
	for subject, sub := range n.subs {
		if want[subject] {
			continue
		}
		if err := sub.Unsubscribe(); err != nil {
			n.log.Warn().Err(err).Str("subject", subject).Msg("nats unsubscribe")
		}
		delete(n.subs, subject)
	}
	return nil
}

// handler returns the callback of the subscription to subscribed, bound to
// the running context.
func (n *NATS) handler(ctx context.Context, subscribed string) nats.MsgHandler {
	return func(msg *nats.Msg) { n.handle(ctx, subscribed, msg) }
}

func (n *NATS) handle(ctx context.Context, subscribed string, msg *nats.Msg) {
	received := n.clock.Now()
	js := strings.HasPrefix(msg.Reply, jsAckPrefix)
	id := natsMsgID(msg, js)
	subject := msg.Subject
	if js {
		subject = subscribed
	}
	ev, err := n.decode(subject, id, msg.Data, received)
	if err != nil {
		n.log.Warn().Err(err).Str("subject", msg.Subject).Str("msg_id", id).Msg("nats message refused")
		switch {
		case js:
			// It will never decode: stop redeliveries.
			n.settle(msg, "term", msg.Term())
		case msg.Reply != "":
			n.respond(msg, map[string]string{"error": "decode message: " + err.Error()})
		}
		return
	}
	if ev.ID == "" {
		ev.ID = id
	}
	if _, err := n.sink.Accept(ctx, ev); err != nil {
		n.log.Error().Err(err).Str("subject", msg.Subject).Str("event_id", ev.ID).Msg("nats event not stored")
		switch {
		case js && n.nakWait > 0:
			n.settle(msg, "nak", msg.NakWithDelay(n.nakWait))
		case js:
			n.settle(msg, "nak", msg.Nak())
		case msg.Reply != "":
			n.respond(msg, map[string]string{"error": "event could not be stored; retry later"})
		}
		return
	}
	n.log.Debug().Str("subject", msg.Subject).Str("event_id", ev.ID).Msg("nats event accepted")
	switch {
	case js:
		n.settle(msg, "ack", msg.Ack())
	case msg.Reply != "":
		n.respond(msg, map[string]string{"id": ev.ID})
	}
}

func (n *NATS) settle(msg *nats.Msg, what string, err error) {
	if err != nil {
		n.log.Warn().Err(err).Str("subject", msg.Subject).Str("op", what).Msg("nats settle")
	}
}

func (n *NATS) respond(msg *nats.Msg, v map[string]string) {
	b, _ := json.Marshal(v) // a map of strings always marshals
	if err := msg.Respond(b); err != nil {
		n.log.Warn().Err(err).Str("subject", msg.Subject).Msg("nats respond")
	}
}

// natsMsgID picks the event id of a message: its Nats-Msg-Id header, else for
// a JetStream delivery a hash of subject, data, stream and stream sequence
// (stable across redeliveries), else a random id.
func natsMsgID(msg *nats.Msg, js bool) string {
	if id := msg.Header.Get(nats.MsgIdHdr); id != "" {
		return id
	}
	if js {
		if md, err := msg.Metadata(); err == nil {
			h := sha256.New()
			for _, part := range []string{msg.Subject, md.Stream, strconv.FormatUint(md.Sequence.Stream, 10)} {
				h.Write([]byte(part))
				h.Write([]byte{0})
			}
			h.Write(msg.Data)
			return "nats/" + hex.EncodeToString(h.Sum(nil)[:16])
		}
	}
	return "nats/" + randomID()
}
