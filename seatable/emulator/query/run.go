package query

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Result caps of a SELECT, as SeaTable applies them.
const (
	// MaxResults is the most rows a SELECT returns, whatever its LIMIT.
	MaxResults = 10000
	// DefaultLimit is the number of rows a SELECT without LIMIT returns.
	DefaultLimit = 100
)

// nowLayout formats now() like SeaTable's ctime/mtime values.
const nowLayout = "2006-01-02T15:04:05.000-07:00"

// Result is the outcome of a statement.
type Result struct {
	// Columns describes every key of Rows, in SELECT-list order; nil for
	// UPDATE and DELETE.
	Columns []Column
	// Rows are the SELECT results keyed by Column.Name (the alias, the column
	// name, or the expression text such as "COUNT(*)").
	Rows []map[string]any
	// Affected is the number of rows an UPDATE or DELETE matched and changed.
	Affected int
	// Select is true for a SELECT.
	Select bool
}

// Options tune a run. The zero value is ready to use.
type Options struct {
	// Now returns the time now() evaluates to; nil means time.Now. It is
	// called once per statement.
	Now func() time.Time
}

// Run parses and runs one statement, binding params to its ? placeholders
// in order. User errors (syntax, unknown table or column, parameter count)
// are *Error; errors returned by Table.Update or Delete are wrapped.
func Run(cat Catalog, sql string, params []any) (*Result, error) {
	return RunWith(cat, sql, params, Options{})
}

// RunWith is Run with options.
func RunWith(cat Catalog, sql string, params []any, opts Options) (*Result, error) {
	st, err := Parse(sql)
	if err != nil {
		return nil, err
	}
	return Execute(cat, st, params, opts)
}

// Execute runs a parsed statement. It is safe for concurrent use as far as
// the Catalog and its Tables are.
func Execute(cat Catalog, st Statement, params []any, opts Options) (*Result, error) {
	if st == nil {
		return nil, errorf("empty statement")
	}
	if len(params) != st.NumParams() {
		return nil, errorf("statement has %d placeholders but %d parameters were given", st.NumParams(), len(params))
	}
	bound := make([]any, len(params))
	for i, p := range params {
		v, err := normalizeParam(p)
		if err != nil {
			return nil, errorf("parameter %d: %s", i+1, err.Error())
		}
		bound[i] = v
	}
	t, ok := cat.Table(st.TableName())
	if !ok {
		return nil, errorf("table %q not found", st.TableName())
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	c := newCompiler(t, bound, now().Format(nowLayout))
	switch s := st.(type) {
	case *selectStmt:
		return runSelect(t, c, s)
	case *updateStmt:
		return runUpdate(t, c, s)
	case *deleteStmt:
		return runDelete(t, c, s)
	}
	return nil, errorf("unsupported statement %s", st.Kind())
}

// normalizeParam turns a parameter into an engine value: numbers become
// float64; strings, bools, nil and lists pass through.
func normalizeParam(p any) (any, error) {
	switch x := p.(type) {
	case nil, string, bool, float64:
		return x, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", string(x))
		}
		return f, nil
	case time.Time:
		return x.Format(nowLayout), nil
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			v, err := normalizeParam(el)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = el
		}
		return out, nil
	}
	if f, ok := toFloat(p); ok {
		return f, nil
	}
	switch x := p.(type) {
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	}
	return nil, fmt.Errorf("unsupported type %T", p)
}

// runUpdate evaluates the SET expressions against each matching row as it
// was before the statement, then applies the changes after the scan.
func runUpdate(t Table, c *compiler, s *updateStmt) (*Result, error) {
	c.where = "WHERE"
	where, err := c.compileWhere(s.where)
	if err != nil {
		return nil, err
	}
	c.where = "SET"
	type assign struct {
		name string
		fn   evalFunc
	}
	sets := make([]assign, 0, len(s.sets))
	seen := map[string]bool{}
	for _, sc := range s.sets {
		col, err := c.column(sc.col)
		if err != nil {
			return nil, err
		}
		if isSystem(col.Name) {
			return nil, errorf("column %q is read-only", col.Name)
		}
		if seen[col.Name] {
			return nil, errorf("column %q is set twice", col.Name)
		}
		seen[col.Name] = true
		e, err := c.compile(sc.expr)
		if err != nil {
			return nil, err
		}
		sets = append(sets, assign{name: col.Name, fn: e.fn})
	}
	type change struct {
		id  string
		set map[string]any
	}
	var changes []change
	r := &row{}
	t.Scan(func(id string, cells map[string]any) bool {
		r.id, r.cells = id, cells
		if where != nil && truth(where(r)) != true {
			return true
		}
		set := make(map[string]any, len(sets))
		for _, a := range sets {
			set[a.name] = a.fn(r)
		}
		changes = append(changes, change{id: id, set: set})
		return true
	})
	res := &Result{}
	for _, ch := range changes {
		if err := t.Update(ch.id, ch.set); err != nil {
			return res, fmt.Errorf("update row %s: %w", ch.id, err)
		}
		res.Affected++
	}
	return res, nil
}

// runDelete collects the matching rows, then deletes them after the scan.
func runDelete(t Table, c *compiler, s *deleteStmt) (*Result, error) {
	c.where = "WHERE"
	where, err := c.compileWhere(s.where)
	if err != nil {
		return nil, err
	}
	var ids []string
	r := &row{}
	t.Scan(func(id string, cells map[string]any) bool {
		r.id, r.cells = id, cells
		if where == nil || truth(where(r)) == true {
			ids = append(ids, id)
		}
		return true
	})
	res := &Result{}
	for _, id := range ids {
		if err := t.Delete(id); err != nil {
			return res, fmt.Errorf("delete row %s: %w", id, err)
		}
		res.Affected++
	}
	return res, nil
}

// compileWhere compiles an optional condition; aggregates are refused.
func (c *compiler) compileWhere(n node) (evalFunc, error) {
	if n == nil {
		return nil, nil
	}
	c.aggsOK = false
	e, err := c.compile(n)
	if err != nil {
		return nil, err
	}
	return e.fn, nil
}
