package queue

import (
	"fmt"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// deadLetters stores n dead letters and returns their sequences, oldest first.
func deadLetters(t *testing.T, q *Queue, n int) []uint64 {
	t.Helper()
	for i := range n {
		if err := q.DeadLetter(t.Context(), testOp(fmt.Sprintf("d%d", i), "crm", seaflow.Urgent), "refused"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := q.ListDead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(all))
	for i, d := range all {
		seqs[i] = d.Seq
	}
	return seqs
}

func TestDeadPageNewestFirst(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	if page, next, err := q.DeadPage(ctx, 0, 10); err != nil || page != nil || next != 0 {
		t.Fatalf("empty: %v %d %v", page, next, err)
	}
	seqs := deadLetters(t, q, 300)
	// A long run of settled letters in the middle: 200 dropped in a row.
	for _, s := range seqs[50:250] {
		if err := q.DropDead(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	before, pages := uint64(0), 0
	for {
		page, next, err := q.DeadPage(ctx, before, 20)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range page {
			got = append(got, d.Seq)
		}
		if next == 0 {
			break
		}
		if next >= before && before != 0 {
			t.Fatalf("cursor did not move: %d after %d", next, before)
		}
		before = next
	}
	want := append(append([]uint64{}, seqs[:50]...), seqs[250:]...) // oldest first
	if len(got) != len(want) {
		t.Fatalf("%d letters over %d pages, want %d", len(got), pages, len(want))
	}
	for i := range got {
		if w := want[len(want)-1-i]; got[i] != w {
			t.Fatalf("letter %d = seq %d, want %d (newest first)", i, got[i], w)
		}
	}
	st, err := q.DeadStats(ctx)
	if err != nil || st.Count != 100 || st.Discarded != 0 {
		t.Errorf("stats = %+v, %v; want 100 kept, 0 discarded", st, err)
	}
}

// TestDeadRetention: past its caps DEAD drops the oldest letters, and
// DeadStats counts them apart from the retried and dropped ones.
func TestDeadRetention(t *testing.T) {
	t.Parallel()
	q, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: testLogger(t), CheckEvery: -1, DeadMaxMsgs: 100, DeadMaxAge: time.Hour, DeadMaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	seqs := deadLetters(t, q, 150)
	if len(seqs) != 100 || seqs[0] != 51 {
		t.Fatalf("kept %d letters from seq %d, want the newest 100", len(seqs), seqs[0])
	}
	if err := q.DropDead(t.Context(), seqs[10]); err != nil {
		t.Fatal(err)
	}
	if err := q.RetryDead(t.Context(), seqs[20]); err != nil {
		t.Fatal(err)
	}
	st, err := q.DeadStats(t.Context())
	if err != nil || st.Count != 98 || st.Discarded != 50 {
		t.Errorf("stats = %+v, %v; want 98 kept, 50 discarded", st, err)
	}
	info, err := q.dead.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxMsgs != 100 || c.MaxAge != time.Hour || c.MaxBytes != 1<<20 || c.Discard != 0 {
		t.Errorf("DEAD config = max msgs %d, age %s, bytes %d, discard %v", c.MaxMsgs, c.MaxAge, c.MaxBytes, c.Discard)
	}
}
