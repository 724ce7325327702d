package loopguard

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*Guard, *clock, *MemoryStore) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	st := &MemoryStore{}
	return New(Options{Store: st, Now: c.now}), c, st
}

func webhook(id, op, row string, cells map[string]any) *seaflow.Event {
	return &seaflow.Event{ID: id, Source: seaflow.SourceWebhook, Base: "crm", OpType: op, Table: "Deals", RowID: row, Row: cells}
}

func expect(t *testing.T, g *Guard, writes ...Write) {
	t.Helper()
	for i := range writes {
		writes[i].Base, writes[i].Table = "crm", "Deals"
		if writes[i].Op == "" {
			writes[i].Op = "op" + writes[i].RowID
		}
	}
	if err := g.Expect(context.Background(), writes); err != nil {
		t.Fatal(err)
	}
}

func match(t *testing.T, g *Guard, ev *seaflow.Event) *seaflow.Event {
	t.Helper()
	if err := g.Match(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestMatchByContent(t *testing.T) {
	t.Parallel()
	g, _, _ := setup(t)
	expect(t, g, Write{RowID: "r1", Kind: seaflow.KindUpdate, Values: map[string]any{"Won At": "2026-11-26T10:00:00Z", "Note": "done"}, Depth: 1})

	// A person's edit of another cell of the row, seconds later: theirs.
	if ev := match(t, g, webhook("u1", "modify_row", "r1", map[string]any{"Stage": "Won"})); ev.Self || len(ev.SelfColumns) != 0 {
		t.Fatalf("a user's edit of another cell: self %v, self_columns %v", ev.Self, ev.SelfColumns)
	}
	// A person's edit of the same cell to another value: theirs.
	if ev := match(t, g, webhook("u2", "modify_row", "r1", map[string]any{"Note": "not yet"})); ev.Self {
		t.Fatal("a user's other value taken for seaflow's")
	}
	// A mixed edit: not self, but the matching cell is named.
	if ev := match(t, g, webhook("u3", "modify_row", "r1", map[string]any{"Note": "done", "Stage": "Lost"})); ev.Self || !slices.Equal(ev.SelfColumns, []string{"Note"}) {
		t.Fatalf("a mixed edit: self %v, self_columns %v", ev.Self, ev.SelfColumns)
	}
	// The echo itself, as SeaTable stores a date (minutes, no offset):
	// self, at the write's depth; consumed.
	echo := webhook("s1", "modify_row", "r1", map[string]any{"Won At": "2026-11-26 10:00", "Note": "done"})
	if ev := match(t, g, echo); !ev.Self || ev.Depth != 1 {
		t.Fatalf("the echo: self %v depth %d", ev.Self, ev.Depth)
	}
	// The same event again (a redelivery, a replay): the same answer.
	if ev := match(t, g, webhook("s1", "modify_row", "r1", map[string]any{"Won At": "2026-11-26 10:00", "Note": "done"})); !ev.Self {
		t.Fatal("a redelivered echo lost its verdict")
	}
	// Another event with the same cells later: the echo is spent, so it is
	// a person setting the same values.
	if ev := match(t, g, webhook("u4", "modify_row", "r1", map[string]any{"Won At": "2026-11-26 10:00", "Note": "done"})); ev.Self {
		t.Fatal("a consumed echo matched twice")
	}
}

func TestMatchSharedAndDurable(t *testing.T) {
	t.Parallel()
	g, c, st := setup(t)
	expect(t, g, Write{RowID: "r1", Kind: seaflow.KindUpdate, Values: map[string]any{"N": 5.0}, Depth: 2})
	// Another replica (or this one after a restart) on the same store
	// knows the write.
	other := New(Options{Store: st, Now: c.now})
	if ev := match(t, other, webhook("s1", "modify_row", "r1", map[string]any{"N": 5.0})); !ev.Self || ev.Depth != 2 {
		t.Fatalf("another replica: self %v depth %d", ev.Self, ev.Depth)
	}
	// An echo ten minutes late is still seaflow's; past the TTL it is gone.
	expect(t, g, Write{RowID: "r2", Kind: seaflow.KindUpdate, Values: map[string]any{"N": 1.0}})
	expect(t, g, Write{RowID: "r3", Kind: seaflow.KindUpdate, Values: map[string]any{"N": 1.0}})
	c.t = c.t.Add(10 * time.Minute)
	if ev := match(t, g, webhook("s2", "modify_row", "r2", map[string]any{"N": "1"})); !ev.Self {
		t.Fatal("an echo ten minutes late was not recognised")
	}
	c.t = c.t.Add(DefaultTTL)
	if ev := match(t, g, webhook("s3", "modify_row", "r3", map[string]any{"N": 1.0})); ev.Self {
		t.Fatal("an echo outlived its TTL")
	}
}

func TestMatchAppendsDeletesLinks(t *testing.T) {
	t.Parallel()
	g, _, _ := setup(t)
	w := Write{Kind: seaflow.KindAppend, Values: map[string]any{"Title": "Kick-off", "Deal": "r1"}, Op: "a1", Depth: 1}
	expect(t, g, w)
	// The insert webhook may come before the answer with the row id: it is
	// matched by its cells.
	if ev := match(t, g, webhook("i1", "insert_row", "new1", map[string]any{"Title": "Kick-off", "Deal": "r1"})); !ev.Self || ev.Depth != 1 {
		t.Fatalf("the insert of an append: self %v", ev.Self)
	}
	// A row a person typed in SeaTable arrives empty: theirs.
	if ev := match(t, g, webhook("i2", "insert_row", "new2", nil)); ev.Self {
		t.Fatal("an empty UI insert taken for seaflow's")
	}
	// Once the id is known, an empty insert of that row is seaflow's.
	w.Base, w.Table = "crm", "Deals"
	if err := g.Appended(context.Background(), w, "new3"); err != nil {
		t.Fatal(err)
	}
	if ev := match(t, g, webhook("i3", "insert_row", "new3", nil)); !ev.Self {
		t.Fatal("the empty insert of a known appended row was not recognised")
	}
	// Deletes carry no cells: a pending delete of the row matches.
	expect(t, g, Write{RowID: "r9", Kind: seaflow.KindDelete})
	if ev := match(t, g, webhook("d1", "delete_row", "r8", nil)); ev.Self {
		t.Fatal("a user's delete of another row taken for seaflow's")
	}
	if ev := match(t, g, webhook("d2", "delete_row", "r9", nil)); !ev.Self {
		t.Fatal("seaflow's delete not recognised")
	}
	// A batch event reports its first row like a single one.
	expect(t, g, Write{RowID: "r5", Kind: seaflow.KindUpdate, Values: map[string]any{"Stage": "Won"}})
	if ev := match(t, g, webhook("b1", "modify_rows", "r5", map[string]any{"Stage": "Won"})); !ev.Self {
		t.Fatal("a batch echo not recognised")
	}
	// Link events name both rows, from either side.
	expect(t, g, Write{RowID: "r1", Kind: seaflow.KindLink, Others: []string{"c1"}})
	ev := &seaflow.Event{ID: "l1", Source: seaflow.SourceWebhook, Base: "crm", OpType: "add_link",
		Body: map[string]any{"data": map[string]any{"table1_row_id": "c1", "table2_row_id": "r1"}}}
	if match(t, g, ev); !ev.Self {
		t.Fatal("seaflow's link not recognised")
	}
}

func TestSameValue(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 30, 0, time.UTC)
	for _, c := range []struct {
		written, seen any
		same          bool
	}{
		{"Won", "Won", true},
		{" Won ", "Won", true},
		{"Won", "Lost", false},
		{5.0, 5.0, true},
		{5, "5", true},
		{"5", 5.0, true},
		{5.0, 6.0, false},
		{true, true, true},
		{true, false, false},
		{[]any{"a", "b"}, []any{"b", "a"}, true},
		{[]any{"a"}, []any{"a", "b"}, false},
		{nil, "", true},
		{"", nil, true},
		{"x", nil, false},
		{"long text", map[string]any{"text": "long text", "preview": "long"}, true},
		{at.Format(time.RFC3339), "2026-11-26 10:00", true},                            // minutes kept
		{at.Format(time.RFC3339), "2026-11-26T10:00:00+00:00", true},                   // as an API read
		{at.Format(time.RFC3339), "2026-11-26 12:00", true},                            // read in the server's +02:00
		{at.Format(time.RFC3339), "2026-11-26 10:07", false},                           // another time
		{at.Format(time.RFC3339), "2026-11-26", true},                                  // a date-only column
		{"2026-12-03", "2026-12-03", true},                                             // a date string
		{"2026-12-03", "2026-12-05", false},                                            // another day
		{at, "2026-11-26 10:00", true},                                                 // a time value
		{"2026-11-26T10:00:00Z", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), true}, // a time seen
	} {
		if got := sameValue(c.written, c.seen); got != c.same {
			t.Errorf("sameValue(%#v, %#v) = %v, want %v", c.written, c.seen, got, c.same)
		}
	}
}

