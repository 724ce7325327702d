package seaflow

import "fmt"

// Lane is the priority class of a call. Each lane is drained by its own
// queue consumer and admitted by the budget under its own rules.
type Lane string

const (
	// Urgent work (webhook reactions) may spend the base's urgent reserve.
	Urgent Lane = "urgent"
	// Normal work (NATS reactions) may spend everything but the reserve.
	Normal Lane = "normal"
	// Bulk work (cron jobs, backfills) is paced across the longest window so
	// a backlog cannot drain it early and starve the rest of the window.
	Bulk Lane = "bulk"
)

// Lanes lists every lane, most urgent first.
var Lanes = []Lane{Urgent, Normal, Bulk}

// ParseLane turns a priority name from a rules file into a Lane.
func ParseLane(s string) (Lane, error) {
	switch Lane(s) {
	case Urgent, Normal, Bulk:
		return Lane(s), nil
	}
	return "", fmt.Errorf("unknown priority %q (want urgent, normal or bulk)", s)
}

// Below reports whether l is less urgent than other.
func (l Lane) Below(other Lane) bool { return l.rank() > other.rank() }

// rank is l's place in Lanes (0 most urgent); an unknown lane ranks last.
func (l Lane) rank() int {
	for i, x := range Lanes {
		if x == l {
			return i
		}
	}
	return len(Lanes)
}
