package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/history"
)

// History bounds.
const (
	// MaxFates is the most op fates HistoryEvent returns for one event (a
	// for_each page has up to 10,000 ops); Count says how many there are.
	MaxFates = 1000
	// historyScan bounds the event records one HistoryPage call reads, so
	// a filter that matches little costs pages, not one long call.
	historyScan = 5000
)

// The history keeps no subject per event. The server holds an index entry
// for every subject a stream retains, some 100 B each, in memory for as
// long as the subject has messages: a subject per event (as earlier
// versions stored records and fates, .ev.<event> and .op.<event>) grew the
// index by 230 B per event, 1.4 GB for a week of 10 events/s, and the
// collector's work with it. Records and fates instead share one of
// historyBuckets subjects each, chosen by a hash of the event id, with the
// id in a header; finding an event reads its bucket's headers. Only an
// event with a dead op (as rare as dead letters) or handled again (a
// redelivery) has a subject of its own, its marker .dead.<event> or
// .again.<event>. The layout of earlier versions is still read.
const (
	historyBuckets = 4096
	// historyEventHeader carries the event id of a record or fates message.
	historyEventHeader = "Seaflow-Event"
)

// historyBucket is the bucket of event id: three hex digits of its hash.
func historyBucket(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprintf("%03x", h.Sum32()%historyBuckets)
}

// historyRecordSubject is the subject of the records of event id's bucket,
// .ev.<bucket>.r: under .ev.> with the records of earlier versions
// (.ev.<event>), and never equal to one (it has a token more).
func historyRecordSubject(id string) string { return historyPrefix + "ev." + historyBucket(id) + ".r" }

// historyFatesSubject is the subject of the fates of event id's bucket.
func historyFatesSubject(id string) string { return historyPrefix + "fates." + historyBucket(id) }

func historyDeadSubject(id string) string  { return historyPrefix + "dead." + Token(id) }
func historyAgainSubject(id string) string { return historyPrefix + "again." + Token(id) }

// Subjects of earlier versions: a record per event (replaced by a rollup)
// and its fates on one subject per event or per op.
func legacyRecordSubject(id string) string { return historyPrefix + "ev." + Token(id) }
func legacyFatesSubject(id string) string  { return historyPrefix + "op." + Token(id) }

// historyFatesFilters are the subjects event id's fates may be on.
func historyFatesFilters(id string) []string {
	return []string{historyFatesSubject(id), legacyFatesSubject(id), legacyFatesSubject(id) + ".>"}
}

// ofEvent reports whether history message m, read on event id's subjects,
// is about it: its header says so. Without one it is an earlier version's,
// on a subject of the event's own.
func ofEvent(m jetstream.Msg, id string) bool {
	got := m.Headers().Get(historyEventHeader)
	return got == "" || got == id
}

// Fate message bounds: a message carries at most fatesPerMsg fates and
// about fatesMsgBytes of them.
const (
	fatesPerMsg   = 1000
	fatesMsgBytes = 256 << 10
	// maxFoldOps bounds the distinct ops HistoryEvent counts for one event.
	maxFoldOps = 100_000
)

// rollup is the header that makes a message replace the earlier ones of
// its subject.
func rollup() nats.Header {
	return nats.Header{jetstream.MsgRollup: []string{jetstream.MsgRollupSubject}}
}

// RecordEvent stores an event's record in the history.
func (q *Queue) RecordEvent(ctx context.Context, e history.Event) error {
	_, err := q.recordEvent(ctx, e)
	return err
}

func (q *Queue) recordEvent(ctx context.Context, e history.Event) (uint64, error) {
	m, err := recordMsg(e)
	if err != nil {
		return 0, err
	}
	ack, err := q.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("record history of event %s: %w", e.EventID, err)
	}
	return ack.Sequence, nil
}

// recordMsg is the message of event e's record, on its bucket's subject.
func recordMsg(e history.Event) (*nats.Msg, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode history of event %s: %w", e.EventID, err)
	}
	return &nats.Msg{Subject: historyRecordSubject(e.EventID), Data: data, Header: eventHeader(e.EventID)}, nil
}

// eventHeader names event id in a record or fates message.
func eventHeader(id string) nats.Header { return nats.Header{historyEventHeader: []string{id}} }