// TestAppendEchoIsAnInsertOnly: the echo of an append is its insert; a
// person's later edit of the new row back to a value the append wrote is
// theirs (the append's records, by cells and by row, are both spent).
func TestAppendEchoIsAnInsertOnly(t *testing.T) {
	t.Parallel()
	g, _, _ := setup(t)
	w := Write{Base: "crm", Table: "Deals", Kind: seaflow.KindAppend, Values: map[string]any{"Name": "Lead 0", "Stage": "Lead"}, Op: "a1"}
	expect(t, g, w)
	if err := g.Appended(context.Background(), w, "new1"); err != nil {
		t.Fatal(err)
	}
	if ev := match(t, g, webhook("e0", "modify_row", "new1", map[string]any{"Stage": "Lead"})); ev.Self {
		t.Fatal("a modify_row taken for an append's echo")
	}
	if ev := match(t, g, webhook("i1", "insert_row", "new1", map[string]any{"Name": "Lead 0", "Stage": "Lead"})); !ev.Self {
		t.Fatal("the append's insert not recognised")
	}
	if ev := match(t, g, webhook("i2", "insert_row", "new2", map[string]any{"Name": "Lead 0", "Stage": "Lead"})); ev.Self {
		t.Fatal("the append's echo matched a second insert")
	}
}

