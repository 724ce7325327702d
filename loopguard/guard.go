package loopguard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
)

// DefaultTTL is how long a pending echo is kept when Options.TTL is 0:
// far longer than SeaTable's webhook queue lags or a restart takes.
const DefaultTTL = 6 * time.Hour

// saveAttempts bounds the compare-and-set retries of one record.
const saveAttempts = 32

// Options configures a Guard.
type Options struct {
	// Store keeps the pending echoes, shared by replicas. Required.
	Store Store
	// TTL is how long a pending echo waits for its webhook; 0 = DefaultTTL.
	TTL time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Guard matches webhook events with the writes seaflow made. It is safe
// for concurrent use.
type Guard struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
}

// New returns a Guard.
func New(o Options) *Guard {
	g := &Guard{store: o.Store, ttl: o.TTL, now: o.Now}
	if g.ttl <= 0 {
		g.ttl = DefaultTTL
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// Write is one row write of a call about to be sent.
type Write struct {
	Base, Table string
	// RowID is the row written; empty for an append (see Guard.Appended).
	RowID string
	Kind  seaflow.Kind
	// Values are the cells written, by column name, as the op holds them.
	Values map[string]any
	// Others are the rows a link op links RowID to.
	Others []string
	// Depth is the chain depth of the op; Rule and Op name it.
	Depth    int
	Rule, Op string
}

// echo is one pending echo.
type echo struct {
	Op    string         `json:"op"`
	Kind  seaflow.Kind   `json:"k"`
	Row   string         `json:"row,omitempty"`
	Cols  map[string]any `json:"c,omitempty"`
	Depth int            `json:"d,omitempty"`
	Rule  string         `json:"r,omitempty"`
	At    int64          `json:"t"`
	// By is the id of the event that consumed the echo.
	By string `json:"by,omitempty"`
}

// record is what the store holds under one key.
type record struct {
	Echoes []echo `json:"e"`
}

// Expect records the echoes the writes will cause, before their call is
// sent. An error means they are not all recorded: the call should not be
// sent yet.
func (g *Guard) Expect(ctx context.Context, writes []Write) error {
	byKey := map[string][]echo{}
	var order []string
	at := g.now().Unix()
	add := func(key string, e echo) {
		if _, ok := byKey[key]; !ok {
			order = append(order, key)
		}
		byKey[key] = append(byKey[key], e)
	}
	for _, w := range writes {
		e := echo{Op: w.Op, Kind: w.Kind, Cols: w.Values, Depth: w.Depth, Rule: w.Rule, At: at}
		switch w.Kind {
		case seaflow.KindUpdate, seaflow.KindUpsert:
			if w.RowID != "" {
				add(rowKey(w.Base, w.Table, w.RowID), e)
			} else {
				add(appendKey(w.Base, w.Table), e) // an upsert that may append
			}
		case seaflow.KindAppend:
			add(appendKey(w.Base, w.Table), e)
		case seaflow.KindDelete:
			e.Cols = nil
			add(rowKey(w.Base, w.Table, w.RowID), e)
		case seaflow.KindLock, seaflow.KindUnlock:
			e.Cols = map[string]any{"_locked": w.Kind == seaflow.KindLock}
			add(rowKey(w.Base, w.Table, w.RowID), e)
		case seaflow.KindLink:
			for _, o := range w.Others {
				le := e
				le.Cols = nil
				add(linkKey(w.Base, w.RowID, o), le)
			}
		}
	}
	return g.each(ctx, order, func(key string) error {
		return g.update(ctx, key, func(r *record) bool {
			for _, e := range byKey[key] {
				r.Echoes = slices.DeleteFunc(r.Echoes, func(old echo) bool { return old.Op == e.Op && old.By == "" && old.Kind == e.Kind })
				r.Echoes = append(r.Echoes, e)
			}
			return true
		})
	})
}

// Appended records the row an append (or an upsert's append) created, so
// its echoes are known by row too.
func (g *Guard) Appended(ctx context.Context, w Write, rowID string) error {
	if rowID == "" {
		return nil
	}
	e := echo{Op: w.Op, Kind: seaflow.KindAppend, Row: rowID, Cols: w.Values, Depth: w.Depth, Rule: w.Rule, At: g.now().Unix()}
	return g.update(ctx, rowKey(w.Base, w.Table, rowID), func(r *record) bool {
		r.Echoes = append(r.Echoes, e)
		return true
	})
}

// Match decides whether ev, a SeaTable webhook event, reports a write
// seaflow made: it sets ev.Self and ev.Depth (the chain depth of that
// write) and consumes the echo, and sets ev.SelfColumns to the changed
// cells that match one of seaflow's pending writes (also when the event as
// a whole is a user's change). An event it matched before (a redelivery, a
// replay) gets the same answer. Other events are left alone.
func (g *Guard) Match(ctx context.Context, ev *seaflow.Event) error {
	if ev.Source != seaflow.SourceWebhook || ev.Base == "" || ev.OpType == "" || ev.Error != "" {
		return nil
	}
	op := singular(ev.OpType)
	cells := changedCells(ev)
	switch {
	case op == "delete_row" && ev.RowID != "":
		_, err := g.consume(ctx, ev, rowKey(ev.Base, ev.Table, ev.RowID), func(e echo) bool { return e.Kind == seaflow.KindDelete })
		return err
	case isLink(op):
		a, b := linkRows(ev)
		if a == "" || b == "" {
			return nil
		}
		_, err := g.consume(ctx, ev, linkKey(ev.Base, a, b), func(e echo) bool { return e.Kind == seaflow.KindLink })
		return err
	case op == "insert_row" || op == "modify_row":
		if ev.RowID == "" {
			return nil
		}
		covers := func(e echo) bool {
			if e.Kind == seaflow.KindDelete || e.Kind == seaflow.KindLink {
				return false
			}
			if (e.Kind == seaflow.KindAppend) != (op == "insert_row") {
				return false // an append comes back as an insert, and only as one
			}
			if len(cells) == 0 {
				// No cells to compare: only the insert of a row seaflow
				// appended, once its id is known.
				return op == "insert_row" && e.Kind == seaflow.KindAppend && e.Row == ev.RowID
			}
			return coversAll(e, ev, cells)
		}
		key := rowKey(ev.Base, ev.Table, ev.RowID)
		// One read of the row's record gives both answers.
		found, err := g.consumeSeen(ctx, ev, key, covers, func(r *record) {
			ev.SelfColumns = selfColumns(r, ev, cells)
		})
		if err != nil || op != "insert_row" {
			return err
		}
		// An append is recorded twice, by its cells and, once its answer
		// came, by its row: consume both, whichever matched.
		tkey := appendKey(ev.Base, ev.Table)
		if found != "" {
			return g.consumeOp(ctx, ev, tkey, found)
		}
		if len(cells) == 0 {
			return nil
		}
		if found, err = g.consume(ctx, ev, tkey, covers); err != nil || found == "" {
			return err
		}
		return g.consumeOp(ctx, ev, key, found)
	}
	return nil
}

// consumeOp marks the live echo of op in the record at key consumed by ev
// (the other record of an append).
func (g *Guard) consumeOp(ctx context.Context, ev *seaflow.Event, key, op string) error {
	return g.update(ctx, key, func(r *record) bool {
		for i := range r.Echoes {
			if e := &r.Echoes[i]; e.Op == op && e.By == "" {
				e.By = ev.ID
				return true
			}
		}
		return false
	})
}

// consume finds, in the record at key, the echo ev consumed before or the
// first live one that fits, marks it consumed by ev, and sets ev.Self and
// ev.Depth. It returns the op of the echo, "" when none fits.
func (g *Guard) consume(ctx context.Context, ev *seaflow.Event, key string, fits func(echo) bool) (string, error) {
	return g.consumeSeen(ctx, ev, key, fits, nil)
}

// consumeSeen is consume that first shows seen, when set, the record as
// loaded, its expired echoes dropped (again after a conflict reloads it).
func (g *Guard) consumeSeen(ctx context.Context, ev *seaflow.Event, key string, fits func(echo) bool, seen func(*record)) (string, error) {
	var found *echo
	err := g.update(ctx, key, func(r *record) bool {
		if seen != nil {
			seen(r)
		}
		found = nil
		for i := range r.Echoes {
			if r.Echoes[i].By == ev.ID {
				e := r.Echoes[i]
				found = &e
				return false // already consumed by this very event
			}
		}
		for i := range r.Echoes {
			e := &r.Echoes[i]
			if e.By == "" && fits(*e) {
				e.By = ev.ID
				c := *e
				found = &c
				return true
			}
		}
		return false
	})
	if err != nil || found == nil {
		return "", err
	}
	ev.Self, ev.Depth = true, found.Depth
	return found.Op, nil
}

// selfColumns returns the changed cells of ev that a live pending echo
// of the row, r, wrote with that value.
func selfColumns(r *record, ev *seaflow.Event, cells []string) []string {
	var cols []string
	for _, c := range cells {
		for _, e := range r.Echoes {
			if w, ok := e.Cols[c]; ok && (e.By == "" || e.By == ev.ID) && sameValue(w, ev.Row[c]) {
				cols = append(cols, c)
				break
			}
		}
	}
	return cols
}

// coversAll reports whether echo e wrote every one of the changed cells
// of ev, with the value ev reports.
func coversAll(e echo, ev *seaflow.Event, cells []string) bool {
	for _, c := range cells {
		w, ok := e.Cols[c]
		if !ok || !sameValue(w, ev.Row[c]) {
			return false
		}
	}
	return true
}

// update loads the record at key, drops expired echoes, applies change
// and saves it when change (or the pruning) changed it, retrying from a
// fresh load when another writer saved first.
func (g *Guard) update(ctx context.Context, key string, change func(*record) bool) error {
	for range saveAttempts {
		data, rev, err := g.store.Load(ctx, key)
		if err != nil {
			return fmt.Errorf("loop guard: load %s: %w", key, err)
		}
		var r record
		if data != nil {
			_ = json.Unmarshal(data, &r) // a damaged record starts over
		}
		before := len(r.Echoes)
		min := g.now().Add(-g.ttl).Unix()
		r.Echoes = slices.DeleteFunc(r.Echoes, func(e echo) bool { return e.At < min })
		changed := change(&r)
		if !changed && len(r.Echoes) == before {
			return nil
		}
		out, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("loop guard: encode %s: %w", key, err)
		}
		if _, err := g.store.Save(ctx, key, out, rev); err == nil {
			return nil
		} else if !errors.Is(err, seaflow.ErrConflict) {
			return fmt.Errorf("loop guard: save %s: %w", key, err)
		}
	}
	return fmt.Errorf("loop guard: %s: too many concurrent updates", key)
}

// each runs fn for every key, a few at a time, and returns the first error.
func (g *Guard) each(ctx context.Context, keys []string, fn func(string) error) error {
	const parallel = 16
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(k); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// changedCells are the cells of ev a user or a write could have changed:
// every changed cell but those SeaTable fills in itself.
func changedCells(ev *seaflow.Event) []string {
	cells := make([]string, 0, len(ev.Row))
	for c := range ev.Row {
		if !slices.Contains(ev.AutoColumns, c) {
			cells = append(cells, c)
		}
	}
	slices.Sort(cells)
	return cells
}

// singular maps a batch op type to the single-row one it reports.
func singular(op string) string {
	switch op {
	case "insert_rows", "append_rows":
		return "insert_row"
	case "modify_rows":
		return "modify_row"
	case "delete_rows":
		return "delete_row"
	}
	return op
}

func isLink(op string) bool {
	switch op {
	case "add_link", "remove_link", "update_links", "update_rows_links":
		return true
	}
	return false
}

// linkRows returns the two rows of a link event (table1_row_id,
// table2_row_id of the body's data).
func linkRows(ev *seaflow.Event) (string, string) {
	body, _ := ev.Body.(map[string]any)
	data, _ := body["data"].(map[string]any)
	a, _ := data["table1_row_id"].(string)
	b, _ := data["table2_row_id"].(string)
	return a, b
}

// Keys hash what they name: names may hold any character, and a KV key
// may not.
func rowKey(base, table, row string) string { return "r." + hash(base, table, row) }
func appendKey(base, table string) string   { return "a." + hash(base, table) }
func linkKey(base, a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "l." + hash(base, a, b)
}

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
