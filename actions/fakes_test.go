package actions

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/clocktest"
	"github.com/seaflow/seaflow/loopguard"
	"github.com/seaflow/seaflow/seatable"
)

// notifier wakes test waiters whenever a fake changes state.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) bump() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
	}
	n.ch = make(chan struct{})
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// waitUntil blocks until cond holds, re-checking after every state change
// of the fakes. The real-time guard only turns a hang into a failure: it
// is no speed check. Under the race detector, beside the other packages on
// 2 cores, TestDispatcherSendsUrgentWhileBulkWaits took 15 s (1.5 s
// without it) and once passed a 20 s guard.
func waitUntil(t *testing.T, n *notifier, what string, cond func() bool) {
	t.Helper()
	guard := time.After(2 * time.Minute)
	for {
		ch := n.wait()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-guard:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// follow bumps n on every change of c (a sleeper added, time moved) until
// the test ends, so waitUntil re-checks conditions on the clock too.
func (n *notifier) follow(t *testing.T, c *clocktest.Clock) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			ch := c.Changed() // taken before the bump: no change is missed
			n.bump()
			select {
			case <-ch:
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
}

// fakeSource is an in-memory work queue per base and lane. Fetch returns
// at once when ops are waiting or the wait is zero (as the queue's does),
// else blocks until some are pushed.
type fakeSource struct {
	n        *notifier
	mu       sync.Mutex
	queues   map[string][]seaflow.Op
	acked    []seaflow.Op
	released int
	extended int
	fetches  map[seaflow.Lane]int
	problems []string
}

func newFakeSource(n *notifier) *fakeSource {
	return &fakeSource{n: n, queues: map[string][]seaflow.Op{}, fetches: map[seaflow.Lane]int{}}
}

func qkey(base string, lane seaflow.Lane) string { return base + "/" + string(lane) }

func (s *fakeSource) push(ops ...seaflow.Op) {
	s.mu.Lock()
	for _, o := range ops {
		k := qkey(o.Base, o.Lane)
		s.queues[k] = append(s.queues[k], o)
	}
	s.mu.Unlock()
	s.n.bump()
}

func (s *fakeSource) Fetch(ctx context.Context, base string, lane seaflow.Lane, max int, wait time.Duration) ([]Delivery, error) {
	k := qkey(base, lane)
	for {
		ch := s.n.wait()
		s.mu.Lock()
		if q := s.queues[k]; len(q) > 0 {
			n := min(max, len(q))
			taken := slices.Clone(q[:n])
			s.queues[k] = q[n:]
			s.fetches[lane]++
			s.mu.Unlock()
			ds := make([]Delivery, n)
			for i, o := range taken {
				ds[i] = s.delivery(o)
			}
			s.n.bump()
			return ds, nil
		}
		s.mu.Unlock()
		if wait == 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

func (s *fakeSource) delivery(o seaflow.Op) Delivery {
	var settled bool
	settle := func(what string) bool {
		if settled {
			s.problems = append(s.problems, fmt.Sprintf("op %s %s after it was settled", o.ID, what))
			return false
		}
		settled = true
		return true
	}
	return Delivery{
		Op: o,
		Ack: func(context.Context) error {
			s.mu.Lock()
			if settle("acked") {
				s.acked = append(s.acked, o)
			}
			s.mu.Unlock()
			s.n.bump()
			return nil
		},
		Release: func(context.Context) error {
			s.mu.Lock()
			if settle("released") {
				s.released++
				k := qkey(o.Base, o.Lane)
				s.queues[k] = append([]seaflow.Op{o}, s.queues[k]...)
			}
			s.mu.Unlock()
			s.n.bump()
			return nil
		},
		Extend: func(context.Context) error {
			s.mu.Lock()
			if settled {
				s.problems = append(s.problems, fmt.Sprintf("op %s extended after it was settled", o.ID))
			}
			s.extended++
			s.mu.Unlock()
			return nil
		},
	}
}

func (s *fakeSource) Pending(_ context.Context, base string, lane seaflow.Lane) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queues[qkey(base, lane)]), nil
}

func (s *fakeSource) count(n *int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *n
}

func (s *fakeSource) fetchCount(lane seaflow.Lane) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[lane]
}

// ackedOps returns the ops acked so far, in ack order.
func (s *fakeSource) ackedOps() []seaflow.Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acked)
}

func (s *fakeSource) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

func (s *fakeSource) queued(base string, lane seaflow.Lane) int {
	n, _ := s.Pending(context.Background(), base, lane)
	return n
}

