package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/internal/proctest"
	"github.com/seaflow/seaflow/queue"
)

// startCluster starts a three-node JetStream cluster on loopback and
// waits until its meta group has a leader.
func startCluster(t *testing.T) *proctest.Cluster {
	t.Helper()
	c := proctest.StartCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitJetStream(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// spineState is what is still queued in the spine: ops in the OPS work
// queue and events the runner has not acked.
type spineState struct {
	opsQueued     uint64
	eventsPending uint64 // not yet delivered to the runner
	eventsUnacked int    // delivered, not acked
}

// readSpine reads the streams and the runner's consumer at url.
func readSpine(ctx context.Context, url string) (spineState, error) {
	var s spineState
	nc, err := nats.Connect(url)
	if err != nil {
		return s, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return s, err
	}
	ops, err := js.Stream(ctx, queue.OpsStream)
	if err != nil {
		return s, fmt.Errorf("ops stream: %w", err)
	}
	oi, err := ops.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("ops stream info: %w", err)
	}
	s.opsQueued = oi.State.Msgs
	evs, err := js.Stream(ctx, queue.EventsStream)
	if err != nil {
		return s, fmt.Errorf("events stream: %w", err)
	}
	cons, err := evs.Consumer(ctx, "runner")
	if err != nil {
		return s, fmt.Errorf("runner consumer: %w", err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("runner consumer info: %w", err)
	}
	s.eventsPending, s.eventsUnacked = ci.NumPending, ci.NumAckPending
	return s, nil
}

// findKeys scans every message of stream at url and counts, per key, the
// messages whose data contain it (events carry the webhook body, ops the
// values), so a test can tell "stored but not yet applied" from "lost".
func findKeys(ctx context.Context, url, stream string, keys []string) (map[string]int, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s info: %w", stream, err)
	}
	found := make(map[string]int, len(keys))
	if info.State.Msgs == 0 {
		return found, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted (acked work-queue messages leave gaps)
		}
		for _, k := range keys {
			if strings.Contains(string(m.Data), k) {
				found[k]++
			}
		}
	}
	return found, nil
}

// explainMissing logs, for an incomplete run on spine url, where each
// missing key is: its event in EVENTS, its ops still in OPS, the runner's
// consumer state. It returns how many missing ops are still queued in OPS
// or still to be turned into ops (their event unacked by the runner).
func explainMissing(t *testing.T, l *load, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	missing := l.missingKeys()
	if len(missing) == 0 {
		return 0
	}
	st, err := readSpine(ctx, url)
	if err != nil {
		t.Logf("SPINE unreadable: %v", err)
		return 0
	}
	evs, err1 := findKeys(ctx, url, queue.EventsStream, missing)
	ops, err2 := findKeys(ctx, url, queue.OpsStream, missing)
	if err1 != nil || err2 != nil {
		t.Logf("SPINE scan: %v %v", err1, err2)
		return 0
	}
	queued := 0
	var lines []string
	for _, k := range missing {
		lines = append(lines, fmt.Sprintf("%s: events=%d ops_queued=%d", k, evs[k], ops[k]))
		queued += ops[k]
	}
	if st.eventsUnacked > 0 || st.eventsPending > 0 {
		for _, k := range missing {
			if evs[k] > 0 && ops[k] == 0 {
				queued += 2 // the runner has not finished this event: it is redelivered
			}
		}
	}
	t.Logf("SPINE ops_queued=%d events_pending=%d events_unacked=%d; missing: %s", st.opsQueued, st.eventsPending, st.eventsUnacked, strings.Join(lines, "; "))
	return queued
}

// settle waits until every accepted op is applied. The default run waits
// wait; ops it then finds still queued in the spine at url (fetched by a
// consumer that died or lost its connection, so redelivered only after the
// ack wait) are counted as still queued, not lost. The long run waits
// longWait and requires everything applied.
func settle(t *testing.T, l *load, url string, wait, longWait time.Duration) error {
	t.Helper()
	if longRuns {
		wait = longWait
	}
	err := l.waitApplied(wait)
	if err == nil {
		return nil
	}
	missing := l.countQuiet().lost
	queued := explainMissing(t, l, url)
	switch {
	case longRuns || missing > queued:
		t.Error(err)
	default:
		l.stillQueued = missing
		t.Logf("%d ops not applied within %s are still queued in the spine (redelivered after the ack wait; SEAFLOW_RELIABILITY_LONG=1 waits for them)", missing, wait)
	}
	return err
}
