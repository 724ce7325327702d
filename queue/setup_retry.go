package queue

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultSetupTimeout is Options.SetupTimeout when it is zero.
const DefaultSetupTimeout = 2 * time.Minute

// Setup retry pacing: the wait doubles from setupRetryMin to setupRetryMax.
const (
	setupRetryMin = 250 * time.Millisecond
	setupRetryMax = 5 * time.Second
	// setupCallTimeout bounds each request of a try: a request to a
	// cluster without a meta leader waits for an answer that does not come.
	setupCallTimeout = 15 * time.Second
)

// setupWithRetry runs setup until it succeeds, backing off between tries,
// for at most the setup timeout. A fresh cluster refuses stream creation
// while its meta group elects a leader, and replicas that start in the
// same instant race to create the same streams: both are worth waiting
// out. A server without JetStream is not, and fails at once.
func (q *Queue) setupWithRetry(ctx context.Context) error {
	timeout := q.o.SetupTimeout
	if timeout <= 0 {
		timeout = DefaultSetupTimeout
	}
	deadline := time.Now().Add(timeout)
	wait := setupRetryMin
	for attempt := 1; ; attempt++ {
		err := q.setup(ctx)
		if err == nil || !transientSetupError(err) {
			return err
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		q.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("stream setup failed; retrying")
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, setupRetryMax)
	}
}

// transientSetupError reports an error a cluster gives while it forms or
// while another replica creates the same stream: a timeout, no JetStream
// responder yet, "temporarily unavailable", no peers for placement yet,
// or a stream name another replica took a moment ago. Anything else (no
// JetStream, more replicas than nodes, a bad config) fails at once.
func transientSetupError(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoHeartbeat) {
		return true
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jsErrClusterNotAvailable, jsErrClusterNoPeers, jetstream.JSErrCodeStreamNameInUse:
		return true
	}
	return false
}

// JetStream error codes nats.go has no name for.
const (
	jsErrClusterNotAvailable jetstream.ErrorCode = 10008 // JetStream system temporarily unavailable
	jsErrClusterNoPeers      jetstream.ErrorCode = 10005 // no suitable peers for placement
)