// fakeDead collects dead letters.
type fakeDead struct {
	n  *notifier
	mu sync.Mutex
	// reasons by op id.
	reasons map[string]string
}

func (d *fakeDead) DeadLetter(_ context.Context, op seaflow.Op, reason string) error {
	d.mu.Lock()
	if d.reasons == nil {
		d.reasons = map[string]string{}
	}
	d.reasons[op.ID] = reason
	d.mu.Unlock()
	d.n.bump()
	return nil
}

func (d *fakeDead) all() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.reasons)
}

// fakeBudget admits calls unless the base is frozen or a lane is held
// back until laneNext; it logs every admission in events.
type fakeBudget struct {
	n        *notifier
	clock    *clocktest.Clock
	mu       sync.Mutex
	frozen   time.Time
	laneNext map[seaflow.Lane]time.Time
	denyNext int // refuse this many Reserve calls, with next = now + denyFor
	denyFor  time.Duration
	freezes  []time.Time
	events   *eventLog
}

func (b *fakeBudget) next(lane seaflow.Lane) time.Time {
	t := b.frozen
	if ln := b.laneNext[lane]; ln.After(t) {
		t = ln
	}
	return t
}

func (b *fakeBudget) Reserve(_ context.Context, base string, lane seaflow.Lane) (budget.Grant, error) {
	now := b.clock.Now()
	defer b.n.bump()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.denyNext > 0 {
		b.denyNext--
		b.events.add("deny " + string(lane))
		return budget.Grant{Next: now.Add(b.denyFor)}, nil
	}
	if next := b.next(lane); next.After(now) {
		b.events.add("deny " + string(lane))
		return budget.Grant{Next: next}, nil
	}
	b.events.add("reserve " + string(lane))
	return budget.Grant{OK: true, At: now}, nil
}

func (b *fakeBudget) Refund(_ context.Context, base string, at time.Time) error {
	b.events.add("refund")
	return nil
}

func (b *fakeBudget) Next(_ context.Context, base string, lane seaflow.Lane) (time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next(lane), nil
}

func (b *fakeBudget) Freeze(_ context.Context, base string, until time.Time) error {
	b.mu.Lock()
	b.frozen = until
	b.freezes = append(b.freezes, until)
	b.mu.Unlock()
	b.n.bump()
	return nil
}

// eventLog records what happened in order.
type eventLog struct {
	mu sync.Mutex
	ev []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ev)
}

// fakeRows is a Rows on the in-memory model. A call carrying a cell
// "BAD" is refused as invalid as a whole, like SeaTable refuses a batch;
// fault, when set, can fail any call before it applies.
type fakeRows struct {
	n      *notifier
	mu     sync.Mutex
	m      *model
	calls  []string
	fault  func(call string) error
	events *eventLog
	// block, when set, holds every call until it is closed; held counts
	// the calls that reached it.
	block chan struct{}
	held  int
	// columns, when set, replaces fakeColumns in the metadata.
	columns []string
}

// metadataCall is the call name of a metadata fetch. fault and block
// spare it, and callCount leaves it out: the tests aim their faults at
// writes, and the executor fetches metadata once per base before its
// first write (columns.go).
const metadataCall = "metadata"

var errBad = &seatable.Error{Kind: seatable.KindInvalid, Op: "call", Status: 400, Message: "bad value"}

func (r *fakeRows) do(call string, bad bool, apply func()) error {
	if r.block != nil && call != metadataCall {
		r.mu.Lock()
		r.held++
		r.mu.Unlock()
		r.n.bump()
		<-r.block
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	if r.events != nil {
		r.events.add("send " + call)
	}
	var err error
	if r.fault != nil && call != metadataCall {
		err = r.fault(call)
	}
	if err == nil && bad {
		err = errBad
	}
	if err == nil {
		apply()
	}
	r.mu.Unlock()
	r.n.bump()
	return err
}

// heldCount counts the calls that reached block.
func (r *fakeRows) heldCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// callCount counts the calls other than metadata fetches.
func (r *fakeRows) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c != metadataCall {
			n++
		}
	}
	return n
}

func (r *fakeRows) callList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func hasBad(rows ...map[string]any) bool {
	for _, row := range rows {
		for _, v := range row {
			if v == "BAD" {
				return true
			}
		}
	}
	return false
}

func (r *fakeRows) AppendRows(_ context.Context, table string, rows []seatable.Row) ([]string, error) {
	var ids []string
	err := r.do("append rows", hasBad(rows...), func() {
		for _, row := range rows {
			ids = append(ids, r.m.appendRow(table, row))
		}
	})
	return ids, err
}

