package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

// A for_each is queued work, not a query the runner waits for: the rule's
// event queues one query op (seaflow.KindQuery) in the rule's lane, the
// dispatcher reads each page of the SELECT as a budgeted call like any
// other, and hands the rows to a PageQueue, which stores them as page
// events (seaflow.Page) and queues the next page's op. The runner then
// evaluates the rule on each row of a page event. So a for_each waiting
// for budget holds up nothing but its own lane of its own base, and every
// page read is admitted and charged.

// PagePartRows is the most rows one page event carries: a page of 10,000
// rows is stored as ten events, each well below the stream's message limit.
const PagePartRows = 1000

// queryIDPart separates a query op's id from its event's and rule's.
const queryIDPart = "/query/"

// QueryOp returns the op that reads the first page of rule's for_each for
// ev. Its id is ev.ID/rule/query/0, so a redelivered event queues it once.
func QueryOp(rule *rules.Rule, ev *seaflow.Event, params []any, now time.Time) seaflow.Op {
	fe := rule.ForEach()
	at := *ev
	at.Redelivered = false
	return seaflow.Op{
		ID:        ev.ID + "/" + rule.Name + queryIDPart + "0",
		Kind:      seaflow.KindQuery,
		Base:      fe.Base,
		Lane:      rule.Priority,
		Rule:      rule.Name,
		EventID:   ev.ID,
		Depth:     ev.Depth,
		Statement: fe.SQL,
		Params:    params,
		Event:     &at,
		CreatedAt: now,
	}
}

// NextPage returns the op that reads the page after op's.
func NextPage(op seaflow.Op) seaflow.Op {
	next := op
	next.Offset = op.Offset + seatable.MaxSQLRows
	next.ID = strings.TrimSuffix(op.ID, strconv.Itoa(op.Offset)) + strconv.Itoa(next.Offset)
	next.Replay = false
	return next
}

// PageEvents returns the events that carry rows, the page query op read,
// to its rule: PagePartRows rows each, with ids op.ID/part, so a page read
// again stores nothing twice.
func PageEvents(op seaflow.Op, rows []seatable.Row) []seaflow.Event {
	if op.Event == nil || len(rows) == 0 {
		return nil
	}
	prefix := ""
	if i := strings.Index(op.ID, op.Event.ID+"/"+op.Rule+queryIDPart); i > 0 {
		prefix = op.ID[:i] // a replay's
	}
	var out []seaflow.Event
	for part, start := 0, 0; start < len(rows); part, start = part+1, start+PagePartRows {
		end := min(start+PagePartRows, len(rows))
		page := &seaflow.Page{Event: *op.Event, Rule: op.Rule, OpPrefix: prefix, Offset: op.Offset + start, Rows: rows[start:end]}
		out = append(out, seaflow.Event{
			ID:     op.ID + "/" + strconv.Itoa(part),
			Source: seaflow.SourceQuery,
			Name:   op.Rule,
			Time:   op.Event.Time,
			Rule:   op.Rule,
			Depth:  op.Event.Depth,
			Page:   page,
		})
	}
	return out
}

// EventStore stores events durably (*queue.Queue): StoreEvent returns once
// the event is stored, or was already.
type EventStore interface {
	StoreEvent(ctx context.Context, ev seaflow.Event) (duplicate bool, err error)
}

// PageQueue is the dispatcher's actions.Pages: it queues the next page's op
// first, then the rows as page events. In that order, the next page is read
// before any op the rows produce can change what it selects (the lane
// dispatches in queue order, and a query is a barrier for its table).
type PageQueue struct {
	Events EventStore
	Ops    Publisher
}

// Page queues what follows from rows, the page op read; more says whether
// a next page is to be read.
func (p PageQueue) Page(ctx context.Context, op seaflow.Op, rows []seatable.Row, more bool) error {
	if more {
		if err := p.Ops.PublishOps(ctx, []seaflow.Op{NextPage(op)}); err != nil {
			return fmt.Errorf("queue the next page of %s: %w", op.ID, err)
		}
	}
	for _, ev := range PageEvents(op, rows) {
		if _, err := p.Events.StoreEvent(ctx, ev); err != nil {
			return fmt.Errorf("store rows of %s: %w", op.ID, err)
		}
	}
	return nil
}

// evaluatePage runs a page event's rule on each of its rows.
func (r *Runner) evaluatePage(rs *rules.RuleSet, ev *seaflow.Event, tr *Trace) []seaflow.Op {
	p := ev.Page
	rt := RuleTrace{Rule: p.Rule}
	defer func() { tr.Rules = append(tr.Rules, rt) }()
	rule := rs.Rule(p.Rule)
	if rule == nil || rule.ForEach() == nil {
		rt.Stopped = fmt.Sprintf("the rule has no for_each any more: %d rows read for it are not evaluated", len(p.Rows))
		r.log.Warn().Str("rule", p.Rule).Str("event", ev.ID).Msg("for_each rows for a rule no longer in the config")
		return nil
	}
	now := r.now()
	var ops []seaflow.Op
	for _, item := range p.Rows {
		out, err := rule.Evaluate(&p.Event, item, now)
		if err != nil {
			if rt.Error == "" {
				rt.Error = err.Error()
				r.log.Warn().Err(err).Str("rule", rule.Name).Str("event", ev.ID).Msg("rule evaluation failed for a for_each row")
			}
			continue
		}
		rt.When = rt.When || out.When
		for _, op := range out.Ops {
			op.ID = p.OpPrefix + op.ID
			ops = append(ops, op)
		}
	}
	rt.Ops = len(ops)
	return ops
}
