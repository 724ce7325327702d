package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
)

// errRuleSpent stops a batch whose rule budget has no slot left.
var errRuleSpent = errors.New("rule budget spent")

// batchRules returns the distinct rules of the ops of b, in first-seen order.
func batchRules(ops []seaflow.Op, b Batch) []string {
	var rules []string
	for _, i := range b.Ops() {
		if r := ops[i].Rule; !slices.Contains(rules, r) {
			rules = append(rules, r)
		}
	}
	return rules
}

// chargeRules records one call in the budget of every capped rule of
// rules, or returns errRuleSpent (charging none of them in this process)
// when one has no slot now.
func (l *laneLoop) chargeRules(ctx context.Context, rules []string) error {
	rb := l.d.rules
	if rb == nil {
		return nil
	}
	var capped []string
	for _, r := range rules {
		if !rb.capped(l.base, r) {
			continue
		}
		next, err := rb.next(ctx, l.base, r, l.lane)
		if err != nil {
			return fmt.Errorf("rule %q budget: %w", r, err)
		}
		if next.After(l.now()) {
			return errRuleSpent
		}
		capped = append(capped, r)
	}
	for _, r := range capped {
		g, err := rb.reserve(ctx, l.base, r, l.lane)
		if err != nil {
			return fmt.Errorf("rule %q budget: %w", r, err)
		}
		if !g.OK {
			return errRuleSpent
		}
	}
	return nil
}

// ruleBudgets keeps the per-rule budgets of DispatcherConfig.RuleShare in
// a budget.Keeper of their own, keyed base+"/rule/"+rule.
type ruleBudgets struct {
	share  func(base, rule string) (budget.Limits, bool)
	keeper *budget.Keeper

	mu   sync.Mutex
	keys map[string][2]string // key → base, rule
}

func newRuleBudgets(share func(base, rule string) (budget.Limits, bool), store budget.Store, now func() time.Time) *ruleBudgets {
	rb := &ruleBudgets{share: share, keys: map[string][2]string{}}
	rb.keeper = budget.NewKeeper(store, rb.limits, now)
	return rb
}

// RuleBudgetKey is the budget key of a rule's own budget on a base.
func RuleBudgetKey(base, rule string) string { return base + "/rule/" + rule }

func (rb *ruleBudgets) key(base, rule string) string {
	k := RuleBudgetKey(base, rule)
	rb.mu.Lock()
	rb.keys[k] = [2]string{base, rule}
	rb.mu.Unlock()
	return k
}

// limits answers the keeper: the rule's share now, no limit when it has none.
func (rb *ruleBudgets) limits(key string) budget.Limits {
	rb.mu.Lock()
	br, ok := rb.keys[key]
	rb.mu.Unlock()
	if !ok {
		return budget.Limits{}
	}
	l, ok := rb.share(br[0], br[1])
	if !ok {
		return budget.Limits{}
	}
	return l
}

// capped reports whether rule has a budget of its own on base. Ops without
// a rule (replays of hand-made ops) never do.
func (rb *ruleBudgets) capped(base, rule string) bool {
	if rule == "" {
		return false
	}
	_, ok := rb.share(base, rule)
	return ok
}

func (rb *ruleBudgets) next(ctx context.Context, base, rule string, lane seaflow.Lane) (time.Time, error) {
	return rb.keeper.Next(ctx, rb.key(base, rule), lane)
}

func (rb *ruleBudgets) reserve(ctx context.Context, base, rule string, lane seaflow.Lane) (budget.Grant, error) {
	return rb.keeper.Reserve(ctx, rb.key(base, rule), lane)
}
