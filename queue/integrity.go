package queue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultCheckEvery is how often a running queue checks its streams for
// lost or unreadable messages.
const DefaultCheckEvery = 30 * time.Second

// ErrDamaged reports a store whose streams lost messages or hold some it
// cannot read: a truncated, deleted or overwritten block file.
var ErrDamaged = errors.New("storage damaged")

// Damage is one stream whose stored messages are not all there, or not
// all readable.
type Damage struct {
	// Stream is the JetStream stream (SEAFLOW_OPS, SEAFLOW_EVENTS, …).
	Stream string `json:"stream"`
	// Messages is how many messages are lost or unreadable; 0 when the
	// store cannot say.
	Messages uint64 `json:"messages"`
	// Seen says what showed it.
	Seen string `json:"seen"`
}

// String describes the damage in one line.
func (d Damage) String() string {
	n := "an unknown number of messages"
	switch {
	case d.Messages == 1:
		n = "1 message"
	case d.Messages > 1:
		n = fmt.Sprintf("%d messages", d.Messages)
	}
	return fmt.Sprintf("stream %s: %s lost or unreadable (%s)", d.Stream, n, d.Seen)
}

// DamageError is the error of Open on a damaged store. It wraps ErrDamaged.
type DamageError struct {
	// Where names the store ("embedded:DIR" or the cluster's URLs).
	Where string
	// Damage is every damaged stream, by name.
	Damage []Damage
}

// Error lists every damaged stream.
func (e *DamageError) Error() string {
	parts := make([]string, len(e.Damage))
	for i, d := range e.Damage {
		parts[i] = d.String()
	}
	return fmt.Sprintf("%v in %s: %s", ErrDamaged, e.Where, strings.Join(parts, "; "))
}

// Unwrap returns ErrDamaged.
func (e *DamageError) Unwrap() error { return ErrDamaged }

// streamKind says which changes of a stream are normal.
type streamKind int

const (
	// workQueue (OPS): a message leaves only when it is acked.
	workQueue streamKind = iota
	// agedLog (EVENTS): messages leave from the front, by age; nothing is
	// ever deleted from the middle.
	agedLog
	// limitedLog (DEAD): messages leave from the front (age, count, size)
	// and from the middle (retry, drop).
	limitedLog
	// kvBucket: every update deletes the key's previous revision.
	kvBucket
)

// checkedStreams are the streams the integrity checks watch.
var checkedStreams = []struct {
	name string
	kind streamKind
}{
	{EventsStream, agedLog},
	{OpsStream, workQueue},
	{DeadStream, limitedLog},
	{"KV_" + BudgetBucket, kvBucket},
	{"KV_" + StateBucket, kvBucket},
}

// markOf is the part of a stream's state the checks compare.
func markOf(st jetstream.StreamState) streamMark {
	m := streamMark{First: st.FirstSeq, Last: st.LastSeq, Msgs: st.Msgs, Deleted: uint64(st.NumDeleted)}
	if st.Lost != nil {
		m.Lost = uint64(len(st.Lost.Msgs))
	}
	return m
}

// missing says how many messages a stream of kind lost between was (an
// earlier look) and now, and what shows it. stopped is true when nothing
// but damage can have taken messages out in between (a clean stop and the
// next start): then a work queue must hold exactly what it held.
func missing(kind streamKind, was, now streamMark, stopped bool) (uint64, string) {
	var n uint64
	var seen []string
	add := func(k uint64, why string) {
		n = max(n, k)
		seen = append(seen, why)
	}
	if now.Last < was.Last {
		if k := min(was.Msgs, was.Last-now.Last); k > 0 {
			add(k, fmt.Sprintf("its last sequence went back from %d to %d", was.Last, now.Last))
		}
	}
	if now.Lost > was.Lost {
		add(now.Lost-was.Lost, fmt.Sprintf("nats-server reports %d lost", now.Lost))
	}
	switch {
	case kind == workQueue && stopped && now.Msgs < was.Msgs:
		add(was.Msgs-now.Msgs, fmt.Sprintf("%d messages at the last clean stop, %d now", was.Msgs, now.Msgs))
	case kind == agedLog && now.Deleted > was.Deleted, kind == limitedLog && stopped && now.Deleted > was.Deleted:
		add(now.Deleted-was.Deleted, fmt.Sprintf("%d messages missing from the middle", now.Deleted-was.Deleted))
	}
	return n, strings.Join(seen, "; ")
}

