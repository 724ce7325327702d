package query

import (
	"strconv"
	"strings"
)

// maxDepth bounds expression nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// reserved words cannot be bare identifiers; quote them with backticks.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"IN": true, "BETWEEN": true, "LIKE": true, "ILIKE": true, "IS": true, "NULL": true,
	"TRUE": true, "FALSE": true, "ORDER": true, "BY": true, "GROUP": true, "HAVING": true,
	"LIMIT": true, "OFFSET": true, "AS": true, "ASC": true, "DESC": true, "DISTINCT": true,
	"UPDATE": true, "SET": true, "DELETE": true, "INSERT": true, "INTO": true, "VALUES": true,
	"JOIN": true, "ON": true,
}

// Parse parses one SQL statement in SeaTable's dialect. A trailing semicolon
// is allowed. Every error is a *Error.
func Parse(sql string) (Statement, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	p := &parser{sql: sql, toks: toks}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	return st, nil
}

// parser is a recursive-descent parser over the token slice.
type parser struct {
	sql     string
	toks    []token
	i       int
	nParams int
	depth   int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// isKeyword reports whether t is the bare keyword kw (upper case).
func isKeyword(t token, kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

// acceptKeyword consumes the keyword kw if it is next.
func (p *parser) acceptKeyword(kw string) bool {
	if isKeyword(p.peek(), kw) {
		p.i++
		return true
	}
	return false
}

// acceptOp consumes the operator op if it is next.
func (p *parser) acceptOp(op string) bool {
	t := p.peek()
	if t.kind == tokOp && t.text == op {
		p.i++
		return true
	}
	return false
}

func (p *parser) errAt(t token, want string) *Error {
	if t.kind == tokEOF {
		return errorf("syntax error: expected %s at end of statement", want)
	}
	return errorf("syntax error: expected %s near %q at position %d", want, p.sql[t.pos:t.end], t.pos)
}

func (p *parser) expectKeyword(kw string) error {
	if !p.acceptKeyword(kw) {
		return p.errAt(p.peek(), kw)
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.errAt(p.peek(), "'"+op+"'")
	}
	return nil
}

// ident reads an identifier: a backtick-quoted name or a bare non-reserved word.
func (p *parser) ident(what string) (string, error) {
	t := p.peek()
	switch {
	case t.kind == tokQuoted:
		p.i++
		return t.text, nil
	case t.kind == tokIdent && !reserved[strings.ToUpper(t.text)]:
		p.i++
		return t.text, nil
	}
	return "", p.errAt(t, what)
}

func (p *parser) statement() (Statement, error) {
	t := p.peek()
	var st Statement
	var err error
	switch {
	case isKeyword(t, "SELECT"):
		st, err = p.selectStmt()
	case isKeyword(t, "UPDATE"):
		st, err = p.updateStmt()
	case isKeyword(t, "DELETE"):
		st, err = p.deleteStmt()
	case isKeyword(t, "INSERT"):
		return nil, errorf("INSERT is only supported for big data storage, which the emulator does not have")
	default:
		return nil, p.errAt(t, "SELECT, UPDATE or DELETE")
	}
	if err != nil {
		return nil, err
	}
	p.acceptOp(";")
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, "end of statement")
	}
	return st, nil
}

// tableName reads the FROM/UPDATE table and rejects joins.
func (p *parser) tableName() (string, error) {
	name, err := p.ident("table name")
	if err != nil {
		return "", err
	}
	if t := p.peek(); (t.kind == tokOp && t.text == ",") || isKeyword(t, "JOIN") {
		return "", errorf("joins are not supported by the emulator")
	}
	return name, nil
}

