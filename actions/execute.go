package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/loopguard"
	"github.com/seaflow/seaflow/seatable"
)

// Rows is the part of the SeaTable client (*seatable.Client, one per base)
// the executor uses. It must be safe for concurrent use.
type Rows interface {
	AppendRows(ctx context.Context, table string, rows []seatable.Row) ([]string, error)
	UpdateRows(ctx context.Context, table string, updates []seatable.RowUpdate) error
	DeleteRows(ctx context.Context, table string, rowIDs []string) error
	LockRows(ctx context.Context, table string, rowIDs []string) error
	UnlockRows(ctx context.Context, table string, rowIDs []string) error
	CreateLinks(ctx context.Context, links seatable.LinkSet) error
	SQL(ctx context.Context, query string, params []any) (*seatable.SQLResult, error)
	Metadata(ctx context.Context) (*seatable.Metadata, error)
}

var _ Rows = (*seatable.Client)(nil)

// CallFunc wraps every SeaTable call an Executor makes. It must obtain the
// budget's admission for the call (recording it before the call is sent),
// then run send and return its error. name is the client operation (e.g.
// "update rows") and rows the rows the call carries, for logs and metrics.
type CallFunc func(ctx context.Context, name string, rows int, send func(ctx context.Context) error) error

// Outcome says what became of the ops of one batch, by their index in the
// slice given to Plan. Every op of the batch is in exactly one of Done, Dead
// and Pending.
type Outcome struct {
	// Done are the ops that landed.
	Done []int
	// Dead are the ops SeaTable refused as invalid, isolated by splitting.
	Dead []DeadOp
	// Pending are the ops not carried out because Err stopped the batch.
	Pending []int
	// MaybeSent are the pending appends whose call failed after it was
	// sent (a timeout, a reset): they may have landed, so a retry must not
	// add them again where it can tell (an append with a dedupe column is
	// retried as an upsert on it).
	MaybeSent []int
	// Err is the error that stopped the batch: rate limited, transient,
	// auth, a budget error or the context's. Nil when the batch finished.
	Err error
	// Sent says, for each op a call carried that SeaTable answered
	// without error, the last such call (an upsert's key lookup is
	// followed by its update or append).
	Sent map[int]Sent
}

// Sent is a call that carried an op.
type Sent struct {
	// Call is the client operation, e.g. "update rows".
	Call string
	// Rows is the rows the call carried.
	Rows int
}

// callOpsKey carries, on a call's context, the ops of the items it sends.
type callOpsKey struct{}

func withCallOps(ctx context.Context, items []Item) context.Context {
	var idx []int
	for _, it := range items {
		idx = append(idx, it.Ops...)
	}
	return context.WithValue(ctx, callOpsKey{}, idx)
}

// DeadOp is an op refused as invalid, with the reason.
type DeadOp struct {
	Index  int
	Reason string
}

// Executor carries out planned batches on one base. It caches the base's
// metadata (needed to resolve link columns and to check written columns).
// It is safe for concurrent use.
type Executor struct {
	rows   Rows
	echoes EchoRecorder // nil: no loop guard
	pages  Pages        // nil: query ops are refused

	mu   sync.Mutex
	meta *seatable.Metadata
}

// NewExecutor returns an Executor for the base rows talks to.
func NewExecutor(rows Rows, echoes EchoRecorder) *Executor {
	return &Executor{rows: rows, echoes: echoes}
}

// WithPages returns e, handing the rows of query ops to p.
func (e *Executor) WithPages(p Pages) *Executor {
	e.pages = p
	return e
}

// Pages takes the rows a query op read (one page of a for_each's SELECT)
// and queues, durably, what follows from them: the rows for their rule to
// evaluate and, when more is true, the op of the next page. It returns only
// once both are stored; the query op is acked after. It must be safe for
// concurrent use.
type Pages interface {
	Page(ctx context.Context, op seaflow.Op, rows []seatable.Row, more bool) error
}

// EchoRecorder learns what each call writes before it is sent, and the
// rows an append created after, so the loop guard can tell the webhooks
// SeaTable sends back for them (*loopguard.Guard). It must be safe for
// concurrent use.
type EchoRecorder interface {
	Expect(ctx context.Context, writes []loopguard.Write) error
	Appended(ctx context.Context, w loopguard.Write, rowID string) error
}

