package rules

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"go.yaml.in/yaml/v3"
)

// CatchUp is a SeaTable webhook's catch-up poll: every Every, one SQL call
// per watched table for the rows whose _mtime moved, in the base's bulk
// budget, so changes SeaTable never delivered (it does not retry, and it
// disables a webhook after 5 failures) still reach the rules.
type CatchUp struct {
	// Every is the poll interval; default DefaultCatchUpEvery, at least
	// MinCatchUpEvery.
	Every time.Duration
	// Lag is how old a change must be before the poll looks at it, so the
	// webhook has had time to deliver it; default DefaultCatchUpLag.
	Lag time.Duration
	// Tables are the tables watched, as written in catch_up.tables, or,
	// without that key, the tables the webhook's rules name in their
	// when: (event.table == "Deals", event.table in [...]).
	Tables []string
	// Inferred is set when Tables come from the rules.
	Inferred bool
	Pos
	field string // its path in the file, for errors
}

// Defaults and bounds of catch_up.
const (
	// DefaultCatchUpEvery polls every five minutes: at most 288 calls a
	// day per watched table.
	DefaultCatchUpEvery = 5 * time.Minute
	// MinCatchUpEvery bounds how often a poll may spend a call.
	MinCatchUpEvery = 10 * time.Second
	// DefaultCatchUpLag leaves a minute for a webhook's delivery (SeaTable
	// waits up to 30 s for an answer).
	DefaultCatchUpLag = time.Minute
)

// CatchUps returns the webhooks that have a catch-up poll, in file order.
func (c *Config) CatchUps() []*WebhookConfig {
	var out []*WebhookConfig
	for _, w := range c.Webhooks {
		if w.SeaTable != nil && w.SeaTable.CatchUp != nil {
			out = append(out, w)
		}
	}
	return out
}

// catchUp decodes webhooks[i].seatable.catch_up; the tables are settled by
// catchUpTables once the rules are known.
func (d *decoder) catchUp(n *yaml.Node, field string) *CatchUp {
	cu := &CatchUp{Every: DefaultCatchUpEvery, Lag: DefaultCatchUpLag, Pos: d.pos(n), field: field}
	if isNull(resolve(n)) {
		return cu
	}
	f := d.fields(n, field, keyNames("webhooks.seatable.catch_up")...)
	if f == nil {
		return nil
	}
	if e, ok := f["every"]; ok {
		if v, ok := d.duration(e.val, field+".every"); ok {
			if v < MinCatchUpEvery {
				d.errorf(e.val, field+".every", "%s is too often (at least %s: each poll costs a call per table)", v, MinCatchUpEvery)
			} else {
				cu.Every = v
			}
		}
	}
	if e, ok := f["lag"]; ok {
		if v, ok := d.duration(e.val, field+".lag"); ok {
			cu.Lag = v
		}
	}
	if e, ok := f["tables"]; ok {
		cu.Tables = d.uniqueNames(e.val, field+".tables", "table", "is empty: list the tables to watch, or leave the key out to take them from the rules", func(t string) string {
			if strings.ContainsAny(t, "`\n") {
				return "table name " + strconv.Quote(t) + " cannot hold a backtick or a line break"
			}
			return ""
		})
		if cu.Tables == nil {
			cu.Tables = []string{}
		}
	}
	return cu
}

// duration decodes a non-negative Go duration.
func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 {
		d.errorf(n, field, "%q is not a duration like 30s or 5m", s)
		return 0, false
	}
	return v, true
}

// catchUpTables settles each catch-up's tables once the rules are
// decoded, and allows one catch-up per base (two would poll the same
// tables twice).
func (d *decoder) catchUpTables(cfg *Config) {
	byBase := map[string]string{}
	for _, w := range cfg.CatchUps() {
		cu := w.SeaTable.CatchUp
		if other, dup := byBase[w.SeaTable.Base]; dup {
			d.errAt(cu.Line, cu.Col, cu.field, "base %q is caught up by webhook %q already: one catch_up per base", w.SeaTable.Base, other)
			continue
		}
		byBase[w.SeaTable.Base] = w.Name
		if cu.Tables != nil {
			continue
		}
		tables := map[string]bool{}
		fires := 0
		for _, r := range cfg.Rules {
			if r.On.Webhook != w.Name {
				continue
			}
			fires++
			names, ok := whenTables(r.When)
			if !ok {
				d.errAt(cu.Line, cu.Col, cu.field,
					"cannot tell which tables to watch: rule %q fires on changes of any table (its when: names no event.table); list them in catch_up.tables", r.Name)
				continue
			}
			for _, t := range names {
				tables[t] = true
			}
		}
		if fires == 0 {
			d.errAt(cu.Line, cu.Col, cu.field, "no rule fires on webhook %q, so there is nothing to catch up; list the tables in catch_up.tables", w.Name)
		}
		cu.Inferred = true
		cu.Tables = []string{}
		for t := range tables {
			cu.Tables = append(cu.Tables, t)
		}
		sort.Strings(cu.Tables)
	}
}

// whenTables returns the tables a when: condition limits its rule to: ok
// is false when the condition may hold for a change of any table. It
// understands event.table == "T", "T" == event.table, event.table in
// ["T", …], and &&, || and parentheses over them; anything else may hold
// for any table.
func whenTables(src string) ([]string, bool) {
	if strings.TrimSpace(src) == "" {
		return nil, false
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, false
	}
	set, ok := tablesOf(tree.Node)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, true
}

func tablesOf(n ast.Node) (map[string]bool, bool) {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil, false
	}
	switch b.Operator {
	case "&&", "and":
		l, lok := tablesOf(b.Left)
		r, rok := tablesOf(b.Right)
		switch {
		case lok && rok:
			both := map[string]bool{}
			for t := range l {
				if r[t] {
					both[t] = true
				}
			}
			return both, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
		return nil, false
	case "||", "or":
		l, lok := tablesOf(b.Left)
		r, rok := tablesOf(b.Right)
		if !lok || !rok {
			return nil, false
		}
		for t := range r {
			l[t] = true
		}
		return l, true
	case "==":
		if isEventTable(b.Left) {
			if s, ok := b.Right.(*ast.StringNode); ok {
				return map[string]bool{s.Value: true}, true
			}
		}
		if isEventTable(b.Right) {
			if s, ok := b.Left.(*ast.StringNode); ok {
				return map[string]bool{s.Value: true}, true
			}
		}
	case "in":
		arr, ok := b.Right.(*ast.ArrayNode)
		if !isEventTable(b.Left) || !ok {
			return nil, false
		}
		set := map[string]bool{}
		for _, item := range arr.Nodes {
			s, ok := item.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			set[s.Value] = true
		}
		return set, true
	}
	return nil, false
}

// isEventTable reports whether n is event.table (or event["table"]).
func isEventTable(n ast.Node) bool {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, pok := m.Property.(*ast.StringNode)
	return ok && pok && id.Value == "event" && prop.Value == "table"
}
