package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// Rule is one compiled rule: a trigger, an optional when: condition, an
// optional for_each query and the row actions to run. Rules are built by
// Load and Parse, immutable afterwards, and safe for concurrent use.
type Rule struct {
	// Name is unique in the file; it appears in op ids and logs.
	Name string
	// On is the trigger as written.
	On Trigger
	// Priority is the lane of the rule's ops. Default: urgent for webhook
	// rules, normal for NATS rules, bulk for cron rules.
	Priority seaflow.Lane
	// OnSelf lets the rule fire for events caused by seaflow's own writes
	// (event.self). Default false: such events are skipped.
	OnSelf bool
	// MaxDepth, when > 0, is the rule's own limit on chain depth; 0 = the
	// runner's default.
	MaxDepth int
	// BudgetShare is the fraction (0 < x <= 1) of each base's longest
	// limit window the rule's calls may spend, on top of the base's own
	// limits: see Config.RuleLimits. Absent in the file =
	// DefaultWebhookBudgetShare (0.5) for webhook rules, 1 (no cap of its
	// own) for cron and NATS rules.
	BudgetShare float64
	// When is the source of the when: condition ("" = always).
	When string
	Pos

	kind     envKind
	index    int // position in the file, for match order
	when     *vm.Program
	forEach  *ForEach
	actions  []*action
	schedule *Schedule
	loc      *time.Location
}

// Trigger is the `on:` of a rule: exactly one of Webhook, NATS and Cron.
type Trigger struct {
	// Webhook is the name of a webhook in the config.
	Webhook string
	// NATS is a subject, which may use the * and > wildcards.
	NATS string
	// Cron is a standard 5-field spec or a descriptor (@hourly, @daily,
	// @every 10m, ...).
	Cron string
	// TZ is the time zone of Cron; default UTC.
	TZ string
	// CatchUp runs a schedule missed while seaflow was down, once, at start.
	CatchUp bool
}

// Source returns the trigger kind of the rule.
func (r *Rule) Source() seaflow.Source {
	switch {
	case r.On.Webhook != "":
		return seaflow.SourceWebhook
	case r.On.NATS != "":
		return seaflow.SourceNATS
	}
	return seaflow.SourceCron
}

// Lane returns the lane the rule's ops are dispatched in.
func (r *Rule) Lane() seaflow.Lane { return r.Priority }

// Calls reports whether the rule may make calls to base: one of its
// actions names it, or its for_each queries it.
func (r *Rule) Calls(base string) bool {
	if r.forEach != nil && r.forEach.Base == base {
		return true
	}
	for _, a := range r.actions {
		if a.base == base {
			return true
		}
	}
	return false
}

// Schedule returns the parsed cron schedule of a cron rule (in Location),
// or nil for other rules.
func (r *Rule) Schedule() *Schedule { return r.schedule }

// Location returns the time zone of a cron rule (UTC by default), or nil
// for other rules.
func (r *Rule) Location() *time.Location { return r.loc }

// ForEach returns the rule's for_each query, or nil.
func (r *Rule) ForEach() *ForEach { return r.forEach }

// ForEach is the query of a cron rule's for_each: the rows it returns are
// evaluated one by one as `item`.
type ForEach struct {
	// Base is the config name of the base to query.
	Base string
	// SQL is a SELECT statement with ? placeholders.
	SQL    string
	params []*value
	rule   *Rule
}

// Params evaluates the for_each params for ev, in placeholder order. They
// see event only, and now() is the event's (scheduled) time, so a replay
// runs the same query.
func (f *ForEach) Params(ev *seaflow.Event) ([]any, error) {
	if len(f.params) == 0 {
		return nil, nil
	}
	env := newEnv(envCron, ev, nil, ev.Time)
	out := make([]any, len(f.params))
	for i, p := range f.params {
		v, err := p.eval(env)
		if err != nil {
			return nil, fmt.Errorf("rule %q: for_each.params[%d]: %w", f.rule.Name, i, err)
		}
		out[i] = v
	}
	return out, nil
}

// action is one compiled row action of a rule's do: list.
type action struct {
	kind   seaflow.Kind
	field  string // e.g. "do[0].update", for errors
	base   string
	table  *value
	row    *value
	key    *value
	column *value
	values *value
	others *value
	dedupe string // append: the column that holds the op id
	// dedupePos is where dedupe_column is, for validate --online.
	dedupePos Pos
	sql       string
	params    []*value
}

// Outcome is what a rule produced for one event (and for_each item).
type Outcome struct {
	// When is the value of the rule's when: (true when it has none).
	When bool
	// Ops are the rule's actions, fully evaluated; empty when When is false.
	Ops []seaflow.Op
}

