package rules

import (
	"strings"

	"github.com/seaflow/seaflow"
)

// RuleSet is the rules of a config indexed by trigger, so that matching an
// event costs the same with 5 rules or 5,000: a map lookup for webhooks and
// cron, a walk down a subject-token tree for NATS (wildcards included).
// A RuleSet is immutable and safe for concurrent use.
type RuleSet struct {
	rules   []*Rule
	webhook map[string][]*Rule
	cron    map[string][]*Rule
	nats    *subjectNode
}

// subjectNode is one token level of the NATS subject tree.
type subjectNode struct {
	children map[string]*subjectNode
	star     *subjectNode // "*": any one token
	rest     []*Rule      // ">": one or more further tokens
	rules    []*Rule      // the subject ends here
}

func newRuleSet(rules []*Rule) *RuleSet {
	rs := &RuleSet{
		rules:   rules,
		webhook: map[string][]*Rule{},
		cron:    map[string][]*Rule{},
		nats:    &subjectNode{},
	}
	for _, r := range rules {
		switch r.Source() {
		case seaflow.SourceWebhook:
			rs.webhook[r.On.Webhook] = append(rs.webhook[r.On.Webhook], r)
		case seaflow.SourceCron:
			rs.cron[r.Name] = append(rs.cron[r.Name], r)
		case seaflow.SourceNATS:
			rs.nats.add(strings.Split(r.On.NATS, "."), r)
		}
	}
	return rs
}

func (n *subjectNode) add(tokens []string, r *Rule) {
	for _, t := range tokens {
		switch t {
		case ">":
			n.rest = append(n.rest, r)
			return
		case "*":
			if n.star == nil {
				n.star = &subjectNode{}
			}
			n = n.star
		default:
			if n.children == nil {
				n.children = map[string]*subjectNode{}
			}
			c := n.children[t]
			if c == nil {
				c = &subjectNode{}
				n.children[t] = c
			}
			n = c
		}
	}
	n.rules = append(n.rules, r)
}

// match appends the rules whose subject matches tokens.
func (n *subjectNode) match(tokens []string, out []*Rule) []*Rule {
	if n == nil {
		return out
	}
	if len(tokens) == 0 {
		return append(out, n.rules...)
	}
	out = append(out, n.rest...)
	if c := n.children[tokens[0]]; c != nil {
		out = c.match(tokens[1:], out)
	}
	return n.star.match(tokens[1:], out)
}

// Rules returns every rule in file order. The slice must not be modified.
func (rs *RuleSet) Rules() []*Rule { return rs.rules }

// Rule returns the rule named name, nil when there is none.
func (rs *RuleSet) Rule(name string) *Rule {
	for _, r := range rs.rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Len returns the number of rules.
func (rs *RuleSet) Len() int { return len(rs.rules) }

// Match returns the rules triggered by ev: webhook rules by webhook name,
// NATS rules by subject (with wildcards), the cron rule named by ev.Rule.
// When ev.Self is set, only rules with on_self are returned. The slice must
// not be modified.
func (rs *RuleSet) Match(ev *seaflow.Event) []*Rule {
	var found []*Rule
	switch ev.Source {
	case seaflow.SourceWebhook:
		found = rs.webhook[ev.Name]
	case seaflow.SourceCron:
		name := ev.Rule
		if name == "" {
			name = ev.Name
		}
		found = rs.cron[name]
	case seaflow.SourceNATS:
		found = rs.nats.match(strings.Split(ev.Name, "."), nil)
		if len(found) > 1 {
			found = fileOrder(found)
		}
	}
	if !ev.Self || len(found) == 0 {
		return found
	}
	var self []*Rule
	for _, r := range found {
		if r.OnSelf {
			self = append(self, r)
		}
	}
	return self
}

// fileOrder sorts matched rules into file order (they come from several
// branches of the subject tree) without allocating for the common case.
func fileOrder(rs []*Rule) []*Rule {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].index < rs[j-1].index; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs
}

// NATSSubjects returns the distinct subjects NATS rules subscribe to, in
// file order.
func (rs *RuleSet) NATSSubjects() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs.rules {
		if s := r.On.NATS; s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// CronRules returns the cron rules in file order.
func (rs *RuleSet) CronRules() []*Rule {
	var out []*Rule
	for _, r := range rs.rules {
		if r.Source() == seaflow.SourceCron {
			out = append(out, r)
		}
	}
	return out
}