// Execute carries out batch b, planned from ops, making every call through
// call. Ops that write cells are first checked against the base's metadata
// (see columns.go): one naming a column the table lacks is dead. When
// SeaTable refuses a call as invalid, the batch is split in halves, each a
// new call, until the refused ops are isolated; they are returned in
// Outcome.Dead and the rest lands. A permission error (a 403 a fresh token
// does not cure) makes every op of the refused call dead at once. Any
// other error stops the batch: the ops not yet done are returned in
// Outcome.Pending.
func (e *Executor) Execute(ctx context.Context, ops []seaflow.Op, b Batch, call CallFunc) Outcome {
	out := Outcome{Sent: map[int]Sent{}}
	sent := func(ctx context.Context, name string, rows int, send func(ctx context.Context) error) error {
		err := call(ctx, name, rows, send)
		if idx, ok := ctx.Value(callOpsKey{}).([]int); ok && err == nil {
			for _, i := range idx {
				out.Sent[i] = Sent{Call: name, Rows: rows}
			}
		}
		return err
	}
	r := run{e: e, ops: ops, b: b, call: sent, out: &out}
	// Every call of the batch is attributed to its rules by ops; a call
	// carrying only some items (a split, an upsert's parts) to theirs.
	ctx = seatable.WithShares(ctx, Shares(ops, b.Items))
	items, err := r.checkColumns(ctx, r.sendable(b.Items))
	if err == nil {
		err = r.items(ctx, items)
	}
	if err != nil {
		out.Err = err
		settled := map[int]bool{}
		for _, i := range out.Done {
			settled[i] = true
		}
		for _, d := range out.Dead {
			settled[d.Index] = true
		}
		for _, i := range b.Ops() {
			if !settled[i] {
				out.Pending = append(out.Pending, i)
			}
		}
	}
	return out
}

// run is the state of one Execute.
type run struct {
	e    *Executor
	ops  []seaflow.Op
	b    Batch
	call CallFunc
	out  *Outcome
	// refreshed is set once this run fetched the metadata.
	refreshed bool
	// tableChecked is set once this run checked that the table exists.
	tableChecked bool
}

func (r *run) done(items []Item) {
	for _, it := range items {
		r.out.Done = append(r.out.Done, it.Ops...)
	}
}

// writes describes the row writes of items for the loop guard; rowIDs,
// when given, are the rows each item writes (an upsert's found rows).
func (r *run) writes(table string, items []Item, rowIDs []string) []loopguard.Write {
	out := make([]loopguard.Write, len(items))
	for i, it := range items {
		first := r.ops[it.Ops[0]]
		w := loopguard.Write{Base: first.Base, Table: table, RowID: it.RowID, Kind: r.b.Kind, Values: it.Values, Others: it.OtherRowIDs, Rule: first.Rule, Op: first.ID}
		for _, oi := range it.Ops {
			w.Depth = max(w.Depth, r.ops[oi].Depth)
		}
		if rowIDs != nil {
			w.RowID = rowIDs[i]
		}
		out[i] = w
	}
	return out
}

// expect tells the loop guard what a call is about to write. When it
// cannot, the call is not sent: its echo would be taken for a user's edit.
func (r *run) expect(ctx context.Context, writes []loopguard.Write) error {
	if r.e.echoes == nil || len(writes) == 0 {
		return nil
	}
	if err := r.e.echoes.Expect(ctx, writes); err != nil {
		return &seatable.Error{Kind: seatable.KindTransient, Op: "record echoes", Message: err.Error(), Err: err}
	}
	return nil
}

// appended tells the loop guard the rows an append created. It is best
// effort: an insert is also recognised by its cells.
func (r *run) appended(ctx context.Context, writes []loopguard.Write, ids []string) {
	if r.e.echoes == nil {
		return
	}
	for i, id := range ids {
		if i < len(writes) {
			_ = r.e.echoes.Appended(ctx, writes[i], id)
		}
	}
}

func (r *run) dead(it Item, reason string) {
	for _, i := range it.Ops {
		r.out.Dead = append(r.out.Dead, DeadOp{Index: i, Reason: reason})
	}
}

// sendable returns the items that can be sent as they are; the others are
// dead and never reach SeaTable.
func (r *run) sendable(items []Item) []Item {
	var ok []Item
	for _, it := range items {
		if reason := r.check(it); reason != "" {
			r.dead(it, reason)
			continue
		}
		ok = append(ok, it)
	}
	return ok
}

