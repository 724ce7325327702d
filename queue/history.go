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

func historyEventSubject(id string) string { return historyPrefix + "ev." + Token(id) }
func historyDeadSubject(id string) string  { return historyPrefix + "dead." + Token(id) }
func historyFatesFilter(id string) string  { return historyPrefix + "op." + Token(id) + ".>" }
func historyFateSubject(f history.Fate) string {
	return historyPrefix + "op." + Token(f.EventID) + "." + Token(f.OpID)
}

// RecordEvent stores an event's record in the history, replacing an
// earlier one of the same event (a redelivery handled again).
func (q *Queue) RecordEvent(ctx context.Context, e history.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode history of event %s: %w", e.EventID, err)
	}
	if _, err := q.js.Publish(ctx, historyEventSubject(e.EventID), data); err != nil {
		return fmt.Errorf("record history of event %s: %w", e.EventID, err)
	}
	return nil
}

// RecordFates stores the fates of ops in the history, each replacing the
// op's last one; a dead op also marks its event failed. It returns once
// the server has stored them all.
func (q *Queue) RecordFates(ctx context.Context, fates []history.Fate) error {
	msgs := make([]*nats.Msg, 0, len(fates))
	dead := map[string]bool{}
	for _, f := range fates {
		data, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode fate of op %s: %w", f.OpID, err)
		}
		msgs = append(msgs, &nats.Msg{Subject: historyFateSubject(f), Data: data, Header: nats.Header{}})
		if f.Fate == history.FateDead && !dead[f.EventID] {
			dead[f.EventID] = true
			msgs = append(msgs, &nats.Msg{Subject: historyDeadSubject(f.EventID), Data: []byte(f.OpID), Header: nats.Header{}})
		}
	}
	if err := q.publishAll(ctx, msgs); err != nil {
		return fmt.Errorf("record op fates: %w", err)
	}
	return nil
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
// fate of each of its ops (at most MaxFates, in the order they were last
// recorded) and how many fates it has in all.
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
// handled, with an ordered consumer filtered on the event's subjects.
func (q *Queue) fates(ctx context.Context, id string, handled time.Time) ([]history.Fate, int, error) {
	start := handled.Add(-time.Minute)
	cons, err := q.js.OrderedConsumer(ctx, HistoryStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{historyFatesFilter(id)},
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
	total := int(info.NumPending)
	var out []history.Fate
	for len(out) < min(total, MaxFates) {
		batch, err := cons.FetchNoWait(min(total, MaxFates) - len(out))
		if err != nil {
			return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var f history.Fate
			if err := json.Unmarshal(m.Data(), &f); err != nil {
				q.log.Error().Err(err).Str("event", id).Msg("undecodable op fate")
				continue
			}
			out = append(out, f)
		}
		if err := batch.Error(); err != nil {
			return nil, 0, fmt.Errorf("fates of event %s: %w", id, err)
		}
		if n == 0 {
			break
		}
	}
	return out, total, nil
}