// ReplaceEvent stores the record of an event that may have been handled
// before (a redelivery) as its latest: its marker, .again.<event>, names
// the record's sequence, so the history lists this record only and finds
// it without reading the event's bucket. Redeliveries are rare (a crash, a
// timeout), so are these subjects.
func (q *Queue) ReplaceEvent(ctx context.Context, e history.Event) error {
	seq, err := q.recordEvent(ctx, e)
	if err != nil {
		return err
	}
	marker := &nats.Msg{Subject: historyAgainSubject(e.EventID), Data: strconv.AppendUint(nil, seq, 10), Header: rollup()}
	if _, err := q.js.PublishMsg(ctx, marker); err != nil {
		return fmt.Errorf("mark the latest history of event %s: %w", e.EventID, err)
	}
	// An earlier version's record of it.
	if err := q.history.Purge(ctx, jetstream.WithPurgeSubject(legacyRecordSubject(e.EventID))); err != nil {
		return fmt.Errorf("remove earlier history of event %s: %w", e.EventID, err)
	}
	return nil
}

// latestRecord returns the sequence of event id's latest record when a
// redelivery marked it, else 0.
func (q *Queue) latestRecord(ctx context.Context, id string) (uint64, error) {
	m, err := q.history.GetLastMsgForSubject(ctx, historyAgainSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("history of event %s: %w", id, err)
	}
	seq, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("history of event %s: marker %q: %w", id, m.Data, err)
	}
	return seq, nil
}

// RecordFates stores the fates of ops in the history, each superseding the
// op's last one; a dead op also marks its event failed. The fates of one
// event go out as few messages as their size allows. It returns once the
// server has stored them all.
func (q *Queue) RecordFates(ctx context.Context, fates []history.Fate) error {
	byEvent := map[string][]history.Fate{}
	var order []string
	for _, f := range fates {
		if _, ok := byEvent[f.EventID]; !ok {
			order = append(order, f.EventID)
		}
		byEvent[f.EventID] = append(byEvent[f.EventID], f)
	}
	var msgs []*nats.Msg
	for _, id := range order {
		var dead string
		var pack [][]byte
		size := 0
		flush := func() {
			if len(pack) > 0 {
				msgs = append(msgs, &nats.Msg{Subject: historyFatesSubject(id), Data: joinJSON(pack), Header: eventHeader(id)})
				pack, size = nil, 0
			}
		}
		for _, f := range byEvent[id] {
			data, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("encode fate of op %s: %w", f.OpID, err)
			}
			if len(pack) == fatesPerMsg || len(pack) > 0 && size+len(data) > fatesMsgBytes {
				flush()
			}
			pack, size = append(pack, data), size+len(data)+1
			if f.Fate == history.FateDead && dead == "" {
				dead = f.OpID
			}
		}
		flush()
		if dead != "" {
			msgs = append(msgs, &nats.Msg{Subject: historyDeadSubject(id), Data: []byte(dead), Header: rollup()})
		}
	}
	if err := q.publishAll(ctx, msgs); err != nil {
		return fmt.Errorf("record op fates: %w", err)
	}
	return nil
}

// joinJSON returns the JSON array of the encoded values.
func joinJSON(values [][]byte) []byte {
	n := 2
	for _, v := range values {
		n += len(v) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, v := range values {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, v...)
	}
	return append(out, ']')
}

// decodeFates decodes a fates message: an array, or the single fate of an
// earlier version's message.
func decodeFates(data []byte) ([]history.Fate, error) {
	if len(data) > 0 && data[0] == '[' {
		var fs []history.Fate
		err := json.Unmarshal(data, &fs)
		return fs, err
	}
	var f history.Fate
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	return []history.Fate{f}, nil
}

// HistoryItem is one event of a history page.
type HistoryItem struct {
	// Seq is the record's sequence (the cursor of HistoryPage).
	Seq uint64
	// Event is the event's record; Status its status, dead ops counted.
	Event  history.Event
	Status string
}

// HistoryPage is one page of the history.
type HistoryPage struct {
	// Items are the events, newest first.
	Items []HistoryItem
	// Next is the cursor of the next page; 0 when the history has no more.
	Next uint64
	// HiddenEchoes counts the echoes the filter left out among the records
	// the page read (Filter.Echoes shows them).
	HiddenEchoes int
}

