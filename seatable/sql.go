package seatable

import (
	"context"
	"strconv"
	"strings"
)

// MaxSQLRows is the most rows one SQL SELECT returns, whatever its LIMIT.
const MaxSQLRows = 10000

// SQLResult is the answer to one SQL statement. Rows are keyed by column
// name (aggregates by their expression, e.g. "COUNT(*)").
type SQLResult struct {
	Columns []Column
	Rows    []Row
}

type sqlRequest struct {
	SQL         string `json:"sql"`
	ConvertKeys bool   `json:"convert_keys"`
	Parameters  []any  `json:"parameters,omitempty"`
}

type sqlResponse struct {
	Success      *bool     `json:"success"`
	ErrorMessage string    `json:"error_message"`
	Metadata     []columnJ `json:"metadata"`
	Results      *[]Row    `json:"results"`
}

func (r *sqlResponse) validate() error {
	if r.Success != nil && !*r.Success {
		msg := r.ErrorMessage
		if msg == "" {
			msg = "SQL failed without a message"
		}
		return refusedError(msg)
	}
	if r.Success == nil && r.Results == nil {
		return errString("response has neither success nor results")
	}
	return nil
}

func (r *sqlResponse) rowCount() int {
	if r.Results == nil {
		return 0
	}
	return len(*r.Results)
}

// SQL runs one statement (POST /sql with convert_keys). params are bound
// to the statement's ? placeholders and sent as "parameters" when there
// are any: never paste values into the statement text. A SELECT returns
// at most MaxSQLRows rows (100 when it has no LIMIT); see QueryAll.
func (c *Client) SQL(ctx context.Context, query string, params []any) (*SQLResult, error) {
	const op = "sql"
	if strings.TrimSpace(query) == "" {
		return nil, invalidArg(op, "empty statement")
	}
	body := sqlRequest{SQL: query, ConvertKeys: true}
	if len(params) > 0 {
		body.Parameters = params
	}
	var out sqlResponse
	if err := c.do(ctx, request{op: op, method: "POST", endpoint: "/sql", body: body}, &out); err != nil {
		return nil, err
	}
	res := &SQLResult{}
	for _, col := range out.Metadata {
		res.Columns = append(res.Columns, col.column())
	}
	if out.Results != nil {
		res.Rows = *out.Results
	}
	return res, nil
}

// QueryAll runs a statement and returns all its rows. A SELECT without a
// LIMIT of its own is paged with "LIMIT 10000 OFFSET n" until a short
// page, one call per page (see PageStatement); give it an ORDER BY for a
// stable order across pages. Any other statement runs once.
func (c *Client) QueryAll(ctx context.Context, query string, params []any) ([]Row, error) {
	var all []Row
	for offset := 0; ; offset += MaxSQLRows {
		stmt, paged := PageStatement(query, offset)
		res, err := c.SQL(ctx, stmt, params)
		if err != nil {
			return nil, err
		}
		all = append(all, res.Rows...)
		if !paged || len(res.Rows) < MaxSQLRows {
			return all, nil
		}
	}
}

// PageStatement returns the statement that reads the MaxSQLRows rows of
// query starting at offset: query with "LIMIT 10000 OFFSET n" appended,
// paged true, when it is a single SELECT without a LIMIT of its own.
// Otherwise it returns query unchanged and paged false: it is read in one
// call.
func PageStatement(query string, offset int) (stmt string, paged bool) {
	stmt, pageable := pageableSelect(query)
	if !pageable {
		return query, false
	}
	return stmt + " LIMIT " + strconv.Itoa(MaxSQLRows) + " OFFSET " + strconv.Itoa(offset), true
}

