package rules

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
)

// DefaultWebhookBudgetShare is the budget_share of a webhook rule that sets
// none: half of each base's longest window. Webhook events arrive at a rate
// the config's author does not control (anyone holding a hook's token, a
// bulk edit or import in SeaTable, a sender stuck retrying), whereas cron
// rules run on a schedule the author chose and NATS rules on messages of
// the author's own systems, so those default to 1 (no cap of their own).
// Half still lets a lone webhook rule spend 2,500 calls a day at the
// default limits (up to 1,000 rows each), while a flood through one rule
// always leaves the other half to every other rule of the base.
const DefaultWebhookBudgetShare = 0.5

// share decodes a budget_share: a number x with 0 < x <= 1.
func (d *decoder) share(n *yaml.Node, field string) (float64, bool) {
	s, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		d.errorf(n, field, "%q is not a number (want a fraction like 0.2)", s)
		return 0, false
	case v <= 0 || v > 1:
		d.errorf(n, field, "%s is out of range (want a fraction 0 < x <= 1 of the base's longest window)", s)
		return 0, false
	}
	return v, true
}

// Rule returns the rule with the given name, or nil.
func (c *Config) Rule(name string) *Rule {
	if r, ok := c.rulesByName[name]; ok {
		return r
	}
	if c.rulesByName != nil {
		return nil
	}
	for _, r := range c.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// RuleLimits returns the budget of rule on base when the rule's
// budget_share caps it there: one window as long as the base's longest
// (a month window stays a month window) allowing ceil(share × its calls)
// calls, in every lane alike (no reserve, no bulk pacing: the base's own
// budget does that). It reports false when there is no such cap: an
// unknown rule or base, or a share of 1. It is what
// actions.DispatcherConfig.RuleShare wants.
func (c *Config) RuleLimits(base, rule string) (budget.Limits, bool) {
	r, b := c.Rule(rule), c.Bases[base]
	if r == nil || b == nil || r.BudgetShare <= 0 || r.BudgetShare >= 1 || len(b.Limits) == 0 {
		return budget.Limits{}, false
	}
	longest := b.Limits[seaflow.Longest(b.Limits)]
	return budget.Limits{
		Windows:      []seaflow.Window{{Span: longest.Span, Month: longest.Month, Calls: ShareOf(r.BudgetShare, longest.Calls)}},
		BulkSegments: 1,
	}, true
}

// ShareOf returns ceil(share × calls), at least 1, ignoring the float
// error of the product (0.7 × 100 is 70, not 71).
func ShareOf(share float64, calls int) int {
	v := share * float64(calls)
	if r := math.Round(v); math.Abs(v-r) < 1e-9*math.Max(1, v) {
		v = r
	}
	return max(int(math.Ceil(v)), 1)
}