// History returns up to limit events with a record sequence below before
// (0: from the newest) that f matches, newest first. It reads at most
// historyScan records per call, so a page may come back short with a
// cursor to go on.
func (q *Queue) History(ctx context.Context, f history.Filter, before uint64, limit int) (HistoryPage, error) {
	items, next, hidden, err := q.historyPage(ctx, f, before, limit)
	return HistoryPage{Items: items, Next: next, HiddenEchoes: hidden}, err
}

func (q *Queue) historyPage(ctx context.Context, f history.Filter, before uint64, limit int) ([]HistoryItem, uint64, int, error) {
	if limit <= 0 {
		return nil, 0, 0, nil
	}
	info, err := q.history.Info(ctx)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("history: %w", err)
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq
	if before > 0 && before-1 < hi {
		hi = before - 1
	}
	if info.State.Msgs == 0 || hi < lo || hi == 0 {
		return nil, 0, 0, nil
	}
	var out []HistoryItem
	scanned, hidden := 0, 0
	const window = 200
	for scanned < historyScan && len(out) < limit {
		start := lo
		if hi-lo >= window {
			start = hi - window + 1
		}
		chunk, err := q.historyRange(ctx, start, hi)
		if err != nil {
			return nil, 0, 0, err
		}
		scanned += len(chunk) + 1
		for i := len(chunk) - 1; i >= 0 && len(out) < limit; i-- {
			it := chunk[i]
			if it.Event.Self && !f.Echoes {
				hidden++
				continue
			}
			// Cheap filters first: the dead marker costs a lookup.
			if !f.Match(it.Event, false) && !f.NeedsDead() {
				continue
			}
			// A record an event's redelivery replaced is not listed.
			latest, err := q.latestRecord(ctx, it.Event.EventID)
			if err != nil {
				return nil, 0, 0, err
			}
			if latest != 0 && latest != it.Seq {
				continue
			}
			dead, err := q.hasDead(ctx, it.Event.EventID)
			if err != nil {
				return nil, 0, 0, err
			}
			if !f.Match(it.Event, dead) {
				continue
			}
			it.Status = it.Event.Status(dead)
			out = append(out, it)
		}
		if len(out) == limit {
			return out, out[len(out)-1].Seq, hidden, nil
		}
		if start == lo {
			return out, 0, hidden, nil
		}
		hi = start - 1
	}
	return out, hi + 1, hidden, nil
}

// historyRange reads the event records with sequences in [from, to],
// oldest first, skipping fates and markers on the server side.
func (q *Queue) historyRange(ctx context.Context, from, to uint64) ([]HistoryItem, error) {
	var out []HistoryItem
	for seq := from; seq <= to; {
		m, err := q.history.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(historyPrefix+"ev.>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		if m.Sequence > to {
			return out, nil
		}
		var e history.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			q.log.Error().Err(err).Uint64("seq", m.Sequence).Msg("undecodable history record")
		} else {
			out = append(out, HistoryItem{Seq: m.Sequence, Event: e})
		}
		seq = m.Sequence + 1
	}
	return out, nil
}

// hasDead reports whether an op of event id was dead-lettered.
func (q *Queue) hasDead(ctx context.Context, id string) (bool, error) {
	_, err := q.history.GetLastMsgForSubject(ctx, historyDeadSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("history of event %s: %w", id, err)
	}
	return true, nil
}

// ErrNoHistory is returned by HistoryEvent for an event the history does
// not hold (never handled, or older than the retention).
var ErrNoHistory = errors.New("no such event in the history")

// HistoryEvent returns the record of event id, its status, the latest
// fate of each of its ops (at most MaxFates, in the order the ops were
// first recorded) and how many ops it has in all (counted up to 100,000).
func (q *Queue) HistoryEvent(ctx context.Context, id string) (HistoryItem, []history.Fate, int, error) {
	m, err := q.eventRecord(ctx, id)
	if err != nil {
		return HistoryItem{}, nil, 0, err
	}
	it := HistoryItem{Seq: m.Sequence}
	if err := json.Unmarshal(m.Data, &it.Event); err != nil {
		return HistoryItem{}, nil, 0, fmt.Errorf("decode history of event %s: %w", id, err)
	}
	dead, err := q.hasDead(ctx, id)
	if err != nil {
		return HistoryItem{}, nil, 0, err
	}
	it.Status = it.Event.Status(dead)
	fates, total, err := q.fates(ctx, id, it.Event.Time)
	return it, fates, total, err
}