// subjectsCounted compares a stream's message count with the sum of its
// per-subject counts: a block whose records cannot be read leaves them
// apart (messages "pending" that no fetch can return).
func subjectsCounted(st jetstream.StreamState) (uint64, bool) {
	var sum uint64
	for _, n := range st.Subjects {
		sum += n
	}
	if sum == st.Msgs {
		return 0, true
	}
	if sum > st.Msgs {
		return sum - st.Msgs, false
	}
	return st.Msgs - sum, false
}

// integrity is the queue's record of its streams and their damage.
type integrity struct {
	mu      sync.Mutex
	marks   map[string]streamMark // as of the last check without damage
	suspect map[string]int        // consecutive checks with counts apart
	damage  map[string]Damage     // until the process ends
	// corrupt gets the embedded server's reports of unreadable records.
	corrupt chan string
	stop    chan struct{}
	done    chan struct{}
}

// corruptRe finds the stream of a nats-server report of an unreadable block.
var corruptRe = regexp.MustCompile(`^Filestore \[([^\]]+)\] indexCacheBuf corrupt`)

// noteCorrupt passes a server warning about corrupt records on to the
// checks (non-blocking: one report per stream is enough).
func noteCorrupt(ch chan string, msg string) {
	if ch == nil || !corruptRe.MatchString(msg) {
		return
	}
	select {
	case ch <- msg:
	default:
	}
}

// Damage returns every damaged stream found since Open (after Open
// accepted what it found with Options.AcceptDataLoss), by name; nil when
// the store is sound.
func (q *Queue) Damage() []Damage {
	q.integ.mu.Lock()
	defer q.integ.mu.Unlock()
	return q.damageLocked()
}

