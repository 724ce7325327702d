package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Large events. A message cannot exceed the server's max_payload (1 MiB
// by default on a NATS server, embeddedMaxPayload on the embedded one), but
// a trigger accepts bodies up to 8 MiB (a SeaTable batch edit, a long-text
// cell). An event too large for one message is written to the bodies
// object store first, and the stream gets a stub that names it
// (bodyRefHeader); readers load it back. The event is stored once either
// way: the stub carries the event's Nats-Msg-Id, so deduplication works
// the same.

// embeddedMaxPayload is the embedded server's max_payload: the most
// nats-server takes without warning that larger payloads are discouraged.
const embeddedMaxPayload = 8 << 20

// BodiesBucket is the object store of events too large for one message.
const BodiesBucket = "seaflow_bodies"

// bodyRefHeader names, on a stub, the object that holds the event.
const bodyRefHeader = "Seaflow-Body-Ref"

// payloadHeadroom is kept below max_payload for the subject and headers.
const payloadHeadroom = 8 << 10

// bodies opens the object store lazily: most stores never need it.
type bodies struct {
	once sync.Once
	obj  jetstream.ObjectStore
	err  error
}

func (q *Queue) bodyStore(ctx context.Context) (jetstream.ObjectStore, error) {
	q.large.once.Do(func() {
		q.large.obj, q.large.err = q.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      BodiesBucket,
			Description: "seaflow: events too large for one message, named by their stub",
			Storage:     jetstream.FileStorage,
			Replicas:    q.o.Replicas,
			TTL:         q.o.EventsMaxAge,
		})
	})
	return q.large.obj, q.large.err
}

// fitMsg returns m, or, when its data is too large for the server, a stub
// for it after writing the data to the bodies store.
func (q *Queue) fitMsg(ctx context.Context, m *nats.Msg) (*nats.Msg, error) {
	if int64(len(m.Data)) <= q.nc.MaxPayload()-payloadHeadroom {
		return m, nil
	}
	obj, err := q.bodyStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("bodies store: %w", err)
	}
	sum := sha256.Sum256([]byte(m.Header.Get(jetstream.MsgIDHeader)))
	name := hex.EncodeToString(sum[:16])
	if _, err := obj.PutBytes(ctx, name, m.Data); err != nil {
		return nil, fmt.Errorf("store large event: %w", err)
	}
	stub := nats.NewMsg(m.Subject)
	stub.Header = m.Header
	stub.Header.Set(bodyRefHeader, name)
	return stub, nil
}

// msgData returns a stored message's data, loading it from the bodies
// store when the message is a stub.
func (q *Queue) msgData(ctx context.Context, msg jetstream.Msg) ([]byte, error) {
	name := msg.Headers().Get(bodyRefHeader)
	if name == "" {
		return msg.Data(), nil
	}
	obj, err := q.bodyStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("bodies store: %w", err)
	}
	data, err := obj.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("large event %s: its body is gone from the bodies store", name)
	}
	if err != nil {
		return nil, fmt.Errorf("load large event %s: %w", name, err)
	}
	return data, nil
}
