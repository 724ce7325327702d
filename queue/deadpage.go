package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// deadSettledKey counts, in the state bucket, the dead letters retried or
// dropped, so DeadStats can tell them from those the retention discarded.
const deadSettledKey = "dead.settled"

// deadPageWindows bounds the sequence windows one DeadPage call scans, so
// a long run of retried or dropped letters costs pages, not one long call.
const deadPageWindows = 64

// DeadStats is what the dead-letter stream holds, from its state: O(1).
type DeadStats struct {
	// Count is the dead letters kept now.
	Count uint64
	// Discarded is the dead letters the retention dropped, ever: every
	// letter stored, less those kept, retried or dropped. A crash between
	// a retry's delete and its count can add one.
	Discarded uint64
}

// DeadStats counts the dead letters from the stream's state and the
// settled counter, without reading any letter.
func (q *Queue) DeadStats(ctx context.Context) (DeadStats, error) {
	info, err := q.dead.Info(ctx)
	if err != nil {
		return DeadStats{}, fmt.Errorf("dead letter stats: %w", err)
	}
	st := DeadStats{Count: info.State.Msgs}
	settled, _, err := q.settled(ctx)
	if err != nil {
		return st, err
	}
	if removed := info.State.LastSeq - min(info.State.LastSeq, info.State.Msgs); removed > settled {
		st.Discarded = removed - settled
	}
	return st, nil
}

// DeadPage returns up to limit dead letters with a sequence below before
// (0: from the newest), newest first, and the cursor of the next page (0
// when there is none). It reads windows of sequences back from the top,
// each with one call per letter it holds plus one, at most deadPageWindows
// windows per call: a page may come back short with a cursor to go on.
func (q *Queue) DeadPage(ctx context.Context, before uint64, limit int) ([]DeadOp, uint64, error) {
	if limit <= 0 {
		return nil, 0, nil
	}
	info, err := q.dead.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("dead letters: %w", err)
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq
	if before > 0 && before-1 < hi {
		hi = before - 1
	}
	if info.State.Msgs == 0 || hi < lo || hi == 0 {
		return nil, 0, nil
	}
	out := make([]DeadOp, 0, limit)
	for w := 0; w < deadPageWindows && len(out) < limit; w++ {
		start := lo
		if hi-lo >= uint64(limit) {
			start = hi - uint64(limit) + 1
		}
		chunk, err := q.deadRange(ctx, start, hi)
		if err != nil {
			return nil, 0, err
		}
		for i := len(chunk) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, chunk[i])
		}
		if start == lo {
			return out, 0, nil
		}
		hi = start - 1
	}
	next := hi + 1
	if len(out) == limit {
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// deadRange reads the dead letters with sequences in [from, to], oldest
// first, skipping deleted ones on the server side.
func (q *Queue) deadRange(ctx context.Context, from, to uint64) ([]DeadOp, error) {
	var out []DeadOp
	for seq := from; seq <= to; {
		m, err := q.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(deadPrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		if m.Sequence > to {
			return out, nil
		}
		if d, err := decodeDead(m); err != nil {
			q.log.Error().Err(err).Uint64("seq", m.Sequence).Msg("undecodable dead letter")
		} else {
			out = append(out, d)
		}
		seq = m.Sequence + 1
	}
	return out, nil
}

// settled reads the settled counter and its revision (0: not set yet).
func (q *Queue) settled(ctx context.Context) (uint64, uint64, error) {
	e, err := q.stateKV.Get(ctx, deadSettledKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("dead letters settled: %w", err)
	}
	n, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("dead letters settled: %w", err)
	}
	return n, e.Revision(), nil
}

// countSettled adds one to the settled counter by compare-and-set (other
// replicas count too). A failure only skews DeadStats.Discarded, so it is
// logged, not returned.
func (q *Queue) countSettled(ctx context.Context) {
	for range 10 {
		n, rev, err := q.settled(ctx)
		if err != nil {
			break
		}
		v := []byte(strconv.FormatUint(n+1, 10))
		if rev == 0 {
			_, err = q.stateKV.Create(ctx, deadSettledKey, v)
		} else {
			_, err = q.stateKV.Update(ctx, deadSettledKey, v, rev)
		}
		if err == nil {
			return
		}
	}
	q.log.Warn().Msg("dead letters settled: count not updated; seaflow_dead_letters_discarded_total may count one too many")
}
