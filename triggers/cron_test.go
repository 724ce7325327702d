package triggers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
)

type cronBundle struct {
	clock  *fakeClock
	sink   *memSink
	cursor *MemCursor
}

func setupCron(t *testing.T, now string, jobs ...CronJob) (*Cron, cronBundle) {
	t.Helper()
	b := cronBundle{clock: newFakeClock(utc(now)), sink: newMemSink(), cursor: &MemCursor{}}
	c, err := NewCron(scheduled(t, jobs...), b.sink, b.cursor, b.clock, zerolog.Nop())
	if err != nil {
		t.Fatalf("NewCron: %v", err)
	}
	return c, b
}

// scheduled gives each job the Schedule the config load would build from
// its Spec and TZ.
func scheduled(t *testing.T, jobs ...CronJob) []CronJob {
	t.Helper()
	out := make([]CronJob, len(jobs))
	for i, j := range jobs {
		s, err := rules.ParseSchedule(j.Spec, j.TZ)
		if err != nil {
			t.Fatalf("parse %q: %v", j.Spec, err)
		}
		j.Schedule = s
		out[i] = j
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// runCron runs c until the test ends (or stop is called) and checks that Run
// returns nil.
func runCron(t *testing.T, c *Cron) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(waitGuard):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func ids(evs []seaflow.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func takeIDs(t *testing.T, s *memSink, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = s.next(t).ID
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestCronDSTGapTick(t *testing.T) {
	t.Parallel()
	// 02:00 does not exist in Berlin on 2026-03-29: the job fires at the jump
	// (03:00 CEST = 01:00Z), then at 02:00 CEST the next day.
	c, b := setupCron(t, "2026-03-29T00:30:00Z", CronJob{Rule: "nightly", Spec: "0 2 * * *", TZ: mustLoc(t, "Europe/Berlin")})
	runCron(t, c)
	if d := b.clock.waitAfter(t); d != 30*time.Minute {
		t.Fatalf("first wait = %s, want 30m", d)
	}
	b.clock.Advance(30 * time.Minute)
	ev := b.sink.next(t)
	if ev.ID != "cron/nightly/2026-03-29T01:00:00Z" || ev.Source != seaflow.SourceCron || ev.Rule != "nightly" || !ev.Time.Equal(utc("2026-03-29T01:00:00Z")) {
		t.Fatalf("event = %+v", ev)
	}
	if d := b.clock.waitAfter(t); d != 23*time.Hour {
		t.Fatalf("second wait = %s, want 23h", d)
	}
}

func TestCronFiresEachTick(t *testing.T) {
	t.Parallel()
	c, b := setupCron(t, "2026-06-01T10:00:30Z", CronJob{Rule: "minutely", Spec: "* * * * *"})
	runCron(t, c)

	if d := b.clock.waitAfter(t); d != 30*time.Second {
		t.Fatalf("first wait = %s, want 30s", d)
	}
	b.clock.Advance(30 * time.Second)
	ev := b.sink.next(t)
	if ev.ID != "cron/minutely/2026-06-01T10:01:00Z" || ev.Source != seaflow.SourceCron || ev.Name != "minutely" || ev.Rule != "minutely" || !ev.Time.Equal(utc("2026-06-01T10:01:00Z")) {
		t.Fatalf("event = %+v", ev)
	}
	if d := b.clock.waitAfter(t); d != time.Minute {
		t.Fatalf("second wait = %s, want 1m", d)
	}
	if last, ok, _ := b.cursor.Last(context.Background(), "minutely"); !ok || !last.Equal(utc("2026-06-01T10:01:00Z")) {
		t.Fatalf("cursor = %s %v, want 10:01", last, ok)
	}
	b.clock.Advance(time.Minute)
	if got := b.sink.next(t).ID; got != "cron/minutely/2026-06-01T10:02:00Z" {
		t.Fatalf("second event id = %s", got)
	}
}

func TestCronZones(t *testing.T) {
	t.Parallel()
	// Two rules at 09:00 wall time in different zones fire at different instants.
	c, b := setupCron(t, "2026-06-01T06:00:00Z",
		CronJob{Rule: "berlin", Spec: "0 9 * * *", TZ: mustLoc(t, "Europe/Berlin")},
		CronJob{Rule: "london", Spec: "0 9 * * *", TZ: mustLoc(t, "Europe/London")},
	)
	runCron(t, c)
	if d := b.clock.waitAfter(t); d != time.Hour {
		t.Fatalf("first wait = %s, want 1h (09:00 CEST = 07:00Z)", d)
	}
	b.clock.Advance(time.Hour)
	if got := b.sink.next(t).ID; got != "cron/berlin/2026-06-01T07:00:00Z" {
		t.Fatalf("first event = %s", got)
	}
	if d := b.clock.waitAfter(t); d != time.Hour {
		t.Fatalf("second wait = %s, want 1h (09:00 BST = 08:00Z)", d)
	}
	b.clock.Advance(time.Hour)
	if got := b.sink.next(t).ID; got != "cron/london/2026-06-01T08:00:00Z" {
		t.Fatalf("second event = %s", got)
	}
}

func TestCronStart(t *testing.T) {
	t.Parallel()
	t.Run("catch up fires missed ticks in order", func(t *testing.T) {
		t.Parallel()
		c, b := setupCron(t, "2026-06-01T10:05:30Z", CronJob{Rule: "r", Spec: "* * * * *", CatchUp: true})
		_ = b.cursor.Save(context.Background(), "r", utc("2026-06-01T10:00:00Z"))
		runCron(t, c)
		got := takeIDs(t, b.sink, 5)
		want := []string{
			"cron/r/2026-06-01T10:01:00Z", "cron/r/2026-06-01T10:02:00Z", "cron/r/2026-06-01T10:03:00Z",
			"cron/r/2026-06-01T10:04:00Z", "cron/r/2026-06-01T10:05:00Z",
		}
		if !equalStrings(got, want) {
			t.Fatalf("ids = %v, want %v", got, want)
		}
		if d := b.clock.waitAfter(t); d != 30*time.Second {
			t.Fatalf("wait after catch-up = %s, want 30s", d)
		}
		if n := len(b.sink.all()); n != 5 {
			t.Fatalf("stored %d events, want 5", n)
		}
		if last, _, _ := b.cursor.Last(context.Background(), "r"); !last.Equal(utc("2026-06-01T10:05:00Z")) {
			t.Fatalf("cursor = %s, want 10:05", last)
		}
	})
	t.Run("without catch up missed ticks are skipped", func(t *testing.T) {
		t.Parallel()
		c, b := setupCron(t, "2026-06-01T10:05:30Z", CronJob{Rule: "r", Spec: "* * * * *"})
		_ = b.cursor.Save(context.Background(), "r", utc("2026-06-01T10:00:00Z"))
		runCron(t, c)
		if d := b.clock.waitAfter(t); d != 30*time.Second {
			t.Fatalf("first wait = %s, want 30s", d)
		}
		if evs := b.sink.all(); len(evs) != 0 {
			t.Fatalf("fired %v before the next tick", ids(evs))
		}
		b.clock.Advance(30 * time.Second)
		if got := b.sink.next(t).ID; got != "cron/r/2026-06-01T10:06:00Z" {
			t.Fatalf("first event = %s", got)
		}
	})
	t.Run("no cursor starts at the next tick", func(t *testing.T) {
		t.Parallel()
		c, b := setupCron(t, "2026-06-01T10:05:30Z", CronJob{Rule: "r", Spec: "0 * * * *", CatchUp: true})
		runCron(t, c)
		if d := b.clock.waitAfter(t); d != 54*time.Minute+30*time.Second {
			t.Fatalf("first wait = %s, want 54m30s", d)
		}
		if evs := b.sink.all(); len(evs) != 0 {
			t.Fatalf("fired %v without a cursor", ids(evs))
		}
	})
	t.Run("catch up is bounded to the newest ticks", func(t *testing.T) {
		t.Parallel()
		// 200 ticks missed (08:01 … 11:20): the newest MaxCatchUp fire.
		c, b := setupCron(t, "2026-06-01T11:20:30Z", CronJob{Rule: "r", Spec: "* * * * *", CatchUp: true})
		_ = b.cursor.Save(context.Background(), "r", utc("2026-06-01T08:00:00Z"))
		runCron(t, c)
		got := takeIDs(t, b.sink, MaxCatchUp)
		if got[0] != "cron/r/2026-06-01T09:41:00Z" || got[MaxCatchUp-1] != "cron/r/2026-06-01T11:20:00Z" {
			t.Fatalf("fired %s … %s, want 09:41 … 11:20", got[0], got[MaxCatchUp-1])
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("out of order: %s after %s", got[i], got[i-1])
			}
		}
		if d := b.clock.waitAfter(t); d != 30*time.Second {
			t.Fatalf("wait after catch-up = %s, want 30s", d)
		}
		if n := len(b.sink.all()); n != MaxCatchUp {
			t.Fatalf("stored %d events, want %d", n, MaxCatchUp)
		}
	})
}

func TestMissedTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		spec        string
		last, now   string
		n           int
		first, tail string
		truncated   bool
	}{
		{"few", "0 * * * *", "2026-06-01T10:00:00Z", "2026-06-01T13:30:00Z", 3, "2026-06-01T11:00:00Z", "2026-06-01T13:00:00Z", false},
		{"exactly the bound", "* * * * *", "2026-06-01T10:00:00Z", "2026-06-01T11:40:00Z", 100, "2026-06-01T10:01:00Z", "2026-06-01T11:40:00Z", false},
		{"hourly over ten days", "0 * * * *", "2026-06-01T00:00:00Z", "2026-06-11T00:00:00Z", 100, "2026-06-06T21:00:00Z", "2026-06-11T00:00:00Z", true},
		{"minutely over five years", "* * * * *", "2021-06-01T00:00:00Z", "2026-06-01T12:00:30Z", 100, "2026-06-01T10:21:00Z", "2026-06-01T12:00:00Z", true},
		{"none missed", "0 0 * * *", "2026-06-01T00:00:00Z", "2026-06-01T23:59:59Z", 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := rules.ParseSchedule(tt.spec, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			got, truncated := missedTicks(s, utc(tt.last), utc(tt.now))
			if len(got) != tt.n || truncated != tt.truncated {
				t.Fatalf("got %d ticks (truncated %v), want %d (%v)", len(got), truncated, tt.n, tt.truncated)
			}
			if tt.n > 0 && (!got[0].Equal(utc(tt.first)) || !got[len(got)-1].Equal(utc(tt.tail))) {
				t.Fatalf("ticks %s … %s, want %s … %s", got[0], got[len(got)-1], tt.first, tt.tail)
			}
		})
	}
}

func TestCronIDsStableAcrossInstances(t *testing.T) {
	t.Parallel()
	job := CronJob{Rule: "r", Spec: "*/10 * * * *", CatchUp: true}
	cursor := &MemCursor{}
	_ = cursor.Save(context.Background(), "r", utc("2026-06-01T10:00:00Z"))
	now := utc("2026-06-01T10:25:00Z")

	// Two replicas start from the same cursor at the same time: both fire
	// the missed ticks, with the same ids, so the stream keeps one of each.
	fire := func(cur Cursor) []string {
		clock, sink := newFakeClock(now), newMemSink()
		c, err := NewCron(scheduled(t, job), sink, cur, clock, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		stop := runCron(t, c)
		got := takeIDs(t, sink, 2)
		clock.waitAfter(t)
		stop()
		return got
	}
	copyCursor := &MemCursor{}
	_ = copyCursor.Save(context.Background(), "r", utc("2026-06-01T10:00:00Z"))
	a := fire(cursor)
	b := fire(copyCursor)
	want := []string{"cron/r/2026-06-01T10:10:00Z", "cron/r/2026-06-01T10:20:00Z"}
	if !equalStrings(a, want) || !equalStrings(b, want) {
		t.Fatalf("replica ids = %v and %v, want %v", a, b, want)
	}

	// A later instance over the saved cursor fires nothing twice: it waits
	// for 10:30 and fires that with the id the first would have used.
	clock, sink := newFakeClock(now), newMemSink()
	c, err := NewCron(scheduled(t, job), sink, cursor, clock, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	runCron(t, c)
	if d := clock.waitAfter(t); d != 5*time.Minute {
		t.Fatalf("restart wait = %s, want 5m", d)
	}
	if evs := sink.all(); len(evs) != 0 {
		t.Fatalf("restart fired again: %v", ids(evs))
	}
	clock.Advance(5 * time.Minute)
	if got := sink.next(t).ID; got != "cron/r/2026-06-01T10:30:00Z" {
		t.Fatalf("restart fired %s", got)
	}
}

func TestCronRetriesRefusedTick(t *testing.T) {
	t.Parallel()
	c, b := setupCron(t, "2026-06-01T10:00:30Z", CronJob{Rule: "r", Spec: "* * * * *"})
	b.sink.fail = 2
	runCron(t, c)
	b.clock.waitAfter(t)
	b.clock.Advance(30 * time.Second) // 10:01: refused
	if d := b.clock.waitAfter(t); d != time.Second {
		t.Fatalf("first retry wait = %s, want 1s", d)
	}
	if _, ok, _ := b.cursor.Last(context.Background(), "r"); ok {
		t.Fatal("cursor saved for a refused tick")
	}
	b.clock.Advance(time.Second) // refused again
	if d := b.clock.waitAfter(t); d != 2*time.Second {
		t.Fatalf("second retry wait = %s, want 2s", d)
	}
	b.clock.Advance(2 * time.Second) // stored
	if got := b.sink.next(t).ID; got != "cron/r/2026-06-01T10:01:00Z" {
		t.Fatalf("retried event id = %s", got)
	}
	if d := b.clock.waitAfter(t); d != 57*time.Second {
		t.Fatalf("wait after retry = %s, want 57s (to 10:02)", d)
	}
	if last, _, _ := b.cursor.Last(context.Background(), "r"); !last.Equal(utc("2026-06-01T10:01:00Z")) {
		t.Fatalf("cursor = %s", last)
	}
}

func TestCronUpdate(t *testing.T) {
	t.Parallel()
	c, b := setupCron(t, "2026-06-01T10:00:30Z",
		CronJob{Rule: "hourly", Spec: "0 * * * *"},
		CronJob{Rule: "kept", Spec: "*/2 * * * *"},
	)
	runCron(t, c)
	if d := b.clock.waitAfter(t); d != 90*time.Second {
		t.Fatalf("first wait = %s, want 90s (kept at 10:02)", d)
	}

	if err := c.Update([]CronJob{{Rule: "x", Spec: "nonsense"}}); err == nil || !strings.Contains(err.Error(), `"x"`) { // no schedule
		t.Fatalf("Update with a bad spec = %v, want an error naming the rule", err)
	}
	if err := c.Update(scheduled(t, CronJob{Rule: "kept", Spec: "*/2 * * * *"}, CronJob{Rule: "new", Spec: "* * * * *"})); err != nil {
		t.Fatal(err)
	}
	if d := b.clock.waitAfter(t); d != 30*time.Second {
		t.Fatalf("wait after update = %s, want 30s (new at 10:01)", d)
	}
	b.clock.Advance(90 * time.Second) // 10:02
	got := takeIDs(t, b.sink, 3)
	want := []string{"cron/new/2026-06-01T10:01:00Z", "cron/kept/2026-06-01T10:02:00Z", "cron/new/2026-06-01T10:02:00Z"}
	if !equalStrings(got, want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
	b.clock.waitAfter(t)
	for _, ev := range b.sink.all() {
		if ev.Rule == "hourly" {
			t.Fatalf("removed job fired: %s", ev.ID)
		}
	}
}

func TestNewCronErrors(t *testing.T) {
	t.Parallel()
	for name, jobs := range map[string][]CronJob{
		"bad spec":   {{Rule: "a", Spec: "* *"}},
		"duplicate":  {{Rule: "a", Spec: "@hourly"}, {Rule: "a", Spec: "@daily"}},
		"empty rule": {{Spec: "@hourly"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewCron(jobs, newMemSink(), &MemCursor{}, newFakeClock(time.Unix(0, 0)), zerolog.Nop()); err == nil {
				t.Fatal("NewCron succeeded")
			}
		})
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func TestManualCronEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))
	ev := ManualCronEvent("nightly", at)
	tick := CronEvent("nightly", at)
	if ev.ID != "cron/nightly/manual/2026-03-04T04:06:07.00000089Z" || ev.ID == tick.ID {
		t.Errorf("id %q (tick %q)", ev.ID, tick.ID)
	}
	if ev.Source != tick.Source || ev.Rule != "nightly" || ev.Name != "nightly" || !ev.Time.Equal(at) {
		t.Errorf("event %+v", ev)
	}
}
