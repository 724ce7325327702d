package emulator

import (
	"fmt"
	"time"
)

// Plan names a set of SeaTable's published api-gateway limits per base.
type Plan string

// The plans. LIM-new (the current limits page) gives 200/min on SeaTable
// Cloud and 500/min on a self-hosted server, no daily window, and a
// monthly quota per Cloud team whose numbers are not public [?]; LIM-old
// gave 300/min and 5,000 per rolling 24 hours, the figures seaflow was
// specified against.
const (
	// PlanLegacy is 300 calls per rolling minute and 5,000 per rolling 24
	// hours per base: DefaultLimits, and the default plan.
	PlanLegacy Plan = "legacy"
	// PlanServer is a self-hosted server's 500 per rolling minute.
	PlanServer Plan = "server"
	// PlanCloud is SeaTable Cloud's 200 per rolling minute; its monthly
	// team quota is Options.MonthlyQuota.
	PlanCloud Plan = "cloud"
)

// Plans lists the plans by name.
var Plans = []Plan{PlanLegacy, PlanServer, PlanCloud}

// ParsePlan checks a plan name.
func ParsePlan(s string) (Plan, error) {
	for _, p := range Plans {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("plan %q is not legacy, server or cloud", s)
}

// Limits returns the plan's rolling windows per base.
func (p Plan) Limits() []Limit {
	switch p {
	case PlanServer:
		return []Limit{{Window: time.Minute, Calls: 500}}
	case PlanCloud:
		return []Limit{{Window: time.Minute, Calls: 200}}
	}
	return append([]Limit(nil), DefaultLimits...)
}