// loadCounter is a Store that counts its loads.
type loadCounter struct {
	*MemoryStore
	loads int
}

func (s *loadCounter) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	s.loads++
	return s.MemoryStore.Load(ctx, key)
}

// TestMatchReadsTheRowOnce: a row edit is matched, its self columns and
// its echo, from one read of the row's record (the guard runs for every
// webhook event, so a second read is a second round trip each).
func TestMatchReadsTheRowOnce(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	st := &loadCounter{MemoryStore: &MemoryStore{}}
	g := New(Options{Store: st, Now: c.now})
	expect(t, g, Write{RowID: "r1", Kind: seaflow.KindUpdate, Values: map[string]any{"Note": "done"}})
	st.loads = 0
	if ev := match(t, g, webhook("u1", "modify_row", "r1", map[string]any{"Note": "done", "Stage": "Won"})); ev.Self || !slices.Equal(ev.SelfColumns, []string{"Note"}) {
		t.Fatalf("a mixed edit: self %v, self_columns %v", ev.Self, ev.SelfColumns)
	}
	if st.loads != 1 {
		t.Errorf("%d loads for a user's edit, want 1", st.loads)
	}
	st.loads = 0
	if ev := match(t, g, webhook("s1", "modify_row", "r1", map[string]any{"Note": "done"})); !ev.Self || !slices.Equal(ev.SelfColumns, []string{"Note"}) {
		t.Fatalf("the echo: self %v, self_columns %v", ev.Self, ev.SelfColumns)
	}
	if st.loads != 1 {
		t.Errorf("%d loads for the echo, want 1", st.loads)
	}
}
