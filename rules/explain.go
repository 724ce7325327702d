package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/seaflow/seaflow"
)

// Step is one expression of an explanation and what it gives.
type Step struct {
	// Depth is 0 for the whole expression, 1 for its operands, and so on.
	Depth int
	// Expr is the (sub-)expression as expr prints it.
	Expr string
	// Value is what it evaluates to on its own; nil when Err is set.
	Value any
	// Err is why it could not be evaluated: an error of the expression, or
	// of a sub-expression the whole would have skipped (the right side of
	// a false &&).
	Err string
}

// Explain evaluates the expression src the way a rule of the event's kind
// evaluates it (the same typed environment, functions and bounds, now()
// returning now) and every sub-expression on its own, outermost first.
// item is the for_each row for a cron event, or nil. Literals, the
// environment's roots (event, row, msg, ...) and the insides of closures
// (filter(list, .x > 1)) are not listed. An expression that does not
// compile is an error.
func Explain(src string, ev *seaflow.Event, item map[string]any, now time.Time) ([]Step, error) {
	k, err := eventKind(ev, item)
	if err != nil {
		return nil, err
	}
	return explain(src, k, ev, item, now)
}

// Explain evaluates the rule's when: expression for ev, as Explain does.
// A rule without when: is an error.
func (r *Rule) Explain(ev *seaflow.Event, item map[string]any, now time.Time) ([]Step, error) {
	if r.When == "" {
		return nil, fmt.Errorf("rule %q has no when: (it fires on every event of its trigger)", r.Name)
	}
	if r.Source() != ev.Source {
		return nil, fmt.Errorf("rule %q is a %s rule, the event comes from %s", r.Name, r.Source(), ev.Source)
	}
	return explain(r.When, r.kind, ev, item, now)
}

// eventKind picks the environment an event's expressions see.
func eventKind(ev *seaflow.Event, item map[string]any) (envKind, error) {
	switch ev.Source {
	case seaflow.SourceWebhook:
		return envWebhook, nil
	case seaflow.SourceNATS:
		return envNATS, nil
	case seaflow.SourceCron:
		if item != nil {
			return envCronItem, nil
		}
		return envCron, nil
	}
	return 0, fmt.Errorf("event source %q is not webhook, nats or cron", ev.Source)
}

func explain(src string, k envKind, ev *seaflow.Event, item map[string]any, now time.Time) ([]Step, error) {
	if _, err := compileExpr(src, k, false); err != nil {
		msg, _, col := exprErrorAt(err)
		if col > 0 {
			return nil, fmt.Errorf("column %d: %s", col, msg)
		}
		return nil, errors.New(msg)
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	env := newEnv(k, ev, normalizeItem(item), now)
	var steps []Step
	var visit func(n ast.Node, depth int)
	visit = func(n ast.Node, depth int) {
		shown := depth == 0 || !hidden(n)
		if shown {
			s := Step{Depth: depth, Expr: n.String()}
			if depth == 0 {
				s.Expr = src
			}
			p, err := compileExpr(n.String(), k, false)
			if err == nil {
				s.Value, err = run(p, env)
			}
			if err != nil {
				s.Err, _, _ = exprErrorAt(err)
			}
			steps = append(steps, s)
			depth++
		}
		for _, c := range children(n) {
			visit(c, depth)
		}
	}
	visit(tree.Node, 0)
	return steps, nil
}

// hidden reports whether a node is not worth a line of its own: a literal,
// or a bare name of the environment.
func hidden(n ast.Node) bool {
	switch n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode,
		*ast.BytesNode, *ast.ConstantNode, *ast.IdentifierNode, *ast.PointerNode:
		return true
	}
	return false
}

// children lists the operands of n that can be evaluated on their own: not
// a closure's body (it refers to the element being tested), nor a let's
// body (it refers to the variable).
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.BinaryNode:
		return []ast.Node{n.Left, n.Right}
	case *ast.ChainNode:
		return children(n.Node)
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}
	case *ast.SliceNode:
		out := []ast.Node{n.Node}
		if n.From != nil {
			out = append(out, n.From)
		}
		if n.To != nil {
			out = append(out, n.To)
		}
		return out
	case *ast.CallNode:
		return n.Arguments
	case *ast.BuiltinNode:
		var out []ast.Node
		for _, a := range n.Arguments {
			if _, closure := a.(*ast.PredicateNode); !closure {
				out = append(out, a)
			}
		}
		return out
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value}
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}
	case *ast.ArrayNode:
		return n.Nodes
	case *ast.MapNode:
		var out []ast.Node
		for _, p := range n.Pairs {
			if pair, ok := p.(*ast.PairNode); ok {
				out = append(out, pair.Value)
			}
		}
		return out
	}
	return nil
}
