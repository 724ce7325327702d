package queue

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Writable reports why the queue cannot store an event now, or nil: the
// store failed (a full disk the server cannot recover from), or the
// connection to the NATS server is down (a lost cluster, a reconnect in
// progress). /readyz and /healthz use it so a balancer stops sending
// webhooks that could not be stored.
func (q *Queue) Writable() error {
	if err := q.Err(); err != nil {
		return err
	}
	if st := q.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("not connected to NATS at %s (%s)", q.where(), st)
	}
	if q.ns != nil && !q.ns.JetStreamEnabled() {
		return errors.New("the embedded server's JetStream is off")
	}
	return nil
}