func (p *parser) selectStmt() (*selectStmt, error) {
	p.next() // SELECT
	s := &selectStmt{}
	s.distinct = p.acceptKeyword("DISTINCT")
	for {
		item, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		s.items = append(s.items, item)
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	var err error
	if s.table, err = p.tableName(); err != nil {
		return nil, err
	}
	if p.acceptKeyword("WHERE") {
		if s.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("GROUP") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.groupBy = append(s.groupBy, e)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("HAVING") {
		if s.having, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			item := orderItem{expr: e}
			if p.acceptKeyword("DESC") {
				item.desc = true
			} else {
				p.acceptKeyword("ASC")
			}
			s.orderBy = append(s.orderBy, item)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("LIMIT") {
		first, err := p.limitValue()
		if err != nil {
			return nil, err
		}
		if p.acceptOp(",") { // MySQL: LIMIT offset, count
			s.offset = first
			if s.limit, err = p.limitValue(); err != nil {
				return nil, err
			}
		} else {
			s.limit = first
		}
	}
	if p.acceptKeyword("OFFSET") {
		if s.offset != nil {
			return nil, errorf("syntax error: OFFSET given twice")
		}
		if s.offset, err = p.limitValue(); err != nil {
			return nil, err
		}
	}
	s.nParams = p.nParams
	return s, nil
}

// limitValue reads a LIMIT or OFFSET operand: a number or a placeholder.
func (p *parser) limitValue() (node, error) {
	t := p.peek()
	switch t.kind {
	case tokNumber:
		return p.primary()
	case tokParam:
		return p.primary()
	}
	return nil, p.errAt(t, "a number")
}

func (p *parser) selectItem() (selectItem, error) {
	if p.acceptOp("*") {
		return selectItem{star: true}, nil
	}
	start := p.peek().pos
	e, err := p.expr()
	if err != nil {
		return selectItem{}, err
	}
	item := selectItem{expr: e, text: strings.TrimSpace(p.sql[start:p.toks[p.i-1].end])}
	if p.acceptKeyword("AS") {
		if item.alias, err = p.aliasName(); err != nil {
			return selectItem{}, err
		}
	} else if t := p.peek(); t.kind == tokQuoted || (t.kind == tokIdent && !reserved[strings.ToUpper(t.text)]) {
		item.alias, _ = p.aliasName()
	}
	return item, nil
}

// aliasName reads an alias: an identifier or a string literal.
func (p *parser) aliasName() (string, error) {
	if t := p.peek(); t.kind == tokString {
		p.i++
		return t.text, nil
	}
	return p.ident("alias")
}

func (p *parser) updateStmt() (*updateStmt, error) {
	p.next() // UPDATE
	s := &updateStmt{}
	var err error
	if s.table, err = p.tableName(); err != nil {
		return nil, err
	}
	if err := p.expectKeyword("SET"); err != nil {
		return nil, err
	}
	for {
		col, err := p.columnName()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.sets = append(s.sets, setClause{col: col, expr: e})
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKeyword("WHERE") {
		if s.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	s.nParams = p.nParams
	return s, nil
}

// columnName reads a possibly table-qualified column name and drops the table.
func (p *parser) columnName() (string, error) {
	name, err := p.ident("column name")
	if err != nil {
		return "", err
	}
	if p.acceptOp(".") {
		return p.ident("column name")
	}
	return name, nil
}

func (p *parser) deleteStmt() (*deleteStmt, error) {
	p.next() // DELETE
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	s := &deleteStmt{}
	var err error
	if s.table, err = p.tableName(); err != nil {
		return nil, err
	}
	if p.acceptKeyword("WHERE") {
		if s.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	s.nParams = p.nParams
	return s, nil
}

// expr parses an expression: OR has the lowest precedence.
func (p *parser) expr() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errorf("syntax error: expression nested too deeply")
	}
	return p.or()
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{pos: join(l, r), op: "OR", l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("AND") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{pos: join(l, r), op: "AND", l: l, r: r}
	}
	return l, nil
}

func (p *parser) not() (node, error) {
	if t := p.peek(); isKeyword(t, "NOT") {
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errorf("syntax error: expression nested too deeply")
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		_, end := x.span()
		return &unaryNode{pos: pos{t.pos, end}, op: "NOT", x: x}, nil
	}
	return p.predicate()
}

var comparisons = map[string]bool{"=": true, "!=": true, "<>": true, "<": true, ">": true, "<=": true, ">=": true}

func (p *parser) predicate() (node, error) {
	x, err := p.additive()
	if err != nil {
		return nil, err
	}
	start, _ := x.span()
	t := p.peek()
	if t.kind == tokOp && comparisons[t.text] {
		p.i++
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		op := t.text
		if op == "<>" {
			op = "!="
		}
		return &binaryNode{pos: join(x, r), op: op, l: x, r: r}, nil
	}
	if isKeyword(t, "IS") {
		p.i++
		not := p.acceptKeyword("NOT")
		end := p.peek().end
		if err := p.expectKeyword("NULL"); err != nil {
			return nil, err
		}
		return &isNullNode{pos: pos{start, end}, x: x, not: not}, nil
	}
	not := false
	if isKeyword(t, "NOT") {
		if n := p.toks[p.i+1]; isKeyword(n, "IN") || isKeyword(n, "BETWEEN") || isKeyword(n, "LIKE") || isKeyword(n, "ILIKE") {
			p.i++
			not = true
			t = p.peek()
		}
	}
	switch {
	case isKeyword(t, "IN"):
		p.i++
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var list []node
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			if !p.acceptOp(",") {
				break
			}
		}
		end := p.peek().end
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return &inNode{pos: pos{start, end}, x: x, list: list, not: not}, nil
	case isKeyword(t, "BETWEEN"):
		p.i++
		lo, err := p.additive()
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("AND"); err != nil {
			return nil, err
		}
		hi, err := p.additive()
		if err != nil {
			return nil, err
		}
		_, end := hi.span()
		return &betweenNode{pos: pos{start, end}, x: x, lo: lo, hi: hi, not: not}, nil
	case isKeyword(t, "LIKE"), isKeyword(t, "ILIKE"):
		p.i++
		pat, err := p.additive()
		if err != nil {
			return nil, err
		}
		_, end := pat.span()
		return &likeNode{pos: pos{start, end}, x: x, pat: pat, not: not, fold: isKeyword(t, "ILIKE")}, nil
	}
	return x, nil
}

func (p *parser) additive() (node, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || (t.text != "+" && t.text != "-") {
			return l, nil
		}
		p.i++
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{pos: join(l, r), op: t.text, l: l, r: r}
	}
}

func (p *parser) multiplicative() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || (t.text != "*" && t.text != "/" && t.text != "%") {
			return l, nil
		}
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{pos: join(l, r), op: t.text, l: l, r: r}
	}
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	if t.kind == tokOp && (t.text == "-" || t.text == "+") {
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errorf("syntax error: expression nested too deeply")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		_, end := x.span()
		if lit, ok := x.(*litNode); ok {
			if f, ok := lit.val.(float64); ok {
				return &litNode{pos: pos{t.pos, end}, val: -f}, nil
			}
		}
		return &unaryNode{pos: pos{t.pos, end}, op: "-", x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	t := p.next()
	at := pos{t.pos, t.end}
	switch t.kind {
	case tokNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errorf("syntax error: bad number %q at position %d", t.text, t.pos)
		}
		return &litNode{pos: at, val: f}, nil
	case tokString:
		return &litNode{pos: at, val: t.text}, nil
	case tokParam:
		n := &paramNode{pos: at, idx: p.nParams}
		p.nParams++
		return n, nil
	case tokQuoted:
		return p.columnRef(t)
	case tokOp:
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
	case tokIdent:
		switch strings.ToUpper(t.text) {
		case "NULL":
			return &litNode{pos: at, val: nil}, nil
		case "TRUE":
			return &litNode{pos: at, val: true}, nil
		case "FALSE":
			return &litNode{pos: at, val: false}, nil
		}
		if p.acceptOp("(") {
			return p.call(t)
		}
		if reserved[strings.ToUpper(t.text)] {
			break
		}
		return p.columnRef(t)
	}
	p.i-- // report the offending token
	if t.kind == tokEOF {
		p.i++
	}
	return nil, p.errAt(t, "an expression")
}

// columnRef finishes a column reference whose first name token is t.
func (p *parser) columnRef(t token) (node, error) {
	if p.acceptOp(".") {
		name, err := p.ident("column name")
		if err != nil {
			return nil, err
		}
		return &colNode{pos: pos{t.pos, p.toks[p.i-1].end}, qual: t.text, name: name}, nil
	}
	return &colNode{pos: pos{t.pos, t.end}, name: t.text}, nil
}

// call parses the arguments of a function call after "name(".
func (p *parser) call(name token) (node, error) {
	c := &callNode{name: strings.ToUpper(name.text)}
	if p.acceptOp("*") {
		c.star = true
	} else if t := p.peek(); !(t.kind == tokOp && t.text == ")") {
		c.distinct = p.acceptKeyword("DISTINCT")
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, e)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	end := p.peek().end
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	c.pos = pos{name.pos, end}
	return c, nil
}

// join is the span covering a and b.
func join(a, b node) pos {
	s, _ := a.span()
	_, e := b.span()
	return pos{s, e}
}