func (q *Queue) damageLocked() []Damage {
	if len(q.integ.damage) == 0 {
		return nil
	}
	out := make([]Damage, 0, len(q.integ.damage))
	for _, d := range q.integ.damage {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out
}

// look reads the state of every checked stream that exists, with
// per-subject counts for those that have few subjects.
func (q *Queue) look(ctx context.Context) (map[string]jetstream.StreamState, error) {
	out := make(map[string]jetstream.StreamState, len(checkedStreams))
	for _, cs := range checkedStreams {
		s, err := q.js.Stream(ctx, cs.name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check stream %s: %w", cs.name, err)
		}
		var opts []jetstream.StreamInfoOpt
		if cs.kind != kvBucket {
			opts = append(opts, jetstream.WithSubjectFilter(">"))
		}
		info, err := s.Info(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("check stream %s: %w", cs.name, err)
		}
		out[cs.name] = info.State
	}
	return out, nil
}

// serverDamage asks the embedded server's JetStream health check
// (nats-server's healthz) for streams it could not recover. Write errors
// (a full disk) are watchStore's.
func (q *Queue) serverDamage() []Damage {
	if q.ns == nil {
		return nil
	}
	var out []Damage
	for _, e := range q.ns.Healthz(&server.HealthzOptions{Details: true}).Errors {
		if e.Stream != "" && strings.Contains(e.Error, "could not be recovered") {
			out = append(out, Damage{Stream: e.Stream, Seen: "nats-server's health check: " + e.Error})
		}
	}
	return out
}

// drainCorrupt turns the server's reports of unreadable records into damage.
func (q *Queue) drainCorrupt() []Damage {
	var out []Damage
	for {
		select {
		case msg := <-q.integ.corrupt:
			m := corruptRe.FindStringSubmatch(msg)
			out = append(out, Damage{Stream: m[1], Seen: "nats-server found a corrupt record in a block file"})
		default:
			return out
		}
	}
}

// recordLocked adds d to the damage found, merging with what is known of
// its stream, and logs what is new.
func (q *Queue) recordLocked(d Damage) {
	if old, ok := q.integ.damage[d.Stream]; ok {
		seen := strings.Split(old.Seen, "; ")
		for _, s := range strings.Split(d.Seen, "; ") {
			if s != "" && !slices.Contains(seen, s) {
				seen = append(seen, s)
			}
		}
		merged := Damage{Stream: d.Stream, Messages: max(d.Messages, old.Messages), Seen: strings.Join(seen, "; ")}
		if merged == old {
			return
		}
		d = merged
	}
	q.integ.damage[d.Stream] = d
	q.log.Error().Str("stream", d.Stream).Uint64("messages", d.Messages).Str("seen", d.Seen).Msg("storage damaged: messages lost or unreadable")
}

// checkAtOpen compares the recovered streams with the ledger of the last
// run, before setup touches them, and asks the server's health check. It
// returns a *DamageError, unless o.AcceptDataLoss says to go on (then the
// damage is logged and accepted).
func (q *Queue) checkAtOpen(ctx context.Context) error {
	q.integ.marks = map[string]streamMark{}
	q.integ.suspect = map[string]int{}
	q.integ.damage = map[string]Damage{}
	if q.ns == nil {
		return nil // an external cluster: only the checks while running
	}
	prev, err := readLedger(q.o.Dir)
	if err != nil {
		q.log.Warn().Err(err).Msg("storage ledger unreadable: the store is checked from now on")
	}
	states, err := q.look(ctx)
	if err != nil {
		return err
	}
	var found []Damage
	for _, cs := range checkedStreams {
		st, exists := states[cs.name]
		if prev != nil {
			if was, ok := prev.Streams[cs.name]; ok {
				if !exists && was.Msgs > 0 {
					found = append(found, Damage{Stream: cs.name, Messages: was.Msgs, Seen: fmt.Sprintf("the stream is gone; it held %d messages", was.Msgs)})
					continue
				}
				if n, why := missing(cs.kind, was, markOf(st), prev.Clean); n > 0 {
					found = append(found, Damage{Stream: cs.name, Messages: n, Seen: why})
				}
			}
		}
		if cs.kind != kvBucket && exists {
			if n, ok := subjectsCounted(st); !ok {
				found = append(found, Damage{Stream: cs.name, Messages: n, Seen: fmt.Sprintf("%d messages counted by subject are not readable", n)})
			}
		}
	}
	found = append(found, q.serverDamage()...)
	found = append(found, q.drainCorrupt()...)
	if len(found) == 0 {
		return nil
	}
	q.integ.mu.Lock()
	for _, d := range found {
		q.recordLocked(d)
	}
	dmg := q.damageLocked()
	q.integ.damage = map[string]Damage{}
	q.integ.mu.Unlock()
	if !q.o.AcceptDataLoss {
		return &DamageError{Where: q.where(), Damage: dmg}
	}
	q.log.Error().Int("streams", len(dmg)).Msg("storage damage accepted (AcceptDataLoss): going on without the lost messages")
	return nil
}

// startIntegrity records the streams as they are after Open, writes the
// ledger of a running store, and checks every Options.CheckEvery.
func (q *Queue) startIntegrity(ctx context.Context) error {
	states, err := q.look(ctx)
	if err != nil {
		return err
	}
	q.integ.mu.Lock()
	for name, st := range states {
		q.integ.marks[name] = markOf(st)
	}
	err = q.writeLedgerLocked(false)
	q.integ.mu.Unlock()
	if err != nil {
		return err
	}
	every := q.o.CheckEvery
	if every == 0 {
		every = DefaultCheckEvery
	}
	if every < 0 {
		return nil
	}
	q.integ.stop, q.integ.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(q.integ.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-q.integ.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if _, err := q.CheckIntegrity(ctx); err != nil {
				q.log.Debug().Err(err).Msg("integrity check")
			}
			cancel()
		}
	}()
	return nil
}