// Evaluate runs the rule on ev: its when: condition and, if true, every
// action. item is the for_each row (nil for rules without for_each); now is
// the clock expressions see as now(). Op ids are ev.ID/rule/index, plus
// /item-key for for_each rows, so a replay produces the same ids. An error
// (an expression that fails at run time, a value of the wrong type) is for
// this event only; no ops are returned with it.
func (r *Rule) Evaluate(ev *seaflow.Event, item map[string]any, now time.Time) (Outcome, error) {
	if r.kind == envCronItem {
		item = normalizeItem(item)
	}
	env := newEnv(r.kind, ev, item, now)
	if r.when != nil {
		out, err := run(r.when, env)
		if err != nil {
			return Outcome{}, fmt.Errorf("rule %q: when: %w", r.Name, err)
		}
		b, ok := out.(bool)
		if !ok {
			return Outcome{}, fmt.Errorf("rule %q: when: got %T, want bool", r.Name, out)
		}
		if !b {
			return Outcome{}, nil
		}
	}
	idPrefix := ev.ID + "/" + r.Name + "/"
	suffix := ""
	if r.kind == envCronItem {
		suffix = "/" + itemKey(item)
	}
	ops := make([]seaflow.Op, 0, len(r.actions))
	for i, a := range r.actions {
		op := seaflow.Op{
			ID:        idPrefix + strconv.Itoa(i) + suffix,
			Kind:      a.kind,
			Base:      a.base,
			Lane:      r.Priority,
			Rule:      r.Name,
			EventID:   ev.ID,
			Depth:     ev.Depth + 1,
			CreatedAt: now,
		}
		if err := a.fill(&op, env); err != nil {
			return Outcome{When: true}, fmt.Errorf("rule %q: %s.%w", r.Name, a.field, err)
		}
		ops = append(ops, op)
	}
	return Outcome{When: true, Ops: ops}, nil
}

// normalizeItem returns item with date strings (as SeaTable's SQL returns
// them) turned into times, so that `item.Due < now()` compares times, as
// row values of webhooks do. Other values are unchanged.
func normalizeItem(item map[string]any) map[string]any {
	var out map[string]any
	for k, v := range item {
		s, ok := v.(string)
		if !ok {
			continue
		}
		t, ok := seatable.ParseDate(s)
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(item))
			for k2, v2 := range item {
				out[k2] = v2
			}
		}
		out[k] = t
	}
	if out == nil {
		return item
	}
	return out
}

// fill evaluates the action's fields into op. Errors start with the field
// name, e.g. "row: got int, want a row id".
func (a *action) fill(op *seaflow.Op, env any) error {
	var err error
	if a.table != nil {
		if op.Table, err = evalString(a.table, env, "table"); err != nil {
			return err
		}
	}
	if a.row != nil {
		if op.RowID, err = evalString(a.row, env, "row"); err != nil {
			return err
		}
	}
	if a.key != nil {
		if op.Key, err = evalString(a.key, env, "key"); err != nil {
			return err
		}
	}
	if a.column != nil {
		if op.LinkColumn, err = evalString(a.column, env, "column"); err != nil {
			return err
		}
	}
	if a.values != nil {
		v, err := a.values.eval(env)
		if err != nil {
			return fmt.Errorf("values: %w", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("values: got %T, want a mapping of column to value", v)
		}
		op.Values = m
		if a.dedupe != "" {
			op.DedupeColumn = a.dedupe
			op.Values[a.dedupe] = op.ID
		}
		if a.kind == seaflow.KindUpsert {
			if _, ok := m[op.Key]; !ok {
				return fmt.Errorf("values: has no value for the key column %q", op.Key)
			}
		}
	}
	if a.others != nil {
		v, err := a.others.eval(env)
		if err != nil {
			return fmt.Errorf("other_rows: %w", err)
		}
		if op.OtherRowIDs, err = rowIDs(v); err != nil {
			return fmt.Errorf("other_rows: %w", err)
		}
	}
	if a.kind == seaflow.KindSQL {
		op.Statement = a.sql
		op.Params = make([]any, len(a.params))
		for i, p := range a.params {
			if op.Params[i], err = p.eval(env); err != nil {
				return fmt.Errorf("params[%d]: %w", i, err)
			}
		}
	}
	return nil
}

// evalString evaluates v and requires a non-empty string.
func evalString(v *value, env any, field string) (string, error) {
	x, err := v.eval(env)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	s, ok := x.(string)
	if !ok {
		return "", fmt.Errorf("%s: got %T, want a string", field, x)
	}
	if s == "" {
		return "", fmt.Errorf("%s: is empty", field)
	}
	return s, nil
}

// rowIDs turns a row id, a list of row ids, or a SeaTable link cell value
// ([{row_id, display_value}]) into row ids.
func rowIDs(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return []string{}, nil
	case string:
		return []string{x}, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			switch y := e.(type) {
			case string:
				out = append(out, y)
			case map[string]any:
				id, ok := y["row_id"].(string)
				if !ok {
					return nil, fmt.Errorf("[%d]: link value without row_id", i)
				}
				out = append(out, id)
			default:
				return nil, fmt.Errorf("[%d]: got %T, want a row id", i, e)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("got %T, want a row id or a list of row ids", v)
}