// StatementTable returns the one table a SELECT, UPDATE or DELETE reads or
// writes, as SeaTable names it (backticks removed). ok is false when
// that cannot be told for sure: another kind of statement, a join, more
// than one table, a subquery, or text it cannot parse.
func StatementTable(query string) (table string, ok bool) {
	lower := strings.ToLower(query)
	if strings.Count(lower, "select") > 1 || strings.Count(lower, "from") > 1 {
		return "", false // a subquery may read another table
	}
	words, ok := topLevelWords(strings.TrimSpace(query))
	if !ok || len(words) < 2 {
		return "", false
	}
	at := -1
	switch strings.ToLower(words[0]) {
	case "select":
		for i, w := range words {
			if strings.EqualFold(w, "from") {
				at = i + 1
				break
			}
		}
	case "update":
		at = 1
	case "delete":
		if strings.EqualFold(words[1], "from") {
			at = 2
		}
	}
	if at < 1 || at >= len(words) {
		return "", false
	}
	name := words[at]
	if name == "," || name == ";" || keyword(name) {
		return "", false
	}
	rest := words[at+1:]
	switch {
	case len(rest) > 1 && strings.EqualFold(rest[0], "as"):
		rest = rest[2:] // an alias
	case len(rest) > 0 && rest[0] != "," && rest[0] != ";" && !keyword(rest[0]):
		rest = rest[1:] // a bare alias
	}
	if len(rest) > 0 && rest[0] == "," {
		return "", false // FROM a, b
	}
	for _, w := range rest {
		if w == ";" || strings.EqualFold(w, "join") || strings.EqualFold(w, "union") || strings.EqualFold(w, "from") {
			return "", false
		}
	}
	if strings.HasPrefix(name, "`") {
		name = strings.ReplaceAll(name[1:len(name)-1], "``", "`")
	}
	return name, true
}

// keyword reports whether w is an SQL word that cannot be a bare table
// name.
func keyword(w string) bool {
	switch strings.ToLower(w) {
	case "select", "from", "where", "set", "order", "group", "limit", "join", "as", "on", "union":
		return true
	}
	return false
}

// pageableSelect reports whether query is a single SELECT without a
// top-level LIMIT, and returns it without trailing semicolons and spaces.
// String literals ('...', "..."), backtick identifiers, comments and
// parenthesised parts are skipped when looking for keywords.
func pageableSelect(query string) (string, bool) {
	stmt := strings.TrimSpace(query)
	for strings.HasSuffix(stmt, ";") {
		stmt = strings.TrimSpace(strings.TrimSuffix(stmt, ";"))
	}
	words, ok := topLevelWords(stmt)
	if !ok || len(words) == 0 || !strings.EqualFold(words[0], "select") {
		return stmt, false
	}
	for _, w := range words {
		if strings.EqualFold(w, "limit") || w == ";" {
			return stmt, false
		}
	}
	return stmt, true
}

// topLevelWords returns the words of stmt outside quotes, comments and
// parentheses: each bare word as written, each backtick identifier with
// its backticks, and ";" and "," for each top-level semicolon and comma.
// Compare keywords without regard to case (strings.EqualFold). ok is
// false when a quote, comment or parenthesis is not closed, or a --
// comment runs to the end.
func topLevelWords(stmt string) (words []string, ok bool) {
	depth := 0
	for i := 0; i < len(stmt); {
		ch := stmt[i]
		switch {
		case ch == '\'' || ch == '"' || ch == '`':
			j := i + 1
			closed := false
			for j < len(stmt) {
				if stmt[j] == '\\' && ch != '`' {
					j += 2
					continue
				}
				if stmt[j] == ch {
					if j+1 < len(stmt) && stmt[j+1] == ch { // doubled quote
						j += 2
						continue
					}
					closed = true
					break
				}
				j++
			}
			if !closed {
				return nil, false
			}
			if ch == '`' && depth == 0 {
				words = append(words, stmt[i:j+1])
			}
			i = j + 1
		case ch == '-' && i+1 < len(stmt) && stmt[i+1] == '-':
			j := strings.IndexByte(stmt[i:], '\n')
			if j < 0 {
				// Anything appended would be commented out.
				return nil, false
			}
			i += j + 1
		case ch == '/' && i+1 < len(stmt) && stmt[i+1] == '*':
			j := strings.Index(stmt[i+2:], "*/")
			if j < 0 {
				return nil, false
			}
			i += j + 4
		case ch == '(':
			depth++
			i++
		case ch == ')':
			depth--
			if depth < 0 {
				return nil, false
			}
			i++
		case ch == ';' || ch == ',':
			if depth == 0 {
				words = append(words, string(ch))
			}
			i++
		case isWordByte(ch):
			j := i
			for j < len(stmt) && isWordByte(stmt[j]) {
				j++
			}
			if depth == 0 {
				words = append(words, stmt[i:j])
			}
			i = j
		default:
			i++
		}
	}
	return words, depth == 0
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}
