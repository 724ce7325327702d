package rules

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	// Berlin 2026: clocks go 02:00 CET → 03:00 CEST at 2026-03-29T01:00Z and
	// 03:00 CEST → 02:00 CET at 2026-10-25T01:00Z.
	tests := []struct {
		name string
		spec string
		loc  *time.Location
		from string
		want []string // successive ticks, UTC
	}{
		{
			name: "nil zone is UTC",
			spec: "0 2 * * *", loc: nil,
			from: "2026-06-01T02:00:00Z",
			want: []string{"2026-06-02T02:00:00Z", "2026-06-03T02:00:00Z"},
		},
		{
			name: "wall time kept across spring forward",
			spec: "0 9 * * *", loc: berlin,
			from: "2026-03-28T08:00:00Z", // 09:00 CET
			want: []string{"2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"},
		},
		{
			name: "nonexistent 02:00 fires at the jump",
			spec: "0 2 * * *", loc: berlin,
			from: "2026-03-28T01:00:00Z", // 02:00 CET
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"},
		},
		{
			name: "nonexistent 02:30 fires at the jump",
			spec: "30 2 * * *", loc: berlin,
			from: "2026-03-28T12:00:00Z",
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		},
		{
			name: "half-hourly through spring forward",
			spec: "*/30 * * * *", loc: berlin,
			from: "2026-03-29T00:00:00Z", // 01:00 CET
			want: []string{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"},
		},
		{
			name: "repeated 02:30 fires once",
			spec: "30 2 * * *", loc: berlin,
			from: "2026-10-24T00:30:00Z", // 02:30 CEST
			want: []string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		},
		{
			name: "half-hourly through fall back skips the repeated hour",
			spec: "*/30 * * * *", loc: berlin,
			from: "2026-10-25T00:00:00Z", // 02:00 CEST
			want: []string{"2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"},
		},
		{
			name: "descriptor in a zone",
			spec: "@daily", loc: mustLoc(t, "America/New_York"),
			from: "2026-03-07T05:00:00Z", // midnight EST
			want: []string{"2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"},
		},
		{
			name: "every is aligned to the epoch",
			spec: "@every 10m", loc: berlin,
			from: "2026-06-01T10:03:17Z",
			want: []string{"2026-06-01T10:10:00Z", "2026-06-01T10:20:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ParseSchedule(tt.spec, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			at := utc(tt.from)
			for i, w := range tt.want {
				got := s.Next(at)
				if !got.Equal(utc(w)) {
					t.Fatalf("tick %d after %s = %s (%s), want %s", i, at.UTC().Format(time.RFC3339), got.UTC().Format(time.RFC3339), got, w)
				}
				if tt.loc != nil && got.Location() != tt.loc {
					t.Errorf("tick %d in zone %s, want %s", i, got.Location(), tt.loc)
				}
				at = got
			}
		})
	}
}

func TestScheduleNeverFires(t *testing.T) {
	t.Parallel()
	s, err := ParseSchedule("0 0 30 2 *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(utc("2026-01-01T00:00:00Z")); !got.IsZero() {
		t.Fatalf("next of Feb 30 = %s, want zero", got)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"", "bad", "* * * *", "61 * * * *", "CRON_TZ=UTC 0 * * * *", "TZ=UTC 0 * * * *", "@every 500ms", "@sometimes"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseSchedule(spec, time.UTC); err == nil {
				t.Fatalf("ParseSchedule(%q) succeeded", spec)
			}
		})
	}
}
