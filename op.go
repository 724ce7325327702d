package seaflow

import "time"

// Kind names a row action. The names are part of the rules file contract.
type Kind string

// The row actions of the rules file contract.
const (
	KindAppend Kind = "append"
	KindUpdate Kind = "update"
	KindUpsert Kind = "upsert"
	KindDelete Kind = "delete"
	KindLock   Kind = "lock"
	KindUnlock Kind = "unlock"
	KindLink   Kind = "link"
	KindSQL    Kind = "sql"
)

// Kinds lists every op kind of the rules file.
var Kinds = []Kind{KindAppend, KindUpdate, KindUpsert, KindDelete, KindLock, KindUnlock, KindLink, KindSQL}

// KindQuery is the op of a for_each: one page of its SELECT, read in the
// rule's lane like any call. It is seaflow's own, not a rules file action:
// the rows it reads become a Page event, whose rule evaluation queues the
// per-row ops, and a full page queues the op of the next page.
const KindQuery Kind = "query"

// Statement reports whether ops of kind k run an SQL statement (sql and
// query ops) rather than carry rows.
func (k Kind) Statement() bool { return k == KindSQL || k == KindQuery }

// Op is one row action, fully evaluated: every expression of the rule has
// been computed, so an Op is plain data that can be queued, replayed and
// compared in rule tests. It is serialized as JSON on the OPS stream.
type Op struct {
	// ID identifies the op for deduplication: the event id, the rule, the
	// action index and the for_each item index. A replay produces the same ID.
	ID string `json:"id"`
	// Kind is the action.
	Kind Kind `json:"kind"`
	// Base is the name of the base in the config file (not its uuid).
	Base string `json:"base"`
	// Table is the table name.
	Table string `json:"table,omitempty"`
	// Lane is the priority the op is dispatched with.
	Lane Lane `json:"lane"`
	// RowID is the target row of update, delete, lock, unlock and link.
	RowID string `json:"row_id,omitempty"`
	// Values are the cells to write, by column name (append, update, upsert).
	Values map[string]any `json:"values,omitempty"`
	// Key is the key column of an upsert: a row whose Key cell equals
	// Values[Key] is updated, otherwise a row is appended.
	Key string `json:"key,omitempty"`
	// DedupeColumn, on an append, is a text column that holds the op's ID
	// (Values[DedupeColumn] == ID). An append delivered again after a crash
	// is then sent as an upsert keyed on that column, so it cannot add the
	// row twice.
	DedupeColumn string `json:"dedupe_column,omitempty"`
	// Replay marks an op produced again from a redelivered event: it may
	// have been sent already, so it is handled like a redelivered op.
	Replay bool `json:"replay,omitempty"`
	// LinkColumn is the link column of a link op.
	LinkColumn string `json:"link_column,omitempty"`
	// OtherRowIDs are the rows of the linked table that RowID links to.
	OtherRowIDs []string `json:"other_row_ids,omitempty"`
	// Statement is the SQL UPDATE or DELETE of an sql op, or the SELECT of
	// a query op, with ? placeholders.
	Statement string `json:"sql,omitempty"`
	// Params are the values bound to the placeholders of Statement.
	Params []any `json:"params,omitempty"`
	// Offset is the first row a query op reads (its SELECT is paged with
	// LIMIT and OFFSET).
	Offset int `json:"offset,omitempty"`
	// Event is, on a query op, the event whose rule runs the for_each: the
	// rows read are evaluated against it.
	Event *Event `json:"event,omitempty"`
	// Rule is the name of the rule that produced the op.
	Rule string `json:"rule,omitempty"`
	// EventID is the id of the event that produced the op.
	EventID string `json:"event_id,omitempty"`
	// Depth counts how many rule-caused writes led to this op (loop guard).
	Depth int `json:"depth,omitempty"`
	// CreatedAt is when the op was produced.
	CreatedAt time.Time `json:"created_at"`
}
