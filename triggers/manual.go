package triggers

import (
	"time"

	"github.com/seaflow/seaflow"
)

// ManualCronEvent is the event of a cron rule fired by hand (`seaflow
// trigger RULE`) at time at. It matches the rule as a scheduled tick does,
// but its id is "cron/RULE/manual/TIME" (UTC, RFC 3339 with nanoseconds),
// so it never collides with a tick's id "cron/RULE/TIME", and two manual
// runs are two events.
func ManualCronEvent(rule string, at time.Time) seaflow.Event {
	ev := CronEvent(rule, at)
	ev.ID = "cron/" + rule + "/manual/" + at.UTC().Format(time.RFC3339Nano)
	ev.Time = at.UTC()
	return ev
}
