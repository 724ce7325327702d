package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind is the lexical class of a token.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokIdent            // bare identifier or keyword
	tokQuoted           // `backtick identifier`
	tokString           // 'string'
	tokNumber           // 12, 1.5, 2e3
	tokParam            // ?
	tokOp               // punctuation and operators
)

// token is one lexeme; pos and end are byte offsets into the statement.
type token struct {
	kind     tokenKind
	text     string // identifier (unquoted), string value, number text or operator
	pos, end int
}

// lex splits sql into tokens, ending with a tokEOF token.
func lex(sql string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, errorf("syntax error: unterminated comment at position %d", i)
			}
			i += 2 + end + 2
		case c == '\'':
			s, n, err := lexString(sql, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i, end: n})
			i = n
		case c == '`':
			end := strings.IndexByte(sql[i+1:], '`')
			if end < 0 {
				return nil, errorf("syntax error: unterminated identifier at position %d", i)
			}
			name := sql[i+1 : i+1+end]
			if name == "" {
				return nil, errorf("syntax error: empty identifier at position %d", i)
			}
			toks = append(toks, token{kind: tokQuoted, text: name, pos: i, end: i + end + 2})
			i += end + 2
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			n := lexNumber(sql, i)
			toks = append(toks, token{kind: tokNumber, text: sql[i:n], pos: i, end: n})
			i = n
		case c == '?':
			toks = append(toks, token{kind: tokParam, text: "?", pos: i, end: i + 1})
			i++
		case isIdentStart(sql, i):
			n := i
			for n < len(sql) {
				r, size := utf8.DecodeRuneInString(sql[n:])
				if r != '_' && r != '$' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				n += size
			}
			toks = append(toks, token{kind: tokIdent, text: sql[i:n], pos: i, end: n})
			i = n
		default:
			op := ""
			for _, two := range []string{"<=", ">=", "<>", "!=", "=="} {
				if strings.HasPrefix(sql[i:], two) {
					op = two
					break
				}
			}
			if op == "" && strings.IndexByte("=<>(),*+-/%.;", c) >= 0 {
				op = sql[i : i+1]
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(sql[i:])
				return nil, errorf("syntax error: unexpected character %q at position %d", r, i)
			}
			if op == "==" {
				op = "="
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i, end: i + len(op)})
			i += len(op)
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(sql), end: len(sql)})
	return toks, nil
}

func isIdentStart(sql string, i int) bool {
	r, _ := utf8.DecodeRuneInString(sql[i:])
	return r == '_' || unicode.IsLetter(r)
}

// lexString reads a single-quoted string starting at the quote sql[i]; a
// doubled quote is one quote. It returns the value and the offset after it.
func lexString(sql string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for {
		k := strings.IndexByte(sql[j:], '\'')
		if k < 0 {
			return "", 0, errorf("syntax error: unterminated string at position %d", i)
		}
		b.WriteString(sql[j : j+k])
		j += k + 1
		if j < len(sql) && sql[j] == '\'' {
			b.WriteByte('\'')
			j++
			continue
		}
		return b.String(), j, nil
	}
}

// lexNumber returns the offset after the number starting at sql[i].
func lexNumber(sql string, i int) int {
	n := i
	digits := func() {
		for n < len(sql) && sql[n] >= '0' && sql[n] <= '9' {
			n++
		}
	}
	digits()
	if n < len(sql) && sql[n] == '.' {
		n++
		digits()
	}
	if n < len(sql) && (sql[n] == 'e' || sql[n] == 'E') {
		m := n + 1
		if m < len(sql) && (sql[m] == '+' || sql[m] == '-') {
			m++
		}
		if m < len(sql) && sql[m] >= '0' && sql[m] <= '9' {
			n = m
			digits()
		}
	}
	return n
}
