package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// An event's op fates share one subject, .op.<event>, each message a JSON
// array of the fates one publish or one call recorded for the event; the
// latest fate of an op is the one that counts. One subject per op (as
// earlier versions stored them, .op.<event>.<op>, still read) cost the
// server's subject index some 230 B per op: 230 MB of memory for a
// million-op backlog, in the process that queued it and in every restart.
func historyEventSubject(id string) string { return historyPrefix + "ev." + Token(id) }
func historyDeadSubject(id string) string  { return historyPrefix + "dead." + Token(id) }
func historyFateSubject(id string) string  { return historyPrefix + "op." + Token(id) }

// historyFatesFilters are the subjects of event id's fates: the shared one
// and those of one op each that earlier versions wrote.
func historyFatesFilters(id string) []string {
	return []string{historyFateSubject(id), historyFateSubject(id) + ".>"}
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

// RecordEvent stores an event's record in the history, replacing an
// earlier one of the same event (a redelivery handled again).
func (q *Queue) RecordEvent(ctx context.Context, e history.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode history of event %s: %w", e.EventID, err)
	}
	if _, err := q.js.PublishMsg(ctx, &nats.Msg{Subject: historyEventSubject(e.EventID), Data: data, Header: rollup()}); err != nil {
		return fmt.Errorf("record history of event %s: %w", e.EventID, err)
	}
	return nil
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
				msgs = append(msgs, &nats.Msg{Subject: historyFateSubject(id), Data: joinJSON(pack), Header: nats.Header{}})
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
	m, err := q.history.GetLastMsgForSubject(ctx, historyEventSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return HistoryItem{}, nil, 0, fmt.Errorf("event %s: %w", id, ErrNoHistory)
	}
	if err != nil {
		return HistoryItem{}, nil, 0, fmt.Errorf("history of event %s: %w", id, err)
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

// fates reads the op fates of event id recorded since a little before
// handled, with an ordered consumer filtered on the event's subjects, and
// keeps each op's latest.
func (q *Queue) fates(ctx context.Context, id string, handled time.Time) ([]history.Fate, int, error) {
	start := handled.Add(-time.Minute)
	cons, err := q.js.OrderedConsumer(ctx, HistoryStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: historyFatesFilters(id),
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
	}
	var fold fateFold
	for left := int(info.NumPending); left > 0; {
		batch, err := cons.FetchNoWait(min(left, 256))
		if err != nil {
			return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			fs, err := decodeFates(m.Data())
			if err != nil {
				q.log.Error().Err(err).Str("event", id).Msg("undecodable op fates")
				continue
			}
			fold.add(fs)
		}
		if err := batch.Error(); err != nil {
			return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
		}
		if n == 0 {
			break
		}
		left -= n
	}
	return fold.out, fold.total(), nil
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