func (r *fakeRows) UpdateRows(_ context.Context, table string, updates []seatable.RowUpdate) error {
	bad := false
	for _, u := range updates {
		bad = bad || hasBad(u.Row)
	}
	return r.do("update rows", bad, func() {
		for _, u := range updates {
			r.m.update(table, u.RowID, u.Row)
		}
	})
}

func (r *fakeRows) DeleteRows(_ context.Context, table string, ids []string) error {
	return r.do("delete rows", slices.Contains(ids, "BAD"), func() {
		for _, id := range ids {
			delete(r.m.table(table), id)
		}
	})
}

func (r *fakeRows) lock(call, table string, ids []string, locked bool) error {
	return r.do(call, slices.Contains(ids, "BAD"), func() {
		for _, id := range ids {
			if row := r.m.table(table)[id]; row != nil {
				row.locked = locked
			}
		}
	})
}

func (r *fakeRows) LockRows(_ context.Context, table string, ids []string) error {
	return r.lock("lock rows", table, ids, true)
}

func (r *fakeRows) UnlockRows(_ context.Context, table string, ids []string) error {
	return r.lock("unlock rows", table, ids, false)
}

func (r *fakeRows) CreateLinks(_ context.Context, ls seatable.LinkSet) error {
	return r.do("create links", ls.LinkID != "lnk1" || ls.Table != "T1" || ls.OtherTable != "T2", func() {
		for id, others := range ls.Links {
			r.m.link(ls.Table, id, "L", others)
		}
	})
}

var lookupRE = regexp.MustCompile("^SELECT _id, `([^`]+)` FROM `([^`]+)` WHERE `([^`]+)` IN \\(")

func (r *fakeRows) SQL(_ context.Context, query string, params []any) (*seatable.SQLResult, error) {
	res := &seatable.SQLResult{}
	m := lookupRE.FindStringSubmatch(query)
	r.mu.Lock()
	bad := m == nil || r.m.tables[m[2]] == nil
	r.mu.Unlock()
	err := r.do("sql", bad, func() {
		for _, p := range params {
			for _, id := range r.m.lookup(m[2], m[1], p) {
				res.Rows = append(res.Rows, seatable.Row{"_id": id, m[1]: r.m.tables[m[2]][id].cells[m[1]]})
			}
		}
	})
	return res, err
}

// fakeColumns are the text columns every table of the fake base has
// besides K and L: every column the tests write, so that the executor's
// column check (columns.go) passes them. "Typo" is missing on purpose.
var fakeColumns = []string{"a", "b", "m", "o", "n", "N", "x", "i", "Name", "ID", "Stage", "Owner", "Amount", "Seaflow ID", "Order ID", "Note", "won"}

func (r *fakeRows) Metadata(context.Context) (*seatable.Metadata, error) {
	meta := &seatable.Metadata{}
	err := r.do(metadataCall, false, func() {
		for _, name := range slices.Sorted(maps.Keys(r.m.tables)) {
			t := seatable.Table{ID: "id" + name, Name: name, Columns: []seatable.Column{
				{Key: "0000", Name: "K", Type: "text"},
				// T2 shows the link from its own side: table_id is T1.
				{Key: "0001", Name: "L", Type: "link", Data: map[string]any{"link_id": "lnk1", "table_id": "idT1", "other_table_id": "idT2"}},
			}}
			cols := fakeColumns
			if r.columns != nil {
				cols = r.columns
			}
			for i, c := range cols {
				t.Columns = append(t.Columns, seatable.Column{Key: fmt.Sprintf("c%03d", i), Name: c, Type: "text"})
			}
			meta.Tables = append(meta.Tables, t)
		}
	})
	return meta, err
}

var _ Rows = (*fakeRows)(nil)

// fakeEchoes records what the executor tells the loop guard; fail makes
// Expect refuse.
type fakeEchoes struct {
	mu       sync.Mutex
	expected []string // "kind/table/row/depth" ("" row for appends)
	appended []string // "table/row"
	// before, when set, is called inside Expect (to see the table then).
	before func(w loopguard.Write)
	fail   error
}

func (f *fakeEchoes) Expect(_ context.Context, writes []loopguard.Write) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	for _, w := range writes {
		if f.before != nil {
			f.before(w)
		}
		f.expected = append(f.expected, fmt.Sprintf("%s/%s/%s/%d", w.Kind, w.Table, w.RowID, w.Depth))
	}
	return nil
}

func (f *fakeEchoes) Appended(_ context.Context, w loopguard.Write, row string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appended = append(f.appended, w.Table+"/"+row)
	return nil
}

func (f *fakeEchoes) all() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.expected), slices.Clone(f.appended)
}