// items sends items as one call and isolates invalid ones. It returns the
// first error that is not KindInvalid.
func (r *run) items(ctx context.Context, items []Item) error {
	ok := r.sendable(items)
	if len(ok) == 0 {
		return nil
	}
	err := r.send(ctx, ok)
	if err == nil {
		r.done(ok)
		return nil
	}
	if seatable.KindOf(err) == seatable.KindPermission {
		// The API token may not do this: no op of the call will land
		// whatever its halves, so none is retried or split.
		for _, it := range ok {
			r.dead(it, "permission denied (is the API token read-only?): "+reason(err))
		}
		return nil
	}
	if seatable.KindOf(err) != seatable.KindInvalid {
		return err
	}
	if len(ok) > 1 && !r.b.Kind.Statement() && !r.tableChecked {
		// A missing table refuses every op: find out with one metadata
		// call instead of splitting down to single ops.
		r.tableChecked = true
		exists, err := r.tableExists(ctx, r.b.Table)
		if err != nil {
			return err
		}
		if !exists {
			for _, it := range ok {
				r.dead(it, fmt.Sprintf("table %q not found", r.b.Table))
			}
			return nil
		}
	}
	if len(ok) > 1 {
		half := len(ok) / 2
		if err := r.items(ctx, ok[:half]); err != nil {
			return err
		}
		return r.items(ctx, ok[half:])
	}
	it := ok[0]
	if len(it.Ops) == 1 {
		r.dead(it, reason(err))
		return nil
	}
	// A merged item was refused: undo the merge and send its ops one by
	// one, in queue order, so only the bad ones are refused.
	for _, i := range it.Ops {
		single := Plan([]seaflow.Op{r.ops[i]})[0].Items[0]
		single.Ops = []int{i}
		if err := r.items(ctx, []Item{single}); err != nil {
			return err
		}
	}
	return nil
}

// reason is what goes to the dead letters for an invalid error.
func reason(err error) string {
	var se *seatable.Error
	if errors.As(err, &se) && se.Message != "" {
		return se.Message
	}
	return err.Error()
}

// check returns why an item can never be sent, or "".
func (r *run) check(it Item) string {
	k := r.b.Kind
	if !k.Statement() && r.b.Table == "" {
		return "no table"
	}
	switch k {
	case seaflow.KindUpdate, seaflow.KindDelete, seaflow.KindLock, seaflow.KindUnlock, seaflow.KindLink:
		if it.RowID == "" {
			return "no row id"
		}
	case seaflow.KindUpsert:
		if r.b.Key == "" {
			return "upsert without a key column"
		}
		if it.KeyValue == nil {
			return fmt.Sprintf("upsert without a value for key column %q", r.b.Key)
		}
	case seaflow.KindSQL, seaflow.KindQuery:
		if strings.TrimSpace(it.Statement) == "" {
			return "no sql statement"
		}
	case seaflow.KindAppend:
	default:
		return fmt.Sprintf("unknown op kind %q", k)
	}
	return ""
}

// send makes the call(s) for items.
func (r *run) send(ctx context.Context, items []Item) error {
	b, rows := r.b, r.e.rows
	ctx = withCallOps(seatable.WithShares(ctx, Shares(r.ops, items)), items)
	switch b.Kind {
	case seaflow.KindAppend:
		batch := make([]seatable.Row, len(items))
		for i, it := range items {
			batch[i] = seatable.Row(it.Values)
		}
		writes := r.writes(b.Table, items, nil)
		if err := r.expect(ctx, writes); err != nil {
			return err
		}
		err := r.call(ctx, "append rows", len(batch), func(ctx context.Context) error {
			ids, err := rows.AppendRows(ctx, b.Table, batch)
			r.appended(ctx, writes, ids)
			return err
		})
		if err != nil && seatable.KindOf(err) == seatable.KindTransient && seatable.MayHaveLanded(err) {
			for _, it := range items {
				r.out.MaybeSent = append(r.out.MaybeSent, it.Ops...)
			}
		}
		return err
	case seaflow.KindUpdate:
		ups := make([]seatable.RowUpdate, len(items))
		for i, it := range items {
			ups[i] = seatable.RowUpdate{RowID: it.RowID, Row: seatable.Row(it.Values)}
		}
		if err := r.expect(ctx, r.writes(b.Table, items, nil)); err != nil {
			return err
		}
		return r.update(ctx, ups)
	case seaflow.KindDelete, seaflow.KindLock, seaflow.KindUnlock:
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.RowID
		}
		name, fn := "delete rows", rows.DeleteRows
		switch b.Kind {
		case seaflow.KindLock:
			name, fn = "lock rows", rows.LockRows
		case seaflow.KindUnlock:
			name, fn = "unlock rows", rows.UnlockRows
		}
		if err := r.expect(ctx, r.writes(b.Table, items, nil)); err != nil {
			return err
		}
		return r.call(ctx, name, len(ids), func(ctx context.Context) error {
			return fn(ctx, b.Table, ids)
		})
	case seaflow.KindUpsert:
		return r.upsert(ctx, items)
	case seaflow.KindLink:
		return r.link(ctx, items)
	case seaflow.KindSQL:
		it := items[0]
		return r.call(ctx, "sql", 0, func(ctx context.Context) error {
			_, err := rows.SQL(ctx, it.Statement, it.Params)
			return err
		})
	case seaflow.KindQuery:
		return r.query(ctx, items[0])
	}
	return fmt.Errorf("send %s: unknown op kind", b.Kind)
}

