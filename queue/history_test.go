package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/history"
)

// TestHistory: event records and op fates are kept across a restart, an
// op's latest fate replaces the earlier, a dead op marks its event failed,
// and pages list newest first by filter, echoes left out.
func TestHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Second)
	events := []history.Event{
		{EventID: "wh-1", Source: "webhook", Name: "crm-changes", Time: at, Base: "crm", Table: "Deals", RowID: "r1",
			Rules: []history.Rule{{Rule: "stamp", When: true, Ops: 2}}, Targets: []history.Target{{Base: "crm", Table: "Deals", RowID: "r1"}}},
		{EventID: "wh-2.echo", Source: "webhook", Name: "crm-changes", Time: at, Base: "crm", Table: "Deals", RowID: "r1", Self: true,
			Rules: []history.Rule{{Rule: "stamp"}}},
		{EventID: "cron-nightly", Source: "cron", Name: "nightly", Time: at, Rules: []history.Rule{{Rule: "nightly", When: true, Ops: 1}},
			Targets: []history.Target{{Base: "hr", Table: "Tasks", RowID: "t1"}}},
		{EventID: "nats-bad", Source: "nats", Name: "shop.orders", Time: at, Error: "decode message: bad JSON"},
	}
	for _, e := range events {
		if err := q.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	fate := func(ev, op, f string) history.Fate {
		return history.Fate{EventID: ev, OpID: op, Rule: "stamp", Kind: "update", Base: "crm", Table: "Deals", RowID: "r1", Fate: f, At: at,
			Values: map[string]any{"Stage": "Won"}}
	}
	if err := q.RecordFates(ctx, []history.Fate{fate("wh-1", "wh-1/stamp/0", history.FateQueued), fate("wh-1", "wh-1/stamp/1", history.FateQueued)}); err != nil {
		t.Fatal(err)
	}
	written := fate("wh-1", "wh-1/stamp/0", history.FateWritten)
	written.Call, written.CallRows = "update rows", 2
	dead := fate("wh-1", "wh-1/stamp/1", history.FateDead)
	dead.Reason = "column Stage not found"
	if err := q.RecordFates(ctx, []history.Fate{written, dead}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })

	t.Run("show", func(t *testing.T) {
		it, fates, total, err := q.HistoryEvent(ctx, "wh-1")
		if err != nil || it.Event.Base != "crm" || it.Status != history.StatusFailed || total != 2 || len(fates) != 2 {
			t.Fatalf("HistoryEvent = %+v, %d of %d fates, %v", it, len(fates), total, err)
		}
		got := map[string]history.Fate{}
		for _, f := range fates {
			got[f.OpID] = f
		}
		if f := got["wh-1/stamp/0"]; f.Fate != history.FateWritten || f.Call != "update rows" {
			t.Errorf("fate of op 0 = %+v", f)
		}
		if f := got["wh-1/stamp/1"]; f.Fate != history.FateDead || f.Reason != "column Stage not found" || f.Values["Stage"] != "Won" {
			t.Errorf("fate of op 1 = %+v", f)
		}
		if _, _, _, err := q.HistoryEvent(ctx, "nope"); !errors.Is(err, ErrNoHistory) {
			t.Errorf("unknown event: %v", err)
		}
	})

	ids := func(items []HistoryItem) string {
		var s []string
		for _, it := range items {
			s = append(s, it.Event.EventID+":"+it.Status)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		f    history.Filter
		want string
	}{
		{"newest first, no echoes", history.Filter{}, "nats-bad:failed cron-nightly:ok wh-1:failed"},
		{"with echoes", history.Filter{Echoes: true}, "nats-bad:failed cron-nightly:ok wh-2.echo:unmatched wh-1:failed"},
		{"failed", history.Filter{Status: history.StatusFailed}, "nats-bad:failed wh-1:failed"},
		{"rule", history.Filter{Rule: "nightly"}, "cron-nightly:ok"},
		{"row", history.Filter{Row: "r1"}, "wh-1:failed"},
		{"base of an op", history.Filter{Base: "hr"}, "cron-nightly:ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := q.History(ctx, tc.f, 0, 10)
			if err != nil || ids(page.Items) != tc.want || page.Next != 0 {
				t.Errorf("History(%+v) = %q next %d, %v; want %q", tc.f, ids(page.Items), page.Next, err, tc.want)
			}
			if hidden := page.HiddenEchoes; hidden != 1 && !tc.f.Echoes && tc.f.Row == "r1" || tc.f.Echoes && hidden != 0 {
				t.Errorf("History(%+v) hid %d echoes", tc.f, hidden)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var all []string
		before := uint64(0)
		for range 10 {
			page, err := q.History(ctx, history.Filter{Echoes: true}, before, 1)
			if err != nil {
				t.Fatal(err)
			}
			items, next := page.Items, page.Next
			if len(items) > 0 {
				all = append(all, ids(items))
			}
			if next == 0 {
				break
			}
			before = next
		}
		if got := strings.Join(all, " "); got != "nats-bad:failed cron-nightly:ok wh-2.echo:unmatched wh-1:failed" {
			t.Errorf("paged one by one: %s", got)
		}
	})
}

// TestHistoryFatesShareTheEventSubject: the fates of a 2,500-op event take
// three messages on its bucket's subject, each op's written fate
// supersedes its queued one, the fates of another event in the same bucket
// are not its own, and a redelivered event recorded again replaces its
// record.
func TestHistoryFatesShareTheEventSubject(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Second)
	if err := q.RecordEvent(ctx, history.Event{EventID: "cron-1", Source: "cron", Name: "nightly", Time: at}); err != nil {
		t.Fatal(err)
	}
	fates := make([]history.Fate, 2500)
	for i := range fates {
		fates[i] = history.Fate{EventID: "cron-1", OpID: fmt.Sprintf("cron-1/nightly/%d", i), Kind: "update", Base: "crm", Fate: history.FateQueued, At: at}
	}
	if err := q.RecordFates(ctx, fates); err != nil {
		t.Fatal(err)
	}
	info, err := q.history.Info(ctx, jetstream.WithSubjectFilter(historyPrefix+"fates.>"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects; len(got) != 1 || got[historyFatesSubject("cron-1")] != 3 {
		t.Fatalf("fate subjects %v, want one with 3 messages", got)
	}
	// Another event of the same bucket: its fates share the subject.
	other := sameBucket(t, "cron-1")
	if err := q.RecordEvent(ctx, history.Event{EventID: other, Source: "cron", Name: "nightly", Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := q.RecordFates(ctx, []history.Fate{{EventID: other, OpID: other + "/x", Kind: "update", Fate: history.FateQueued, At: at}}); err != nil {
		t.Fatal(err)
	}
	written := []history.Fate{fates[7], fates[2400]}
	for i := range written {
		written[i].Fate, written[i].Call = history.FateWritten, "update rows"
	}
	if err := q.RecordFates(ctx, written); err != nil {
		t.Fatal(err)
	}
	// A redelivered event recorded again replaces its record.
	if err := q.ReplaceEvent(ctx, history.Event{EventID: "cron-1", Source: "cron", Name: "again", Time: at}); err != nil {
		t.Fatal(err)
	}
	if page, err := q.History(ctx, history.Filter{}, 0, 10); err != nil || len(page.Items) != 2 {
		t.Fatalf("History lists %d records, %v; want the two", len(page.Items), err)
	}
	it, got, total, err := q.HistoryEvent(ctx, "cron-1")
	if err != nil || it.Event.Name != "again" || total != 2500 || len(got) != MaxFates {
		t.Fatalf("HistoryEvent: %q, %d fates of %d, %v; want the record again, %d of 2500", it.Event.Name, len(got), total, err, MaxFates)
	}
	if got[7].OpID != fates[7].OpID || got[7].Fate != history.FateWritten || got[8].Fate != history.FateQueued {
		t.Errorf("fates 7 and 8: %+v %+v", got[7], got[8])
	}
	if _, got, total, err := q.HistoryEvent(ctx, other); err != nil || total != 1 || got[0].OpID != other+"/x" {
		t.Errorf("HistoryEvent(%s): %+v of %d, %v; want its one fate", other, got, total, err)
	}
}

// sameBucket returns an event id other than id in id's history bucket.
func sameBucket(t *testing.T, id string) string {
	t.Helper()
	for i := range 1_000_000 {
		if other := fmt.Sprintf("ev-%d", i); historyBucket(other) == historyBucket(id) && other != id {
			return other
		}
	}
	t.Fatal("no other id in the bucket")
	return ""
}

// TestHistoryReadsTheLayoutOfEarlierVersions: a record and fates stored
// one subject per event (and per op) are still shown, and a redelivery
// recorded now replaces the earlier version's record.
func TestHistoryReadsTheLayoutOfEarlierVersions(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Second)
	record, _ := json.Marshal(history.Event{EventID: "wh-old", Source: "webhook", Name: "crm-changes", Time: at})
	if _, err := q.js.PublishMsg(ctx, &nats.Msg{Subject: legacyRecordSubject("wh-old"), Data: record, Header: rollup()}); err != nil {
		t.Fatal(err)
	}
	pack, _ := json.Marshal([]history.Fate{{EventID: "wh-old", OpID: "wh-old/a", Kind: "update", Fate: history.FateWritten, At: at}})
	one, _ := json.Marshal(history.Fate{EventID: "wh-old", OpID: "wh-old/b", Kind: "update", Fate: history.FateQueued, At: at})
	for subject, data := range map[string][]byte{legacyFatesSubject("wh-old"): pack, legacyFatesSubject("wh-old") + "." + Token("wh-old/b"): one} {
		if _, err := q.js.Publish(ctx, subject, data); err != nil {
			t.Fatal(err)
		}
	}
	it, fates, total, err := q.HistoryEvent(ctx, "wh-old")
	if err != nil || it.Event.Name != "crm-changes" || total != 2 || len(fates) != 2 {
		t.Fatalf("HistoryEvent = %+v, %+v of %d, %v", it, fates, total, err)
	}
	if err := q.ReplaceEvent(ctx, history.Event{EventID: "wh-old", Source: "webhook", Name: "again", Time: at}); err != nil {
		t.Fatal(err)
	}
	page, err := q.History(ctx, history.Filter{}, 0, 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].Event.Name != "again" {
		t.Fatalf("History = %+v, %v; want the new record alone", page.Items, err)
	}
}

// TestHistoryKeepsNoSubjectPerEvent: 20,000 events with a fate each take
// at most a subject per bucket for records and for fates (the server keeps
// an index entry in memory per subject: a subject per event grew it
// without bound), and each is still found.
func TestHistoryKeepsNoSubjectPerEvent(t *testing.T) {
	t.Parallel()
	q := setup(t)
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Second)
	const events = 20_000
	for i := range events {
		id := fmt.Sprintf("%032x", i)
		if err := q.RecordFates(ctx, []history.Fate{{EventID: id, OpID: id + "/0", Kind: "update", Fate: history.FateQueued, At: at}}); err != nil {
			t.Fatal(err)
		}
		if err := q.RecordEvent(ctx, history.Event{EventID: id, Source: "webhook", Name: "crm-changes", Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := q.history.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.NumSubjects; n > 2*historyBuckets {
		t.Errorf("%d events took %d subjects, want at most %d", events, n, 2*historyBuckets)
	}
	for _, i := range []int{0, 4321, events - 1} {
		id := fmt.Sprintf("%032x", i)
		it, fates, total, err := q.HistoryEvent(ctx, id)
		if err != nil || it.Event.EventID != id || total != 1 || fates[0].OpID != id+"/0" {
			t.Errorf("HistoryEvent(%s) = %+v, %+v of %d, %v", id, it, fates, total, err)
		}
	}
}
