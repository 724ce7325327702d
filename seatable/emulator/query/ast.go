package query

// Statement is a parsed SQL statement. Parse returns one; Execute runs it.
// A Statement is immutable and safe to execute concurrently.
type Statement interface {
	// Kind returns "SELECT", "UPDATE" or "DELETE".
	Kind() string
	// TableName returns the table the statement names, as written.
	TableName() string
	// NumParams returns the number of ? placeholders.
	NumParams() int
}

// node is an expression in the parse tree.
type node interface{ span() (int, int) }

// pos is the byte range of a node in the statement text.
type pos struct{ start, end int }

func (p pos) span() (int, int) { return p.start, p.end }

type (
	// litNode is a number, string, TRUE, FALSE or NULL literal.
	litNode struct {
		pos
		val any
	}
	// paramNode is the idx-th ? placeholder (0-based).
	paramNode struct {
		pos
		idx int
	}
	// colNode is a column reference, optionally qualified by a table name.
	colNode struct {
		pos
		qual, name string
	}
	// unaryNode is NOT x or -x.
	unaryNode struct {
		pos
		op string
		x  node
	}
	// binaryNode is AND, OR, a comparison or arithmetic.
	binaryNode struct {
		pos
		op   string
		l, r node
	}
	// inNode is x [NOT] IN (list).
	inNode struct {
		pos
		x    node
		list []node
		not  bool
	}
	// betweenNode is x [NOT] BETWEEN lo AND hi.
	betweenNode struct {
		pos
		x, lo, hi node
		not       bool
	}
	// likeNode is x [NOT] LIKE|ILIKE pat.
	likeNode struct {
		pos
		x, pat    node
		not, fold bool
	}
	// isNullNode is x IS [NOT] NULL.
	isNullNode struct {
		pos
		x   node
		not bool
	}
	// callNode is a function call; name is upper case. star marks COUNT(*).
	callNode struct {
		pos
		name     string
		args     []node
		star     bool
		distinct bool
	}
)

// selectItem is one entry of the SELECT list.
type selectItem struct {
	star  bool // * (expr and alias unused)
	expr  node
	alias string
	text  string // the expression as written
}

// orderItem is one ORDER BY key.
type orderItem struct {
	expr node
	desc bool
}

// selectStmt is a parsed SELECT.
type selectStmt struct {
	distinct bool
	items    []selectItem
	table    string
	where    node
	groupBy  []node
	having   node
	orderBy  []orderItem
	limit    node // nil when absent
	offset   node // nil when absent
	nParams  int
}

// setClause is one col = expr of an UPDATE.
type setClause struct {
	col  string
	expr node
}

// updateStmt is a parsed UPDATE.
type updateStmt struct {
	table   string
	sets    []setClause
	where   node
	nParams int
}

// deleteStmt is a parsed DELETE.
type deleteStmt struct {
	table   string
	where   node
	nParams int
}

func (s *selectStmt) Kind() string      { return "SELECT" }
func (s *selectStmt) TableName() string { return s.table }
func (s *selectStmt) NumParams() int    { return s.nParams }
func (s *updateStmt) Kind() string      { return "UPDATE" }
func (s *updateStmt) TableName() string { return s.table }
func (s *updateStmt) NumParams() int    { return s.nParams }
func (s *deleteStmt) Kind() string      { return "DELETE" }
func (s *deleteStmt) TableName() string { return s.table }
func (s *deleteStmt) NumParams() int    { return s.nParams }
