package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow"
)

// DeadOp is an op on the dead-letter stream.
type DeadOp struct {
	// Seq identifies the dead letter for RetryDead and DropDead.
	Seq uint64 `json:"seq"`
	// Op is the refused op.
	Op seaflow.Op `json:"op"`
	// Reason is why it was refused (SeaTable's message).
	Reason string `json:"reason"`
	// Time is when it was dead-lettered.
	Time time.Time `json:"time"`
}

// deadRecord is a dead letter as stored.
type deadRecord struct {
	Op     seaflow.Op `json:"op"`
	Reason string     `json:"reason"`
	Time   time.Time  `json:"time"`
}

// DeadLetter stores op with the reason SeaTable refused it on the DEAD
// stream, subject seaflow.dead.<base>, and returns once the write is acked.
// The caller acks the op on the work queue afterwards; a crash in between
// can leave the same op dead-lettered twice, never lost.
func (q *Queue) DeadLetter(ctx context.Context, op seaflow.Op, reason string) error {
	data, err := json.Marshal(deadRecord{Op: op, Reason: reason, Time: q.now().UTC()})
	if err != nil {
		return fmt.Errorf("encode dead letter %s: %w", op.ID, err)
	}
	// No Nats-Msg-Id: an op retried and refused again within the duplicate
	// window must be stored again, not dropped as a duplicate.
	if _, err := q.js.Publish(ctx, deadPrefix+Token(op.Base), data); err != nil {
		return fmt.Errorf("dead letter %s: %w", op.ID, err)
	}
	return nil
}

// ListDead returns every dead letter, oldest first. It reads them all, one
// call each: for tests and tools; the daemon reads DeadPage and DeadStats.
func (q *Queue) ListDead(ctx context.Context) ([]DeadOp, error) {
	var out []DeadOp
	for seq := uint64(1); ; {
		m, err := q.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(deadPrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		d, err := decodeDead(m)
		if err != nil {
			q.log.Error().Err(err).Uint64("seq", m.Sequence).Msg("undecodable dead letter")
		} else {
			out = append(out, d)
		}
		seq = m.Sequence + 1
	}
}

func decodeDead(m *jetstream.RawStreamMsg) (DeadOp, error) {
	var r deadRecord
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return DeadOp{}, fmt.Errorf("decode dead letter %d: %w", m.Sequence, err)
	}
	return DeadOp{Seq: m.Sequence, Op: r.Op, Reason: r.Reason, Time: r.Time}, nil
}

// RetryDead queues the dead letter seq on the OPS work queue again and
// removes it from the dead letters.
func (q *Queue) RetryDead(ctx context.Context, seq uint64) error {
	m, err := q.dead.GetMsg(ctx, seq)
	if err != nil {
		return fmt.Errorf("retry dead letter %d: %w", seq, err)
	}
	d, err := decodeDead(m)
	if err != nil {
		return fmt.Errorf("retry dead letter %d: %w", seq, err)
	}
	msg, err := opMsg(d.Op)
	if err != nil {
		return fmt.Errorf("retry dead letter %d: %w", seq, err)
	}
	// The op's own id may still be in the OPS duplicate window; this retry
	// gets an id of its own (the same for a repeated RetryDead of seq).
	msg.Header.Set(jetstream.MsgIDHeader, msgID(d.Op.ID+"/retry/"+strconv.FormatUint(seq, 10)))
	if _, err := q.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("retry dead letter %d: %w", seq, err)
	}
	q.queuedOn(map[string]bool{msg.Subject: true})
	if err := q.dead.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("retry dead letter %d: remove: %w", seq, err)
	}
	q.countSettled(ctx)
	return nil
}

// DropDead deletes the dead letter seq for good.
func (q *Queue) DropDead(ctx context.Context, seq uint64) error {
	if err := q.dead.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("drop dead letter %d: %w", seq, err)
	}
	q.countSettled(ctx)
	return nil
}

// GetDead returns the dead letter seq, op and all.
func (q *Queue) GetDead(ctx context.Context, seq uint64) (DeadOp, error) {
	m, err := q.dead.GetMsg(ctx, seq)
	if err != nil {
		return DeadOp{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	return decodeDead(m)
}

// DeadFilter selects dead letters by where their op came from; an empty
// field matches any.
type DeadFilter struct {
	// Base is the base name of the op (its config name).
	Base string
	// Rule is the name of the rule that produced the op.
	Rule string
}

// Match reports whether d passes the filter.
func (f DeadFilter) Match(d DeadOp) bool {
	return (f.Base == "" || d.Op.Base == f.Base) && (f.Rule == "" || d.Op.Rule == f.Rule)
}

// FindDead returns every dead letter f matches, oldest first. With a base
// it reads only that base's subject; otherwise it reads every letter kept
// (storage.dead_max_messages bounds them), one call each: it serves an
// operator's retry or drop of a whole rule or base, not the status.
func (q *Queue) FindDead(ctx context.Context, f DeadFilter) ([]DeadOp, error) {
	subject := deadPrefix + ">"
	if f.Base != "" {
		subject = deadPrefix + Token(f.Base)
	}
	var out []DeadOp
	for seq := uint64(1); ; {
		m, err := q.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("find dead letters: %w", err)
		}
		d, err := decodeDead(m)
		if err != nil {
			q.log.Error().Err(err).Uint64("seq", m.Sequence).Msg("undecodable dead letter")
		} else if f.Match(d) {
			out = append(out, d)
		}
		seq = m.Sequence + 1
	}
}
