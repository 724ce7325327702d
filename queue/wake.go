package queue

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
)

var (
	_ actions.Signals     = (*Queue)(nil)
	_ actions.AfterQueued = (*Queue)(nil)
)

const (
	// wakePrefix is the core NATS subject (no stream holds it) on which a
	// process that queued ops tells the other replicas:
	// seaflow.wake.<ops subject>, no payload.
	wakePrefix = "seaflow.wake."
	// opsRescan is how often the OPS stream is checked for subjects with
	// ops queued, in one request for all of them: it wakes the lanes for
	// ops that came back without a publish (an ack that failed, the hold
	// of a process that died) and for a wake message lost in a reconnect.
	opsRescan = 30 * time.Second
)

// wakers are the channels idle lanes wait on, and the functions that
// start sleeping lanes again, by OPS subject.
type wakers struct {
	once sync.Once
	mu   sync.Mutex
	ch   map[string]chan struct{}
	fn   map[string]map[*func()]struct{}
}

// Queued returns a channel that is closed once ops may have been queued
// for base and lane after the call: published by this process or (with an
// external cluster) another replica, released, or found by the periodic
// check of the OPS stream (actions.Signals). It returns nil for a base or
// lane that has no subject.
func (q *Queue) Queued(base string, lane seaflow.Lane) <-chan struct{} {
	subj, err := opsSubject(base, lane)
	if err != nil {
		return nil
	}
	q.wake.once.Do(func() { go q.watchOps() })
	q.wake.mu.Lock()
	defer q.wake.mu.Unlock()
	if q.wake.ch == nil {
		q.wake.ch = map[string]chan struct{}{}
	}
	c, ok := q.wake.ch[subj]
	if !ok {
		c = make(chan struct{})
		q.wake.ch[subj] = c
	}
	return c
}

// AfterQueued calls f once, in a goroutine of its own, when ops may have
// been queued for base and lane after the call: when the channel Queued
// returns would close (actions.AfterQueued). stop cancels the call and
// reports whether it was still to come. A base or lane without a subject
// is never called.
func (q *Queue) AfterQueued(base string, lane seaflow.Lane, f func()) (stop func() bool) {
	subj, err := opsSubject(base, lane)
	if err != nil {
		return func() bool { return false }
	}
	q.wake.once.Do(func() { go q.watchOps() })
	key := &f
	q.wake.mu.Lock()
	if q.wake.fn == nil {
		q.wake.fn = map[string]map[*func()]struct{}{}
	}
	if q.wake.fn[subj] == nil {
		q.wake.fn[subj] = map[*func()]struct{}{}
	}
	q.wake.fn[subj][key] = struct{}{}
	q.wake.mu.Unlock()
	return func() bool {
		q.wake.mu.Lock()
		defer q.wake.mu.Unlock()
		if _, ok := q.wake.fn[subj][key]; !ok {
			return false
		}
		delete(q.wake.fn[subj], key)
		if len(q.wake.fn[subj]) == 0 {
			delete(q.wake.fn, subj)
		}
		return true
	}
}

// signal wakes the lanes waiting on the OPS subject subj, and starts
// those asleep.
func (q *Queue) signal(subj string) {
	q.wake.mu.Lock()
	defer q.wake.mu.Unlock()
	if c, ok := q.wake.ch[subj]; ok {
		close(c)
		delete(q.wake.ch, subj)
	}
	for f := range q.wake.fn[subj] {
		go (*f)()
	}
	delete(q.wake.fn, subj)
}

// queuedOn wakes the lanes of subjects here and, with an external
// cluster, tells the other replicas.
func (q *Queue) queuedOn(subjects map[string]bool) {
	for subj := range subjects {
		q.signal(subj)
		if q.o.URL != "" {
			if err := q.nc.Publish(wakePrefix+subj, nil); err != nil {
				q.log.Debug().Err(err).Str("subject", subj).Msg("wake replicas")
			}
		}
	}
}

// watchOps wakes lanes from the other replicas' wake messages and from
// the periodic check, until the connection closes.
func (q *Queue) watchOps() {
	if q.o.URL != "" {
		sub, err := q.nc.Subscribe(wakePrefix+">", func(m *nats.Msg) {
			q.signal(strings.TrimPrefix(m.Subject, wakePrefix))
		})
		if err != nil {
			q.log.Warn().Err(err).Msg("subscribe to wake messages: other replicas' ops wait for the periodic check")
		} else {
			defer func() { _ = sub.Unsubscribe() }()
		}
	}
	tick := time.NewTicker(opsRescan)
	defer tick.Stop()
	for {
		select {
		case <-q.connDone:
			return
		case <-tick.C:
			q.rescanOps()
		}
	}
}

// rescanOps wakes the lanes of every OPS subject that holds ops.
func (q *Queue) rescanOps() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := q.ops.Info(ctx, jetstream.WithSubjectFilter(opsPrefix+">"))
	if err != nil {
		q.log.Debug().Err(err).Msg("check queued ops")
		return
	}
	for subj, n := range info.State.Subjects {
		if n > 0 {
			q.signal(subj)
		}
	}
}
