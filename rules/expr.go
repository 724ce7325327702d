package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// Expression bounds. MaxNodes bounds the size of one expression at load
// (expr's own default is 10,000; a rule expression with more than 1,000
// nodes is a program, not a rule). MemoryBudget bounds what one evaluation
// may allocate in expr's VM (ranges, map/filter results), so that a
// hostile or mistaken expression fails for its event instead of stalling
// the daemon.
//
// MaxNesting bounds how deep brackets nest in one expression: parentheses,
// calls, arrays, maps and closures. Brackets are not nodes, so MaxNodes
// alone would let "((((…1…))))" of any depth reach the parser's recursion;
// a rule that needs more than 100 levels is a program, not a rule.
// Operator chains without brackets are bounded by MaxNodes.
const (
	MaxNodes     = 1000
	MaxNesting   = 100
	MemoryBudget = 100_000
)

// envKind selects the typed environment an expression is compiled for.
type envKind int

const (
	envWebhook envKind = iota
	envNATS
	envCron
	envCronItem
)

func (k envKind) names() string {
	switch k {
	case envWebhook:
		return "event, row, old, body"
	case envNATS:
		return "event, msg"
	case envCron:
		return "event"
	default:
		return "event, item"
	}
}

// eventEnv is `event` as expressions see it.
type eventEnv struct {
	ID     string    `expr:"id"`
	Source string    `expr:"source"`
	Name   string    `expr:"name"`
	Time   time.Time `expr:"time"`
	Base   string    `expr:"base"`
	OpType string    `expr:"op_type"`
	Table  string    `expr:"table"`
	RowID  string    `expr:"row_id"`
	OpUser string    `expr:"op_user"`
	Self   bool      `expr:"self"`
	Depth  int       `expr:"depth"`
	Rule   string    `expr:"rule"`
	// SelfColumns are the changed cells seaflow wrote (a mixed edit).
	SelfColumns []string `expr:"self_columns"`
	// BatchOpType is the batch op type SeaTable sent (modify_rows, …) when
	// the event reports the first row of a batch.
	BatchOpType string `expr:"batch_op_type"`
	// CaughtUp: the catch-up poll found the change (no old values).
	CaughtUp bool `expr:"caught_up"`
}

func newEventEnv(ev *seaflow.Event) eventEnv {
	return eventEnv{
		ID: ev.ID, Source: string(ev.Source), Name: ev.Name, Time: ev.Time,
		Base: ev.Base, OpType: ev.OpType, Table: ev.Table, RowID: ev.RowID,
		OpUser: ev.OpUser, Self: ev.Self, Depth: ev.Depth, Rule: ev.Rule,
		SelfColumns: ev.SelfColumns, BatchOpType: ev.BatchOpType, CaughtUp: ev.CaughtUp,
	}
}

// The typed environments, one per trigger kind. now is the injected clock.
type webhookEnv struct {
	Event eventEnv         `expr:"event"`
	Row   map[string]any   `expr:"row"`
	Old   map[string]any   `expr:"old"`
	Body  any              `expr:"body"`
	Now   func() time.Time `expr:"now"`
}

type natsEnv struct {
	Event eventEnv         `expr:"event"`
	Msg   any              `expr:"msg"`
	Now   func() time.Time `expr:"now"`
}

type cronEnv struct {
	Event eventEnv         `expr:"event"`
	Now   func() time.Time `expr:"now"`
}

type cronItemEnv struct {
	Event eventEnv         `expr:"event"`
	Item  map[string]any   `expr:"item"`
	Now   func() time.Time `expr:"now"`
}

// newEnv builds the environment of kind k for one evaluation.
func newEnv(k envKind, ev *seaflow.Event, item map[string]any, now time.Time) any {
	clock := func() time.Time { return now }
	e := newEventEnv(ev)
	switch k {
	case envWebhook:
		return &webhookEnv{Event: e, Row: ev.Row, Old: ev.Old, Body: ev.Body, Now: clock}
	case envNATS:
		return &natsEnv{Event: e, Msg: ev.Msg, Now: clock}
	case envCron:
		return &cronEnv{Event: e, Now: clock}
	default:
		return &cronItemEnv{Event: e, Item: item, Now: clock}
	}
}

func envPrototype(k envKind) any {
	switch k {
	case envWebhook:
		return &webhookEnv{}
	case envNATS:
		return &natsEnv{}
	case envCron:
		return &cronEnv{}
	default:
		return &cronItemEnv{}
	}
}

