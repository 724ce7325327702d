package query

import "strings"

// aggSpec is one aggregate call of a grouped SELECT.
type aggSpec struct {
	kind     string   // COUNT, SUM, AVG, MIN, MAX
	arg      evalFunc // nil for COUNT(*)
	distinct bool
	dates    bool
}

// aggState accumulates one aggregate over one group.
type aggState struct {
	count int
	sum   float64
	best  any
	seen  map[string]struct{}
	buf   []byte
}

func (c *compiler) compileAggregate(n *callNode) (compiled, error) {
	if !c.aggsOK {
		return compiled{}, errorf("aggregate function %s is not allowed in %s", n.name, c.where)
	}
	if c.inAgg {
		return compiled{}, errorf("aggregate function %s cannot be nested", n.name)
	}
	spec := &aggSpec{kind: n.name, distinct: n.distinct}
	typ := "number"
	switch {
	case n.star && n.name != "COUNT":
		return compiled{}, errorf("%s(*) is not valid; only COUNT(*) is", n.name)
	case n.star:
	case len(n.args) != 1:
		return compiled{}, errorf("%s takes one argument", strings.ToLower(n.name))
	default:
		c.inAgg = true
		arg, err := c.compile(n.args[0])
		c.inAgg = false
		if err != nil {
			return compiled{}, err
		}
		spec.arg = arg.fn
		spec.dates = isDateType(arg.typ)
		if n.name == "MIN" || n.name == "MAX" {
			typ = arg.typ
		}
	}
	idx := len(c.aggs)
	c.aggs = append(c.aggs, spec)
	return compiled{fn: func(r *row) any {
		if idx < len(r.aggs) {
			return r.aggs[idx]
		}
		return nil
	}, typ: typ}, nil
}

// add folds one row into st.
func (s *aggSpec) add(st *aggState, r *row) {
	if s.arg == nil {
		st.count++
		return
	}
	v := s.arg(r)
	if isNull(v) {
		return
	}
	if s.distinct {
		st.buf = appendKey(st.buf[:0], v)
		if _, dup := st.seen[string(st.buf)]; dup {
			return
		}
		if st.seen == nil {
			st.seen = map[string]struct{}{}
		}
		st.seen[string(st.buf)] = struct{}{}
	}
	switch s.kind {
	case "COUNT":
		st.count++
	case "SUM", "AVG":
		if f, ok := toFloat(v); ok {
			st.sum += f
			st.count++
		}
	case "MIN":
		if st.count == 0 || orderCompare(v, st.best, s.dates) < 0 {
			st.best = v
		}
		st.count++
	case "MAX":
		if st.count == 0 || orderCompare(v, st.best, s.dates) > 0 {
			st.best = v
		}
		st.count++
	}
}

// result is the aggregate's value: COUNT is a number (0 for no rows), the
// others NULL when no non-null value was seen.
func (s *aggSpec) result(st *aggState) any {
	switch s.kind {
	case "COUNT":
		return float64(st.count)
	case "SUM":
		if st.count == 0 {
			return nil
		}
		return st.sum
	case "AVG":
		if st.count == 0 {
			return nil
		}
		return st.sum / float64(st.count)
	}
	if st.count == 0 {
		return nil
	}
	return st.best
}
