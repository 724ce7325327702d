package actions

import (
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// CallReport describes one SeaTable call the dispatcher made (or, in dry
// run, planned), for metrics.
type CallReport struct {
	Base  string
	Lane  seaflow.Lane
	Kind  seaflow.Kind
	Table string
	// Call is the client operation, e.g. "update rows", "upsert key lookup".
	Call string
	// Rows is the number of rows the call carried.
	Rows int
	// Status is "ok", "invalid", "rate_limited", "transient", "auth",
	// "permission", "error" or "dry_run".
	Status string
	// Err is the call's error, nil when Status is "ok" or "dry_run".
	Err error
	// Duration is the time the call took on the dispatcher's clock.
	Duration time.Duration
}

// status names an error's kind for CallReport.
func status(err error) string {
	if err == nil {
		return "ok"
	}
	switch seatable.KindOf(err) {
	case seatable.KindInvalid:
		return "invalid"
	case seatable.KindRateLimited:
		return "rate_limited"
	case seatable.KindTransient:
		return "transient"
	case seatable.KindAuth:
		return "auth"
	case seatable.KindPermission:
		return "permission"
	}
	return "error"
}

// Shares attributes a call carrying items (of a plan of ops) to the rules
// of their ops, in shares by ops: a call with three ops of rule a and one
// of rule b is ¾ a and ¼ b. Rules come in first-seen order; nil when the
// items carry no op.
func Shares(ops []seaflow.Op, items []Item) []seatable.Share {
	var (
		out   []seatable.Share
		total int
	)
	index := map[string]int{}
	for _, it := range items {
		for _, i := range it.Ops {
			rule := ops[i].Rule
			k, ok := index[rule]
			if !ok {
				k = len(out)
				index[rule] = k
				out = append(out, seatable.Share{Rule: rule})
			}
			out[k].Part++
			total++
		}
	}
	for k := range out {
		out[k].Part /= float64(total)
	}
	return out
}