// eventRecord returns the latest record of event id: the last its bucket
// holds, else an earlier version's.
func (q *Queue) eventRecord(ctx context.Context, id string) (*jetstream.RawStreamMsg, error) {
	last, err := q.latestRecord(ctx, id)
	if err == nil && last == 0 {
		last, err = q.lastInBucket(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	var m *jetstream.RawStreamMsg
	if last > 0 {
		m, err = q.history.GetMsg(ctx, last)
	} else {
		m, err = q.history.GetLastMsgForSubject(ctx, legacyRecordSubject(id))
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("event %s: %w", id, ErrNoHistory)
	}
	if err != nil {
		return nil, fmt.Errorf("history of event %s: %w", id, err)
	}
	return m, nil
}

// lastInBucket returns the sequence of the last record of event id in its
// bucket (0: none), reading the bucket's headers.
func (q *Queue) lastInBucket(ctx context.Context, id string) (uint64, error) {
	var last uint64
	err := q.scanHistory(ctx, []string{historyRecordSubject(id)}, nil, true, func(m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil && ofEvent(m, id) {
			last = max(last, md.Sequence.Stream)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("history of event %s: %w", id, err)
	}
	return last, nil
}

// fates reads the op fates of event id recorded since a little before
// handled and keeps each op's latest.
func (q *Queue) fates(ctx context.Context, id string, handled time.Time) ([]history.Fate, int, error) {
	start := handled.Add(-time.Minute)
	var fold fateFold
	err := q.scanHistory(ctx, historyFatesFilters(id), &start, false, func(m jetstream.Msg) {
		if !ofEvent(m, id) {
			return
		}
		fs, err := decodeFates(m.Data())
		if err != nil {
			q.log.Error().Err(err).Str("event", id).Msg("undecodable op fates")
			return
		}
		fold.add(fs)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
	}
	return fold.out, fold.total(), nil
}

// scanHistory reads, oldest first, the history's messages on subjects
// (since start, when set; only their headers, when headersOnly) up to the
// last one stored when it began. Its consumer is removed when it returns:
// left to expire, one per scan, a burst of redeliveries would reach the
// server's consumer limit.
func (q *Queue) scanHistory(ctx context.Context, subjects []string, start *time.Time, headersOnly bool, each func(jetstream.Msg)) error {
	cfg := jetstream.ConsumerConfig{FilterSubjects: subjects, HeadersOnly: headersOnly, AckPolicy: jetstream.AckNonePolicy,
		MemoryStorage: true, InactiveThreshold: time.Minute}
	if start != nil {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, start
	}
	cons, err := q.history.CreateConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		// A background context: the scan's may be done, and its consumer
		// is still to go.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := q.history.DeleteConsumer(ctx, cons.CachedInfo().Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			q.log.Warn().Err(err).Msg("history scan: consumer not removed (it expires in a minute)")
		}
	}()
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	for left := int(info.NumPending); left > 0; {
		batch, err := cons.FetchNoWait(min(left, 256))
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			each(m)
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			break
		}
		left -= n
	}
	return nil
}

// fateFold keeps the latest fate of each op, in the order the ops were
// first recorded: the fates of the first MaxFates ops, and the ids of up to
// maxFoldOps.
type fateFold struct {
	out  []history.Fate
	seen map[string]int // op id: index in out, or -1 past MaxFates
}

func (ff *fateFold) add(fs []history.Fate) {
	if ff.seen == nil {
		ff.seen = map[string]int{}
	}
	for _, f := range fs {
		i, ok := ff.seen[f.OpID]
		switch {
		case ok && i >= 0:
			ff.out[i] = f
		case ok:
		case len(ff.out) < MaxFates:
			ff.seen[f.OpID] = len(ff.out)
			ff.out = append(ff.out, f)
		case len(ff.seen) < maxFoldOps:
			ff.seen[f.OpID] = -1
		}
	}
}

// total is how many ops the fold saw (at most maxFoldOps).
func (ff *fateFold) total() int { return len(ff.seen) }
