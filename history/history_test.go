package history

import "testing"

func TestFilter(t *testing.T) {
	t.Parallel()
	hook := Event{EventID: "w1", Source: "webhook", Base: "crm", Table: "Deals", RowID: "r1",
		Rules:   []Rule{{Rule: "stamp", When: true, Ops: 1}, {Rule: "notify"}},
		Targets: []Target{{Base: "crm", Table: "Deals", RowID: "r1"}, {Base: "crm", Table: "Log"}}}
	cron := Event{EventID: "c1", Source: "cron", Rules: []Rule{{Rule: "nightly", When: true, Ops: 2}},
		Targets: []Target{{Base: "hr", Table: "Tasks", RowID: "t9"}}}
	broken := Event{EventID: "n1", Source: "nats", Error: "decode message: bad JSON"}
	ruleErr := Event{EventID: "w2", Rules: []Rule{{Rule: "stamp", Error: "row.Stage: no such column"}}}
	echo := Event{EventID: "w3", Self: true, Base: "crm", Table: "Deals", RowID: "r1", Rules: []Rule{{Rule: "stamp"}}}
	for _, tc := range []struct {
		name string
		f    Filter
		e    Event
		dead bool
		want bool
	}{
		{"all but echoes", Filter{}, hook, false, true},
		{"echo left out", Filter{}, echo, false, false},
		{"echo asked for", Filter{Echoes: true}, echo, false, true},
		{"rule matched", Filter{Rule: "stamp"}, hook, false, true},
		{"rule evaluated, not matched", Filter{Rule: "notify"}, hook, false, false},
		{"rule failed", Filter{Rule: "stamp"}, ruleErr, false, true},
		{"base of the event", Filter{Base: "crm"}, hook, false, true},
		{"base of an op", Filter{Base: "hr"}, cron, false, true},
		{"table of an op", Filter{Table: "Log"}, hook, false, true},
		{"row of an op", Filter{Row: "t9", Base: "hr"}, cron, false, true},
		{"row and base from different targets", Filter{Row: "t9", Base: "crm"}, cron, false, false},
		{"other row", Filter{Row: "r2"}, hook, false, false},
		{"ok", Filter{Status: StatusOK}, hook, false, true},
		{"failed: event error", Filter{Status: StatusFailed}, broken, false, true},
		{"failed: rule error", Filter{Status: StatusFailed}, ruleErr, false, true},
		{"failed: dead op", Filter{Status: StatusFailed}, hook, true, true},
		{"not failed", Filter{Status: StatusFailed}, hook, false, false},
		{"unmatched", Filter{Status: StatusUnmatched}, Event{Rules: []Rule{{Rule: "x"}}}, false, true},
		{"stopped is unmatched", Filter{Status: StatusUnmatched}, Event{Rules: []Rule{{Rule: "x", When: true, Stopped: "loop breaker"}}}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(tc.e, tc.dead); got != tc.want {
				t.Errorf("%+v.Match(%s, dead %v) = %v, want %v", tc.f, tc.e.EventID, tc.dead, got, tc.want)
			}
		})
	}
}

func TestAddTarget(t *testing.T) {
	t.Parallel()
	var e Event
	for i := range 2 * MaxTargets {
		e.AddTarget(Target{Base: "crm", Table: "T", RowID: string(rune('a' + i%150))})
		e.AddTarget(Target{Base: "crm", Table: "T", RowID: string(rune('a' + i%150))})
	}
	if len(e.Targets) != MaxTargets {
		t.Errorf("%d targets, want at most %d, each once", len(e.Targets), MaxTargets)
	}
}