// helperOptions are the functions expressions may call besides expr's
// builtins (which include lower, upper, trim, date, duration, len, ...).
var helperOptions = []expr.Option{
	expr.Function("days", func(p ...any) (any, error) {
		return time.Duration(toFloat(p[0]) * float64(24*time.Hour)), nil
	}, new(func(int) time.Duration), new(func(float64) time.Duration)),
	expr.Function("hours", func(p ...any) (any, error) {
		return time.Duration(toFloat(p[0]) * float64(time.Hour)), nil
	}, new(func(int) time.Duration), new(func(float64) time.Duration)),
	expr.Function("addDays", func(p ...any) (any, error) {
		return p[0].(time.Time).AddDate(0, 0, p[1].(int)), nil
	}, new(func(time.Time, int) time.Time)),
	expr.Function("format", func(p ...any) (any, error) {
		return p[0].(time.Time).Format(p[1].(string)), nil
	}, new(func(time.Time, string) string)),
	expr.Function("toTime", func(p ...any) (any, error) {
		return toTime(p[0])
	}, new(func(any) time.Time)),
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

// toTime converts a time, or a date string as SeaTable writes them, to a time.
func toTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		if tt, ok := seatable.ParseDate(t); ok {
			return tt, nil
		}
		return time.Time{}, fmt.Errorf("toTime: %q is not a date", t)
	}
	return time.Time{}, fmt.Errorf("toTime: %T is not a date", v)
}

// compileExpr compiles src once for environment k. asBool requires a bool
// result (checked at load where the type is known, else at run time).
func compileExpr(src string, k envKind, asBool bool) (*vm.Program, error) {
	if err := checkNesting(src); err != nil {
		return nil, err
	}
	opts := make([]expr.Option, 0, len(helperOptions)+3)
	opts = append(opts, expr.Env(envPrototype(k)), expr.MaxNodes(MaxNodes))
	opts = append(opts, helperOptions...)
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	return expr.Compile(src, opts...)
}

// checkNesting refuses src when its brackets nest deeper than MaxNesting,
// before the parser recurses into them. Brackets inside string literals
// ("…", '…', `…`) do not count. The error is a *file.Error at the first
// bracket past the limit.
func checkNesting(src string) error {
	depth := 0
	var quote rune
	escaped := false
	for i, r := range []rune(src) {
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case r == '\\' && quote != '`':
				escaped = true
			case r == quote:
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			if depth++; depth > MaxNesting {
				e := &file.Error{Location: file.Location{From: i, To: i + 1},
					Message: fmt.Sprintf("expression nested deeper than %d levels", MaxNesting)}
				return e.Bind(file.NewSource(src))
			}
		case r == ')' || r == ']' || r == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// exprErrorAt splits a compile error into a message and the column offset
// of the problem inside the expression (0 when unknown).
func exprErrorAt(err error) (msg string, line, col int) {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message, fe.Line, fe.Column
	}
	msg = err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg, 0, 0
}

var vmPool = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: MemoryBudget} }}

// run evaluates a compiled program with the memory budget.
func run(p *vm.Program, env any) (any, error) {
	m := vmPool.Get().(*vm.VM)
	out, err := m.Run(p, env)
	vmPool.Put(m)
	if err != nil {
		msg, _, _ := exprErrorAt(err)
		return nil, errors.New(msg)
	}
	return out, nil
}

// value is an action field: a literal, an =expression, or a list or
// mapping of values.
type value struct {
	lit  any
	src  string // expression source, without the leading =
	prog *vm.Program
	list []*value
	keys []string // mapping keys in file order
	kpos []Pos    // where each key is written
	m    map[string]*value
	pos  Pos
}

// literalString returns the value when it is a literal string.
func (v *value) literalString() (string, bool) {
	if v == nil || v.prog != nil || v.list != nil || v.m != nil {
		return "", false
	}
	s, ok := v.lit.(string)
	return s, ok
}

// eval computes the value in env.
func (v *value) eval(env any) (any, error) {
	switch {
	case v.prog != nil:
		return run(v.prog, env)
	case v.m != nil:
		out := make(map[string]any, len(v.m))
		for _, k := range v.keys {
			x, err := v.m[k].eval(env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	case v.list != nil:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			x, err := e.eval(env)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	}
	return v.lit, nil
}

// itemKey identifies a for_each row in op ids: its _id, or else a short
// hash of its content so that replays still produce the same ids.
func itemKey(item map[string]any) string {
	if id, ok := item["_id"].(string); ok && id != "" {
		return id
	}
	b, _ := json.Marshal(item) // map keys are sorted: stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
