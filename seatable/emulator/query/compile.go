package query

import (
	"math"
	"strings"
)

// row is what compiled expressions read: one table row or, in a grouped
// SELECT, a group's first row plus its aggregate results.
type row struct {
	id    string
	cells map[string]any
	aggs  []any
}

// evalFunc evaluates a compiled expression. It returns nil for NULL and
// unknown, bool, float64, string or a cell value.
type evalFunc func(r *row) any

// compiled is an expression ready to evaluate.
type compiled struct {
	fn       evalFunc
	typ      string  // result type hint: a column type, "number", "date", ""
	col      *Column // set for a plain column reference
	constant bool    // fn ignores the row
}

// compiler resolves names against one table and binds parameters.
type compiler struct {
	table  string
	cols   []Column
	byName map[string]int
	params []any
	now    string
	// aggsOK allows aggregate calls; inAgg is set inside one.
	aggsOK, inAgg bool
	// where names the clause for error messages about misplaced aggregates.
	where string
	aggs  []*aggSpec
	// aliases are the SELECT-list aliases HAVING and ORDER BY expressions
	// may use where no table column has the name.
	aliases map[string]compiled
}

func newCompiler(t Table, params []any, now string) *compiler {
	c := &compiler{table: t.Name(), params: params, now: now, byName: map[string]int{}}
	c.cols = append(c.cols, t.Columns()...)
	for _, sc := range SystemColumns {
		found := false
		for _, col := range c.cols {
			if col.Name == sc.Name {
				found = true
				break
			}
		}
		if !found {
			c.cols = append(c.cols, sc)
		}
	}
	for i, col := range c.cols {
		if _, dup := c.byName[col.Name]; !dup {
			c.byName[col.Name] = i
		}
	}
	return c
}

// column resolves a column name: exactly, else case-insensitively when
// exactly one column matches.
func (c *compiler) column(name string) (*Column, error) {
	if i, ok := c.byName[name]; ok {
		return &c.cols[i], nil
	}
	found := -1
	for i, col := range c.cols {
		if strings.EqualFold(col.Name, name) {
			if found >= 0 {
				return nil, errorf("column %q is ambiguous: quote it with its exact case", name)
			}
			found = i
		}
	}
	if found < 0 {
		return nil, errorf("column %q not found in table %q", name, c.table)
	}
	return &c.cols[found], nil
}

func isDateType(typ string) bool {
	return typ == "date" || typ == "ctime" || typ == "mtime"
}

// truth converts a value to three-valued truth: true, false or nil.
func truth(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		return x
	case string:
		b, _ := parseBool(x)
		return b
	}
	if f, ok := toFloat(v); ok {
		return f != 0
	}
	if isNull(v) {
		return nil
	}
	return true
}

func not3(v any) any {
	if v == nil {
		return nil
	}
	return !v.(bool)
}

func constant(v any, typ string) compiled {
	return compiled{fn: func(*row) any { return v }, typ: typ, constant: true}
}

func (c *compiler) compile(n node) (compiled, error) {
	switch n := n.(type) {
	case *litNode:
		return constant(n.val, literalType(n.val)), nil
	case *paramNode:
		v := c.params[n.idx]
		return constant(v, literalType(v)), nil
	case *colNode:
		return c.compileColumn(n)
	case *unaryNode:
		x, err := c.compile(n.x)
		if err != nil {
			return compiled{}, err
		}
		if n.op == "NOT" {
			return compiled{fn: func(r *row) any { return not3(truth(x.fn(r))) }, typ: "checkbox"}, nil
		}
		return compiled{fn: func(r *row) any {
			if f, ok := toFloat(x.fn(r)); ok {
				return -f
			}
			return nil
		}, typ: "number"}, nil
	case *binaryNode:
		return c.compileBinary(n)
	case *inNode:
		return c.compileIn(n)
	case *betweenNode:
		return c.compileBetween(n)
	case *likeNode:
		return c.compileLike(n)
	case *isNullNode:
		x, err := c.compile(n.x)
		if err != nil {
			return compiled{}, err
		}
		not := n.not
		return compiled{fn: func(r *row) any { return isNull(x.fn(r)) != not }, typ: "checkbox"}, nil
	case *callNode:
		return c.compileCall(n)
	}
	return compiled{}, errorf("unsupported expression")
}

func literalType(v any) string {
	switch v.(type) {
	case bool:
		return "checkbox"
	case string:
		return "text"
	case nil:
		return ""
	}
	if _, ok := toFloat(v); ok {
		return "number"
	}
	return ""
}

func (c *compiler) compileColumn(n *colNode) (compiled, error) {
	if n.qual != "" && n.qual != c.table && !strings.EqualFold(n.qual, c.table) {
		return compiled{}, errorf("table %q in column reference %s.%s is not in FROM", n.qual, n.qual, n.name)
	}
	col, err := c.column(n.name)
	if err != nil {
		if a, ok := c.aliases[n.name]; ok && n.qual == "" {
			return a, nil
		}
		return compiled{}, err
	}
	name := col.Name
	fn := func(r *row) any { return r.cells[name] }
	if name == ColumnID {
		fn = func(r *row) any {
			if v, ok := r.cells[ColumnID]; ok {
				return v
			}
			if r.id == "" {
				return nil
			}
			return r.id
		}
	}
	return compiled{fn: fn, typ: col.Type, col: col}, nil
}

