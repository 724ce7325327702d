package emulator

import "github.com/seaflow/seaflow"

// Plan names a set of SeaTable's published api-gateway limits per base.
// The table lives in the root package (seaflow.Plan), shared with the
// config's `plan:`, so seaflow and the emulator cannot disagree on what a
// plan allows.
type Plan = seaflow.Plan

// The plans: see seaflow.PlanLegacy, PlanServer and PlanCloud. Cloud's
// monthly team quota is Options.MonthlyQuota.
const (
	PlanLegacy = seaflow.PlanLegacy
	PlanServer = seaflow.PlanServer
	PlanCloud  = seaflow.PlanCloud
)

// Plans lists the plans by name.
var Plans = seaflow.Plans

// ParsePlan checks a plan name.
func ParsePlan(s string) (Plan, error) { return seaflow.ParsePlan(s) }

// PlanLimits returns the plan's rolling windows per base.
func PlanLimits(p Plan) []Limit { return limitsOf(p.Windows()) }

// limitsOf converts rolling windows to Limits; month windows have no
// rolling span and are left out (the emulator's month is MonthlyQuota).
func limitsOf(ws []seaflow.Window) []Limit {
	out := make([]Limit, 0, len(ws))
	for _, w := range ws {
		if !w.Month {
			out = append(out, Limit{Window: w.Span, Calls: w.Calls})
		}
	}
	return out
}