// stopIntegrity ends the periodic checks.
func (q *Queue) stopIntegrity() {
	if q.integ.stop != nil {
		close(q.integ.stop)
		<-q.integ.done
		q.integ.stop = nil
	}
}

// CheckIntegrity checks every stream now, as the queue does every
// Options.CheckEvery: lost messages the server reports, a last sequence
// that went back, messages missing from the middle of the event log,
// message counts that disagree with the per-subject counts on two checks
// in a row (unreadable records), streams the server could not recover,
// and corrupt records the server reported. Damage is logged once and kept
// until the process ends (Damage returns it). It returns every damaged
// stream.
func (q *Queue) CheckIntegrity(ctx context.Context) ([]Damage, error) {
	q.integ.mu.Lock()
	defer q.integ.mu.Unlock()
	states, err := q.look(ctx)
	if err != nil {
		return q.damageLocked(), err
	}
	for _, cs := range checkedStreams {
		st, ok := states[cs.name]
		if !ok {
			continue
		}
		now := markOf(st)
		n, why := missing(cs.kind, q.integ.marks[cs.name], now, false)
		if cs.kind != kvBucket {
			if k, ok := subjectsCounted(st); !ok {
				if q.integ.suspect[cs.name]++; q.integ.suspect[cs.name] >= 2 {
					n = max(n, k)
					why = strings.TrimPrefix(why+fmt.Sprintf("; %d messages counted by subject are not readable", k), "; ")
				}
			} else {
				q.integ.suspect[cs.name] = 0
			}
		}
		if why != "" {
			q.recordLocked(Damage{Stream: cs.name, Messages: n, Seen: why})
		}
		if _, damaged := q.integ.damage[cs.name]; !damaged {
			q.integ.marks[cs.name] = now
		}
	}
	for _, d := range append(q.serverDamage(), q.drainCorrupt()...) {
		q.recordLocked(d)
	}
	if err := q.writeLedgerLocked(false); err != nil {
		q.log.Warn().Err(err).Msg("storage ledger")
	}
	return q.damageLocked(), nil
}

// writeLedgerLocked writes the embedded store's ledger from the marks (a
// damaged stream keeps its mark from before the damage, so the next start
// refuses it too).
func (q *Queue) writeLedgerLocked(clean bool) error {
	if q.ns == nil {
		return nil
	}
	l := &ledger{Clean: clean, Written: time.Now().UTC(), Streams: make(map[string]streamMark, len(q.integ.marks))}
	for name, m := range q.integ.marks {
		l.Streams[name] = m
	}
	return writeLedger(q.o.Dir, l)
}

// closeLedger writes the ledger of a clean stop: the final state of every
// stream, read from the embedded server once no client can write.
func (q *Queue) closeLedger() {
	if q.ns == nil || q.integ.marks == nil {
		return
	}
	jsz, err := q.ns.Jsz(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
	if err != nil {
		q.log.Warn().Err(err).Msg("storage ledger: final state")
		return
	}
	q.integ.mu.Lock()
	defer q.integ.mu.Unlock()
	for _, acc := range jsz.AccountDetails {
		for _, s := range acc.Streams {
			if _, ok := q.integ.marks[s.Name]; !ok {
				continue
			}
			if _, damaged := q.integ.damage[s.Name]; damaged {
				continue
			}
			q.integ.marks[s.Name] = streamMark{First: s.State.FirstSeq, Last: s.State.LastSeq, Msgs: s.State.Msgs, Deleted: uint64(s.State.NumDeleted)}
		}
	}
	if err := q.writeLedgerLocked(true); err != nil {
		q.log.Warn().Err(err).Msg("storage ledger")
	}
}