// query reads one page of a for_each's SELECT and hands it to the pages.
// A failure to queue what follows is transient: the page is read again.
func (r *run) query(ctx context.Context, it Item) error {
	if r.e.pages == nil {
		return errors.New("query op: the dispatcher has no pages handler")
	}
	op := r.ops[it.Ops[0]]
	stmt, paged := seatable.PageStatement(it.Statement, it.Offset)
	var res *seatable.SQLResult
	err := r.call(ctx, "sql", 0, func(ctx context.Context) error {
		var err error
		res, err = r.e.rows.SQL(ctx, stmt, it.Params)
		return err
	})
	if err != nil {
		return err
	}
	more := paged && len(res.Rows) == seatable.MaxSQLRows
	if err := r.e.pages.Page(ctx, op, res.Rows, more); err != nil {
		return &seatable.Error{Kind: seatable.KindTransient, Op: "queue for_each rows", Message: err.Error(), Err: err}
	}
	return nil
}

// update sends row updates, at most MaxBatchRows per call.
func (r *run) update(ctx context.Context, ups []seatable.RowUpdate) error {
	for start := 0; start < len(ups); start += MaxBatchRows {
		chunk := ups[start:min(start+MaxBatchRows, len(ups))]
		err := r.call(ctx, "update rows", len(chunk), func(ctx context.Context) error {
			return r.e.rows.UpdateRows(ctx, r.b.Table, chunk)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// upsert looks up every key of items with one SQL call, updates the rows
// found with one batch update and appends the rest with one batch append.
// Every row whose key cell equals the key is updated.
func (r *run) upsert(ctx context.Context, items []Item) error {
	b := r.b
	table, err := quoteIdent(b.Table)
	if err != nil {
		return invalid("upsert", err.Error())
	}
	key, err := quoteIdent(b.Key)
	if err != nil {
		return invalid("upsert", err.Error())
	}
	params := make([]any, len(items))
	marks := make([]string, len(items))
	for i, it := range items {
		params[i] = it.KeyValue
		marks[i] = "?"
	}
	query := fmt.Sprintf("SELECT _id, %s FROM %s WHERE %s IN (%s) LIMIT 10000",
		key, table, key, strings.Join(marks, ","))
	var res *seatable.SQLResult
	err = r.call(ctx, "upsert key lookup", len(items), func(ctx context.Context) error {
		var err error
		res, err = r.e.rows.SQL(ctx, query, params)
		return err
	})
	if err != nil {
		return err
	}
	found := map[string][]string{}
	if res != nil {
		colKey := ""
		for _, c := range res.Columns {
			if c.Name == b.Key {
				colKey = c.Key
			}
		}
		for _, row := range res.Rows {
			v, ok := row[b.Key]
			if !ok && colKey != "" {
				v = row[colKey]
			}
			id, _ := row["_id"].(string)
			if id == "" || v == nil {
				continue
			}
			k := fmt.Sprint(v)
			found[k] = append(found[k], id)
		}
	}
	var ups []seatable.RowUpdate
	var updated []Item
	var updatedRows []string
	var adds []seatable.Row
	var added []Item
	for _, it := range items {
		ids := found[fmt.Sprint(it.KeyValue)]
		for _, id := range ids {
			ups = append(ups, seatable.RowUpdate{RowID: id, Row: seatable.Row(it.Values)})
			updated = append(updated, it)
			updatedRows = append(updatedRows, id)
		}
		if len(ids) == 0 {
			adds = append(adds, seatable.Row(it.Values))
			added = append(added, it)
		}
	}
	if len(ups) > 0 {
		writes := r.writes(b.Table, updated, updatedRows)
		for i := range writes {
			writes[i].Kind = seaflow.KindUpdate
		}
		if err := r.expect(ctx, writes); err != nil {
			return err
		}
		if err := r.update(ctx, ups); err != nil {
			return err
		}
	}
	if len(adds) > 0 {
		writes := r.writes(b.Table, added, nil)
		for i := range writes {
			writes[i].Kind = seaflow.KindAppend
		}
		if err := r.expect(ctx, writes); err != nil {
			return err
		}
		return r.call(ctx, "append rows", len(adds), func(ctx context.Context) error {
			ids, err := r.e.rows.AppendRows(ctx, b.Table, adds)
			r.appended(ctx, writes, ids)
			return err
		})
	}
	return nil
}

// link creates the links of items with one call.
func (r *run) link(ctx context.Context, items []Item) error {
	ls, err := r.linkSet(ctx, r.b.Table, r.b.LinkColumn)
	if err != nil {
		return err
	}
	ls.Links = map[string][]string{}
	n := 0
	for _, it := range items {
		ls.Links[it.RowID] = append(ls.Links[it.RowID], it.OtherRowIDs...)
		n += len(it.OtherRowIDs)
	}
	if n == 0 {
		return nil
	}
	if err := r.expect(ctx, r.writes(ls.Table, items, nil)); err != nil {
		return err
	}
	return r.call(ctx, "create links", len(items), func(ctx context.Context) error {
		return r.e.rows.CreateLinks(ctx, ls)
	})
}

// metadata returns the base's metadata: the cached copy, or a fresh one
// when there is none or refresh is set (at most once per run).
func (r *run) metadata(ctx context.Context, refresh bool) (*seatable.Metadata, error) {
	e := r.e
	e.mu.Lock()
	meta := e.meta
	e.mu.Unlock()
	if meta != nil && (!refresh || r.refreshed) {
		return meta, nil
	}
	err := r.call(ctx, "metadata", 0, func(ctx context.Context) error {
		m, err := e.rows.Metadata(ctx)
		if err != nil {
			return err
		}
		meta = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.refreshed = true
	e.mu.Lock()
	e.meta = meta
	e.mu.Unlock()
	return meta, nil
}

// linkSet resolves a link column to its link id and tables from the
// metadata (fetched again once when the column is unknown).
func (r *run) linkSet(ctx context.Context, table, column string) (seatable.LinkSet, error) {
	for _, refresh := range []bool{false, true} {
		meta, err := r.metadata(ctx, refresh)
		if err != nil {
			return seatable.LinkSet{}, err
		}
		if ls, ok := findLink(meta, table, column); ok {
			return ls, nil
		}
	}
	return seatable.LinkSet{}, invalid("create links", fmt.Sprintf("table %q has no link column %q", table, column))
}

// tableExists reports whether the base has table, by fresh metadata.
func (r *run) tableExists(ctx context.Context, table string) (bool, error) {
	meta, err := r.metadata(ctx, true)
	if err != nil {
		return false, err
	}
	for _, t := range meta.Tables {
		if t.Name == table || t.ID == table {
			return true, nil
		}
	}
	return false, nil
}

// findLink finds table's link column in meta.
func findLink(meta *seatable.Metadata, table, column string) (seatable.LinkSet, bool) {
	if meta == nil {
		return seatable.LinkSet{}, false
	}
	names := map[string]string{}
	for _, t := range meta.Tables {
		names[t.ID] = t.Name
	}
	for _, t := range meta.Tables {
		if t.Name != table && t.ID != table {
			continue
		}
		for _, c := range t.Columns {
			if (c.Name != column && c.Key != column) || c.Type != "link" {
				continue
			}
			linkID, _ := c.Data["link_id"].(string)
			tid, _ := c.Data["table_id"].(string)
			oid, _ := c.Data["other_table_id"].(string)
			other := oid
			if tid != t.ID && oid == t.ID {
				// The column was created from the other side of the link.
				other = tid
			}
			if linkID == "" || names[other] == "" {
				return seatable.LinkSet{}, false
			}
			return seatable.LinkSet{LinkID: linkID, Table: t.Name, OtherTable: names[other]}, true
		}
	}
	return seatable.LinkSet{}, false
}

// invalid is a refusal found before sending, handled like SeaTable's own.
func invalid(op, msg string) error {
	return &seatable.Error{Kind: seatable.KindInvalid, Op: op, Message: msg}
}

// quoteIdent quotes a table or column name for SeaTable SQL.
func quoteIdent(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "`\x00") {
		return "", fmt.Errorf("name %q cannot be quoted in SQL", name)
	}
	return "`" + name + "`", nil
}
