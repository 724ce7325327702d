// Package spend tallies the SeaTable calls and rows spent for each rule, per
// base, in 5-minute buckets over the last day, shared by every replica
// through a compare-and-set store: what "where did the budget go?" is
// answered from. It is pure logic with an injected clock; the store does
// the I/O.
package spend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
)

// Bucket is the width of one tally bucket; the 1-hour figures count the
// buckets that start within the last hour, so they move in these steps.
const Bucket = 5 * time.Minute

// Keep is how long a bucket is kept: a day and one bucket.
const Keep = 24*time.Hour + Bucket

// maxAttempts bounds the compare-and-set loop of one rule's flush.
const maxAttempts = 32

// Store keeps one record per key by compare-and-set (queue.CASStore). Save
// with a stale revision returns an error wrapping seaflow.ErrConflict. It
// must be safe for concurrent use.
type Store interface {
	Load(ctx context.Context, key string) (data []byte, rev uint64, err error)
	Save(ctx context.Context, key string, data []byte, rev uint64) (uint64, error)
}

// Key is the store key of a rule's tally.
func Key(rule string) string { return "spend/" + rule }

// Total is what one rule spent on one base.
type Total struct {
	// Base is the base name; Rule the rule name ("" for calls of no rule).
	Base, Rule string
	// Calls1h and Rows1h are the calls and rows of the last hour (whole
	// buckets); Calls24h and Rows24h those of the last 24 hours. Calls are
	// fractional: a call is shared by the rules of its ops.
	Calls1h, Rows1h, Calls24h, Rows24h float64
}

// record is one rule's stored tally.
type record struct {
	Buckets []bucket `json:"buckets"`
}

type bucket struct {
	// Start is the bucket's start, Unix seconds.
	Start int64   `json:"t"`
	Base  string  `json:"base"`
	Calls float64 `json:"calls"`
	Rows  float64 `json:"rows"`
}

type bkey struct {
	base  string
	start int64
}

type amount struct{ calls, rows float64 }

// Tally gathers spend in memory (Add) and merges it into the store
// (Flush). It is safe for concurrent use.
type Tally struct {
	store Store
	now   func() time.Time

	mu      sync.Mutex
	pending map[string]map[bkey]amount // rule → bucket → not yet flushed
}

// New returns a Tally on store with the clock now.
func New(store Store, now func() time.Time) *Tally {
	return &Tally{store: store, now: now, pending: map[string]map[bkey]amount{}}
}

// Add records calls and rows spent for rule on base now. It does no I/O.
func (t *Tally) Add(base, rule string, calls, rows float64) {
	k := bkey{base: base, start: t.now().Truncate(Bucket).Unix()}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pending[rule]
	if p == nil {
		p = map[bkey]amount{}
		t.pending[rule] = p
	}
	a := p[k]
	a.calls += calls
	a.rows += rows
	p[k] = a
}

// Flush merges what Add gathered into the store, one compare-and-set per
// rule, and drops buckets older than Keep. What it could not store stays
// pending for the next Flush; the first error is returned.
func (t *Tally) Flush(ctx context.Context) error {
	t.mu.Lock()
	pending := t.pending
	t.pending = map[string]map[bkey]amount{}
	t.mu.Unlock()
	var first error
	for rule, p := range pending {
		if err := t.merge(ctx, rule, p); err != nil {
			if first == nil {
				first = err
			}
			t.mu.Lock()
			for k, a := range p {
				q := t.pending[rule]
				if q == nil {
					q = map[bkey]amount{}
					t.pending[rule] = q
				}
				b := q[k]
				b.calls += a.calls
				b.rows += a.rows
				q[k] = b
			}
			t.mu.Unlock()
		}
	}
	return first
}

func (t *Tally) merge(ctx context.Context, rule string, p map[bkey]amount) error {
	oldest := t.now().Add(-Keep).Unix()
	for range maxAttempts {
		rec, rev, err := t.load(ctx, rule)
		if err != nil {
			return err
		}
		idx := map[bkey]int{}
		kept := rec.Buckets[:0]
		for _, b := range rec.Buckets {
			if b.Start >= oldest {
				idx[bkey{b.Base, b.Start}] = len(kept)
				kept = append(kept, b)
			}
		}
		for k, a := range p {
			if k.start < oldest {
				continue
			}
			i, ok := idx[k]
			if !ok {
				i = len(kept)
				idx[k] = i
				kept = append(kept, bucket{Start: k.start, Base: k.base})
			}
			kept[i].Calls += a.calls
			kept[i].Rows += a.rows
		}
		sort.Slice(kept, func(i, j int) bool {
			if kept[i].Start != kept[j].Start {
				return kept[i].Start < kept[j].Start
			}
			return kept[i].Base < kept[j].Base
		})
		data, err := json.Marshal(record{Buckets: kept})
		if err != nil {
			return fmt.Errorf("encode spend of rule %q: %w", rule, err)
		}
		_, err = t.store.Save(ctx, Key(rule), data, rev)
		if err == nil {
			return nil
		}
		if !errors.Is(err, seaflow.ErrConflict) {
			return fmt.Errorf("save spend of rule %q: %w", rule, err)
		}
	}
	return fmt.Errorf("save spend of rule %q: %w %d times", rule, seaflow.ErrConflict, maxAttempts)
}

func (t *Tally) load(ctx context.Context, rule string) (record, uint64, error) {
	data, rev, err := t.store.Load(ctx, Key(rule))
	if err != nil {
		return record{}, 0, fmt.Errorf("load spend of rule %q: %w", rule, err)
	}
	var rec record
	if data != nil {
		if err := json.Unmarshal(data, &rec); err != nil {
			return record{}, 0, fmt.Errorf("decode spend of rule %q: %w", rule, err)
		}
	}
	return rec, rev, nil
}

// Totals returns what rule spent on each base in the last hour and day,
// from the store and what this process has not flushed yet, sorted by
// base. It reads one record.
func (t *Tally) Totals(ctx context.Context, rule string) ([]Total, error) {
	rec, _, err := t.load(ctx, rule)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	for k, a := range t.pending[rule] {
		rec.Buckets = append(rec.Buckets, bucket{Start: k.start, Base: k.base, Calls: a.calls, Rows: a.rows})
	}
	t.mu.Unlock()
	now := t.now()
	hour, day := now.Add(-time.Hour).Unix(), now.Add(-24*time.Hour).Unix()
	by := map[string]*Total{}
	for _, b := range rec.Buckets {
		if b.Start < day {
			continue
		}
		tot := by[b.Base]
		if tot == nil {
			tot = &Total{Base: b.Base, Rule: rule}
			by[b.Base] = tot
		}
		tot.Calls24h += b.Calls
		tot.Rows24h += b.Rows
		if b.Start >= hour {
			tot.Calls1h += b.Calls
			tot.Rows1h += b.Rows
		}
	}
	out := make([]Total, 0, len(by))
	for _, tot := range by {
		out = append(out, *tot)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Base < out[j].Base })
	return out, nil
}