func (c *compiler) compileBinary(n *binaryNode) (compiled, error) {
	l, err := c.compile(n.l)
	if err != nil {
		return compiled{}, err
	}
	r, err := c.compile(n.r)
	if err != nil {
		return compiled{}, err
	}
	lf, rf := l.fn, r.fn
	switch n.op {
	case "AND":
		return compiled{fn: func(x *row) any {
			a := truth(lf(x))
			if a == false {
				return false
			}
			b := truth(rf(x))
			if b == false {
				return false
			}
			if a == nil || b == nil {
				return nil
			}
			return true
		}, typ: "checkbox"}, nil
	case "OR":
		return compiled{fn: func(x *row) any {
			a := truth(lf(x))
			if a == true {
				return true
			}
			b := truth(rf(x))
			if b == true {
				return true
			}
			if a == nil || b == nil {
				return nil
			}
			return false
		}, typ: "checkbox"}, nil
	case "=", "!=", "<", ">", "<=", ">=":
		op := n.op
		dates := isDateType(l.typ) || isDateType(r.typ)
		return compiled{fn: func(x *row) any { return compareOp(op, lf(x), rf(x), dates) }, typ: "checkbox"}, nil
	case "+", "-", "*", "/", "%":
		op := n.op
		return compiled{fn: func(x *row) any {
			a, ok1 := toFloat(lf(x))
			b, ok2 := toFloat(rf(x))
			if !ok1 || !ok2 {
				return nil
			}
			return arith(op, a, b)
		}, typ: "number"}, nil
	}
	return compiled{}, errorf("unsupported operator %s", n.op)
}

// arith applies an arithmetic operator; division by zero is NULL.
func arith(op string, a, b float64) any {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		if b == 0 {
			return nil
		}
		return a / b
	case "%":
		if b == 0 {
			return nil
		}
		return math.Mod(a, b)
	}
	return nil
}

func (c *compiler) compileIn(n *inNode) (compiled, error) {
	x, err := c.compile(n.x)
	if err != nil {
		return compiled{}, err
	}
	dates := isDateType(x.typ)
	items := make([]evalFunc, len(n.list))
	for i, e := range n.list {
		it, err := c.compile(e)
		if err != nil {
			return compiled{}, err
		}
		items[i] = it.fn
		dates = dates || isDateType(it.typ)
	}
	not, xf := n.not, x.fn
	return compiled{fn: func(r *row) any {
		v := xf(r)
		if isNull(v) {
			return nil
		}
		var res any = false
		for _, it := range items {
			switch compareOp("=", v, it(r), dates) {
			case true:
				res = true
			case nil:
				res = nil
			}
			if res == true {
				break
			}
		}
		if not {
			return not3(res)
		}
		return res
	}, typ: "checkbox"}, nil
}

func (c *compiler) compileBetween(n *betweenNode) (compiled, error) {
	x, err := c.compile(n.x)
	if err != nil {
		return compiled{}, err
	}
	lo, err := c.compile(n.lo)
	if err != nil {
		return compiled{}, err
	}
	hi, err := c.compile(n.hi)
	if err != nil {
		return compiled{}, err
	}
	dates := isDateType(x.typ) || isDateType(lo.typ) || isDateType(hi.typ)
	not, xf, lof, hif := n.not, x.fn, lo.fn, hi.fn
	return compiled{fn: func(r *row) any {
		v := xf(r)
		ge := compareOp(">=", v, lof(r), dates)
		if ge == false {
			return not
		}
		le := compareOp("<=", v, hif(r), dates)
		if le == false {
			return not
		}
		if ge == nil || le == nil {
			return nil
		}
		return !not
	}, typ: "checkbox"}, nil
}

func (c *compiler) compileLike(n *likeNode) (compiled, error) {
	x, err := c.compile(n.x)
	if err != nil {
		return compiled{}, err
	}
	pat, err := c.compile(n.pat)
	if err != nil {
		return compiled{}, err
	}
	var fixed []likeElem
	if pat.constant {
		if s, ok := pat.fn(nil).(string); ok {
			fixed = compileLike(s)
		}
	}
	not, fold, xf, pf := n.not, n.fold, x.fn, pat.fn
	return compiled{fn: func(r *row) any {
		v := xf(r)
		if isNull(v) {
			return nil
		}
		elems := fixed
		if elems == nil {
			p := pf(r)
			if isNull(p) {
				return nil
			}
			elems = compileLike(formatValue(p))
		}
		var res bool
		if l, ok := asList(v); ok {
			for _, el := range l {
				if !isNull(el) && likeMatch(elems, likeText(el), fold) {
					res = true
					break
				}
			}
		} else {
			res = likeMatch(elems, likeText(v), fold)
		}
		return res != not
	}, typ: "checkbox"}, nil
}

func likeText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return formatValue(v)
}

func (c *compiler) compileCall(n *callNode) (compiled, error) {
	switch n.name {
	case "NOW":
		if len(n.args) != 0 || n.star {
			return compiled{}, errorf("now() takes no arguments")
		}
		return constant(c.now, "date"), nil
	case "COUNT", "SUM", "AVG", "MIN", "MAX":
		return c.compileAggregate(n)
	}
	return compiled{}, errorf("function %s is not supported by the emulator", strings.ToLower(n.name))
}
