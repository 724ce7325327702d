package main

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/history"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/runner"
)

// TestRecorderReplacesTheRecordOfARedeliveredEvent: an event handled
// again after a crash or a timeout (its trace says it may have been
// handled) is listed once, with its latest record; an event handled for
// the first time is recorded without reading the history.
func TestRecorderReplacesTheRecordOfARedeliveredEvent(t *testing.T) {
	t.Parallel()
	q, err := queue.Open(t.Context(), queue.Options{Dir: t.TempDir(), Logger: zerolog.Nop(), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	rec := newRecorder(q, zerolog.Nop(), func() time.Time { return at })
	rec.trace(runner.Trace{EventID: "wh-1", Source: "webhook", Name: "first", Time: at})
	rec.trace(runner.Trace{EventID: "wh-2", Source: "webhook", Name: "other", Time: at})
	rec.trace(runner.Trace{EventID: "wh-1", Source: "webhook", Name: "again", Time: at, Redelivered: true})
	page, err := q.History(t.Context(), history.Filter{}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range page.Items {
		got = append(got, it.Event.EventID+":"+it.Event.Name)
	}
	if len(got) != 2 || got[0] != "wh-1:again" || got[1] != "wh-2:other" {
		t.Errorf("history lists %v, want [wh-1:again wh-2:other]", got)
	}
}
