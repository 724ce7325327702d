package query

import (
	"maps"
	"slices"
	"strings"
)

// output is one column of a SELECT result.
type output struct {
	col Column
	fn  evalFunc
}

// sortKey is one compiled ORDER BY key: either an output (by alias) or an
// expression stored beside the outputs.
type sortKey struct {
	out   int // index into outputs, or -1
	extra int // index among the extra key values when out < 0
	fn    evalFunc
	desc  bool
	dates bool
}

// group is one GROUP BY group: its first row and its aggregate states.
type group struct {
	id     string
	first  map[string]any
	states []aggState
}

func runSelect(t Table, c *compiler, s *selectStmt) (*Result, error) {
	c.where = "WHERE"
	where, err := c.compileWhere(s.where)
	if err != nil {
		return nil, err
	}
	c.where = "GROUP BY"
	groupBy := make([]evalFunc, len(s.groupBy))
	for i, g := range s.groupBy {
		e, err := c.compile(g)
		if err != nil {
			return nil, err
		}
		groupBy[i] = e.fn
	}

	c.aggsOK = true
	outs, err := c.outputs(s.items)
	if err != nil {
		return nil, err
	}
	var having evalFunc
	if s.having != nil {
		e, err := c.compile(s.having)
		if err != nil {
			return nil, err
		}
		having = e.fn
	}
	keys, nExtra, err := c.sortKeys(s.orderBy, outs)
	if err != nil {
		return nil, err
	}
	offset, limit, err := c.window(s)
	if err != nil {
		return nil, err
	}

	grouped := len(groupBy) > 0 || len(c.aggs) > 0
	stride := len(outs) + nExtra
	var vals []any
	count := 0
	var seen map[string]struct{}
	var keyBuf []byte
	// emit evaluates the outputs and extra sort keys of r and keeps them,
	// reporting false once enough rows are kept.
	emit := func(r *row) bool {
		if having != nil && truth(having(r)) != true {
			return true
		}
		start := len(vals)
		for _, o := range outs {
			vals = append(vals, o.fn(r))
		}
		for _, k := range keys {
			if k.out < 0 {
				vals = append(vals, k.fn(r))
			}
		}
		if s.distinct {
			keyBuf = keyBuf[:0]
			for _, v := range vals[start : start+len(outs)] {
				keyBuf = appendKey(keyBuf, v)
			}
			if _, dup := seen[string(keyBuf)]; dup {
				clear(vals[start:])
				vals = vals[:start]
				return true
			}
			if seen == nil {
				seen = map[string]struct{}{}
			}
			seen[string(keyBuf)] = struct{}{}
		}
		count++
		return len(keys) > 0 || count < offset+limit
	}

	r := &row{}
	if !grouped {
		t.Scan(func(id string, cells map[string]any) bool {
			r.id, r.cells = id, cells
			if where != nil && truth(where(r)) != true {
				return true
			}
			return emit(r)
		})
	} else {
		groups := map[string]*group{}
		var order []*group
		var buf []byte
		t.Scan(func(id string, cells map[string]any) bool {
			r.id, r.cells = id, cells
			if where != nil && truth(where(r)) != true {
				return true
			}
			buf = buf[:0]
			for _, g := range groupBy {
				buf = appendKey(buf, g(r))
			}
			g := groups[string(buf)]
			if g == nil {
				g = &group{id: id, first: maps.Clone(cells), states: make([]aggState, len(c.aggs))}
				groups[string(buf)] = g
				order = append(order, g)
			}
			for i, a := range c.aggs {
				a.add(&g.states[i], r)
			}
			return true
		})
		if len(order) == 0 && len(groupBy) == 0 {
			order = append(order, &group{states: make([]aggState, len(c.aggs))})
		}
		for _, g := range order {
			r.id, r.cells = g.id, g.first
			r.aggs = make([]any, len(c.aggs))
			for i, a := range c.aggs {
				r.aggs[i] = a.result(&g.states[i])
			}
			if !emit(r) {
				break
			}
		}
	}

	idx := make([]int, count)
	for i := range idx {
		idx[i] = i
	}
	if len(keys) > 0 {
		slices.SortStableFunc(idx, func(a, b int) int {
			for _, k := range keys {
				pos := len(outs) + k.extra
				if k.out >= 0 {
					pos = k.out
				}
				c := orderCompare(vals[a*stride+pos], vals[b*stride+pos], k.dates)
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	idx = idx[min(offset, len(idx)):]
	idx = idx[:min(limit, len(idx))]

	res := &Result{Select: true, Columns: make([]Column, len(outs)), Rows: make([]map[string]any, len(idx))}
	for i, o := range outs {
		res.Columns[i] = o.col
	}
	for i, k := range idx {
		m := make(map[string]any, len(outs))
		for j, o := range outs {
			m[o.col.Name] = vals[k*stride+j]
		}
		res.Rows[i] = m
	}
	return res, nil
}

// outputs compiles the SELECT list; * expands to every column, the system
// columns last. It records the aliases for HAVING and ORDER BY.
func (c *compiler) outputs(items []selectItem) ([]output, error) {
	var outs []output
	for _, it := range items {
		if it.star {
			for i := range c.cols {
				col := c.cols[i]
				e, err := c.compileColumn(&colNode{name: col.Name})
				if err != nil {
					return nil, err
				}
				outs = append(outs, output{col: col, fn: e.fn})
			}
			continue
		}
		e, err := c.compile(it.expr)
		if err != nil {
			return nil, err
		}
		var col Column
		switch {
		case e.col != nil:
			col = *e.col
			if it.alias != "" {
				col.Name, col.Key = it.alias, it.alias
			}
		default:
			name := it.text
			if it.alias != "" {
				name = it.alias
			}
			col = Column{Name: name, Key: name, Type: e.typ}
		}
		outs = append(outs, output{col: col, fn: e.fn})
		if _, dup := c.aliases[it.alias]; it.alias != "" && !dup {
			if c.aliases == nil {
				c.aliases = map[string]compiled{}
			}
			c.aliases[it.alias] = e
		}
	}
	return outs, nil
}

// sortKeys compiles ORDER BY: a position (1-based) or a bare name that is an
// output alias sorts by that output; anything else is an expression over the
// row (or group).
func (c *compiler) sortKeys(items []orderItem, outs []output) ([]sortKey, int, error) {
	var keys []sortKey
	extra := 0
	for _, it := range items {
		if lit, ok := it.expr.(*litNode); ok {
			f, isNum := lit.val.(float64)
			if !isNum || f != float64(int(f)) || f < 1 || int(f) > len(outs) {
				return nil, 0, errorf("ORDER BY position %v is not in the select list", lit.val)
			}
			i := int(f) - 1
			keys = append(keys, sortKey{out: i, desc: it.desc, dates: isDateType(outs[i].col.Type)})
			continue
		}
		if cn, ok := it.expr.(*colNode); ok && cn.qual == "" {
			if i := findOutput(outs, cn.name); i >= 0 {
				keys = append(keys, sortKey{out: i, desc: it.desc, dates: isDateType(outs[i].col.Type)})
				continue
			}
		}
		e, err := c.compile(it.expr)
		if err != nil {
			return nil, 0, err
		}
		keys = append(keys, sortKey{out: -1, extra: extra, fn: e.fn, desc: it.desc, dates: isDateType(e.typ)})
		extra++
	}
	return keys, extra, nil
}

// findOutput returns the output named name (exactly, else ignoring case)
// when it is an alias, not a table column, or -1.
func findOutput(outs []output, name string) int {
	for _, exact := range []bool{true, false} {
		for i, o := range outs {
			if (exact && o.col.Name == name) || (!exact && strings.EqualFold(o.col.Name, name)) {
				return i
			}
		}
	}
	return -1
}

// window evaluates LIMIT and OFFSET and applies the caps.
func (c *compiler) window(s *selectStmt) (offset, limit int, err error) {
	limit = DefaultLimit
	if s.limit != nil {
		if limit, err = c.count(s.limit, "LIMIT"); err != nil {
			return 0, 0, err
		}
	}
	limit = min(limit, MaxResults)
	if s.offset != nil {
		if offset, err = c.count(s.offset, "OFFSET"); err != nil {
			return 0, 0, err
		}
	}
	return offset, limit, nil
}

// count evaluates a LIMIT or OFFSET operand to a non-negative integer.
func (c *compiler) count(n node, what string) (int, error) {
	e, err := c.compile(n)
	if err != nil {
		return 0, err
	}
	f, ok := toFloat(e.fn(nil))
	if !ok || f < 0 || f != float64(int64(f)) {
		return 0, errorf("%s must be a non-negative integer", what)
	}
	if f > 1<<40 {
		f = 1 << 40
	}
	return int(f), nil
}
