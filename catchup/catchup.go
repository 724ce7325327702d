// Package catchup recovers the changes SeaTable never delivered to a
// webhook. SeaTable sends each change once, does not retry, and disables a
// webhook after five failed deliveries (at once on a connection error), so
// a seaflow that was down or unreachable misses changes for good. A Poller
// asks the base, per watched table and interval, for the rows whose _mtime
// moved since its cursor, in one SQL call charged to the base's bulk
// budget before it is sent. Each such change that no stored webhook event
// describes becomes an event of the webhook, marked event.caught_up; when
// a poll finds such changes, the webhook is likely disabled.
//
// # What a poll can know
//
// A poll sees rows as they are now: no old values, no deleted rows, one
// change where the row changed several times, and no op type (a row whose
// _ctime equals its _mtime is reported as insert_row, any other as
// modify_row). So a caught-up event carries every cell of the row in row
// (select options as names, dates as times), an empty old, op_user from
// _last_modifier, the time of _mtime, and caught_up: true. A rule that
// looks at old (old.Stage != "Won") sees nil there; a rule that must not
// act on such events says `&& !event.caught_up`.
//
// # Ids and deduplication
//
// A webhook's event id hashes the base, table id, row, op type and op
// time; a poll knows no table id (the SQL answer has none), not the op
// type, and not whether SeaTable's op_time equals _mtime to the
// millisecond, so it cannot rebuild that id, and even an equal id would be
// dropped only within the EVENTS stream's duplicate window, while the poll
// runs minutes later. The poll therefore compares content instead: a
// change is the webhook's when the EVENTS stream holds a webhook event of
// the base for that table and row (or a batch event of that table) whose
// op time is within Tolerance of the row's _mtime. Only the others become
// events, with the id "catchup/" + 32 hex digits of SHA-256 over the base
// uuid, table, row id and _mtime in milliseconds: the same change found
// twice (two replicas, a restart before the cursor was saved) is the same
// event. A webhook that arrives later than Lag after its change is handled
// twice (the catch-up's event and its own): at least once, never lost.
//
// # The cursor
//
// Each table's cursor (the last _mtime consumed and the rows at exactly
// that _mtime, when the table was last polled, and what the poll found)
// lives in the queue's state bucket and changes only by compare-and-set:
// a replica first claims the round by saving its poll time, so replicas
// share the interval instead of each spending a call, and restarts go on
// from where the last poll stopped. The first poll of a table only starts
// the cursor (at now): changes from before the catch-up started are not
// replayed. The cursor moves to the newest _mtime seen, never to the
// clock, so a SeaTable clock that runs ahead or behind seaflow's loses
// nothing.
package catchup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
)

// Tolerance is how far apart a webhook's op_time and a row's _mtime may be
// and still describe the same change. [?]: SeaTable's docs do not say
// whether they are equal; the emulator makes them equal to the
// millisecond.
const Tolerance = 2 * time.Second

// deliverySlack widens the window of stored webhook events read before a
// poll: an event is stored after its change, on seaflow's clock.
const deliverySlack = 10 * time.Minute

// MaxRows is the most rows one poll of a table reads: one SQL page. A
// table with more changes continues at the next poll.
const MaxRows = seatable.MaxSQLRows

// Base is the SeaTable base a Poller reads, as *seatable.Client serves it.
// It admits each call in the base's budget itself (a client built with a
// gate): a Poller makes no call of its own accord.
type Base interface {
	// SQL runs one statement with bound parameters.
	SQL(ctx context.Context, query string, params []any) (*seatable.SQLResult, error)
	// Info reports the base's uuid and the API token's app name.
	Info(ctx context.Context) (seatable.BaseInfo, error)
}

// Store keeps cursors by compare-and-set. Implementations must be safe
// for concurrent use.
type Store interface {
	// Load returns the value of key and its revision; rev 0 and nil data
	// when it has none.
	Load(ctx context.Context, key string) (data []byte, rev uint64, err error)
	// Save stores data if key's revision is still rev (0: only if it has
	// none). ok is false, with no error, when another writer saved first.
	Save(ctx context.Context, key string, data []byte, rev uint64) (newRev uint64, ok bool, err error)
}

// Delivered returns the webhook events stored since since (by the time
// the EVENTS stream received them), of any webhook and base.
type Delivered func(ctx context.Context, since time.Time) ([]seaflow.Event, error)

// Sink stores events durably, as triggers.Sink does. duplicate reports an
// event id the store already holds.
type Sink interface {
	Accept(ctx context.Context, ev seaflow.Event) (duplicate bool, err error)
}

// Config is one base's catch-up.
type Config struct {
	// Base is the base's config name; Webhook the name of the webhook
	// whose events the caught-up changes become.
	Base, Webhook string
	// Tables are the tables watched.
	Tables []string
	// Every is the poll interval; Lag how old a change must be before a
	// poll looks at it.
	Every, Lag time.Duration
}

// Deps are what a Poller works with.
type Deps struct {
	Base      Base
	Store     Store
	Delivered Delivered
	Sink      Sink
	Clock     seaflow.Clock
	Logger    zerolog.Logger
	// OnRound, when set, is called after each poll of the base with its
	// status (metrics; tests wait on it).
	OnRound func(Status)
}

// Mark is a table's cursor and what its last poll found, as stored.
type Mark struct {
	// Polled is when a poll last claimed the table.
	Polled time.Time `json:"polled"`
	// MTime is the newest _mtime consumed; IDs the rows at exactly it.
	MTime time.Time `json:"mtime"`
	IDs   []string  `json:"ids,omitempty"`
	// Missed is when a poll last found changes no webhook brought, and
	// Brought when one last found changes that webhooks all brought.
	Missed  time.Time `json:"missed,omitzero"`
	Brought time.Time `json:"brought,omitzero"`
	// MissedRows counts the rows of the last poll that found any missed.
	MissedRows int `json:"missed_rows,omitempty"`
}

// Status is a base's catch-up as the status page shows it.
type Status struct {
	Base    string
	Webhook string
	Tables  []string
	// LastPoll is the latest poll of any table (zero: none yet).
	LastPoll time.Time
	// LikelyDisabled is set when the latest poll that found changes found
	// some that no webhook had brought: SeaTable has probably disabled the
	// webhook (re-save it in SeaTable, or run seaflow webhooks sync).
	LikelyDisabled bool
	// Missed is when changes were last found that the webhook never
	// brought, and MissedRows how many that poll found.
	Missed     time.Time
	MissedRows int
}

// Poller is one base's catch-up. It is safe for concurrent use.
type Poller struct {
	cfg Config
	d   Deps

	mu   sync.Mutex
	last Status
}

// New returns a Poller; Run starts it.
func New(cfg Config, d Deps) *Poller {
	tables := append([]string(nil), cfg.Tables...)
	sort.Strings(tables)
	cfg.Tables = tables
	return &Poller{cfg: cfg, d: d, last: Status{Base: cfg.Base, Webhook: cfg.Webhook, Tables: tables}}
}

// Status returns what the last poll found.
func (p *Poller) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.last
	s.Tables = append([]string(nil), s.Tables...)
	return s
}

// Run polls every cfg.Every until ctx ends, the first time at once.
func (p *Poller) Run(ctx context.Context) error {
	for {
		if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.d.Logger.Warn().Err(err).Str("base", p.cfg.Base).Msg("catch-up poll")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.d.Clock.After(p.cfg.Every):
		}
	}
}

// Poll polls every watched table once (a table another replica polled
// within the interval is skipped) and updates the status.
func (p *Poller) Poll(ctx context.Context) error {
	var errs []error
	marks := make([]Mark, 0, len(p.cfg.Tables))
	for _, table := range p.cfg.Tables {
		m, err := p.pollTable(ctx, table)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", table, err))
		}
		marks = append(marks, m)
	}
	st := p.status(marks)
	p.mu.Lock()
	p.last = st
	p.mu.Unlock()
	if p.d.OnRound != nil {
		p.d.OnRound(st)
	}
	if len(errs) > 0 {
		return fmt.Errorf("catch up base %s: %w", p.cfg.Base, errors.Join(errs...))
	}
	return nil
}

// status sums up the tables' marks.
func (p *Poller) status(marks []Mark) Status {
	st := Status{Base: p.cfg.Base, Webhook: p.cfg.Webhook, Tables: p.cfg.Tables}
	var brought time.Time
	for _, m := range marks {
		if m.Polled.After(st.LastPoll) {
			st.LastPoll = m.Polled
		}
		if m.Missed.After(st.Missed) {
			st.Missed, st.MissedRows = m.Missed, m.MissedRows
		}
		if m.Brought.After(brought) {
			brought = m.Brought
		}
	}
	st.LikelyDisabled = !st.Missed.IsZero() && st.Missed.After(brought)
	return st
}

// cursorKey is the state-bucket key of a table's cursor.
func (p *Poller) cursorKey(table string) string { return "catchup/" + p.cfg.Base + "/" + table }

// pollTable runs one poll of table and returns its mark as it stands
// after it (the loaded one when the poll was skipped).
func (p *Poller) pollTable(ctx context.Context, table string) (Mark, error) {
	key := p.cursorKey(table)
	m, rev, err := p.load(ctx, key)
	if err != nil {
		return m, err
	}
	now := p.d.Clock.Now()
	if rev != 0 && now.Before(m.Polled.Add(p.cfg.Every-p.cfg.Every/10)) {
		return m, nil // polled within the interval, here or by another replica
	}
	first := rev == 0
	m.Polled = now
	if first {
		m.MTime = now.UTC()
	}
	rev, ok, err := p.save(ctx, key, m, rev)
	if err != nil || !ok || first {
		return m, err // !ok: another replica claimed the round
	}
	info, err := p.d.Base.Info(ctx)
	if err != nil {
		return m, err
	}
	rows, cols, err := p.query(ctx, table, m, now)
	if err != nil {
		return m, err
	}
	if len(rows) == 0 {
		return m, nil
	}
	brought, err := p.brought(ctx, m.MTime)
	if err != nil {
		return m, err
	}
	var events []seaflow.Event
	found := 0
	for _, r := range rows {
		if r.mtime.Equal(m.MTime) && contains(m.IDs, r.id) {
			continue
		}
		found++
		if brought.has(table, r.id, r.mtime) {
			continue
		}
		events = append(events, p.event(info, table, r, cols))
	}
	if len(events) > 0 {
		for _, ev := range events {
			if _, err := p.d.Sink.Accept(ctx, ev); err != nil {
				return m, fmt.Errorf("store caught-up event %s: %w", ev.ID, err)
			}
		}
		p.d.Logger.Warn().Str("base", p.cfg.Base).Str("table", table).Int("missed", len(events)).
			Msg("catch-up found changes the webhook never delivered; it is likely disabled in SeaTable")
	}
	next := advance(m, rows)
	switch {
	case len(events) > 0:
		next.Missed, next.MissedRows = now, len(events)
	case found > 0:
		next.Brought = now
	}
	if _, ok, err := p.save(ctx, key, next, rev); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("cursor %s changed while polling it", key)
		}
		return m, err
	}
	return next, nil
}

// advance moves the cursor to the newest _mtime of rows (sorted by it),
// keeping every row id at exactly that time.
func advance(m Mark, rows []row) Mark {
	last := rows[len(rows)-1].mtime
	if last.Before(m.MTime) {
		return m
	}
	var ids []string
	if last.Equal(m.MTime) {
		ids = append(ids, m.IDs...)
	}
	for _, r := range rows {
		if r.mtime.Equal(last) && !contains(ids, r.id) {
			ids = append(ids, r.id)
		}
	}
	m.MTime, m.IDs = last, ids
	return m
}

// query reads the rows of table changed at or after the cursor and at
// least Lag ago, oldest first. Base admits the call in the base's budget
// (the daemon's in the bulk lane, waiting at most until the next poll).
func (p *Poller) query(ctx context.Context, table string, m Mark, now time.Time) ([]row, []seatable.Column, error) {
	horizon := now.Add(-p.cfg.Lag)
	sql := "SELECT * FROM `" + table + "` WHERE _mtime >= ? AND _mtime <= ? ORDER BY _mtime LIMIT " + strconv.Itoa(MaxRows)
	res, err := p.d.Base.SQL(ctx, sql, []any{sqlTime(m.MTime), sqlTime(horizon)})
	if err != nil {
		return nil, nil, err
	}
	rows := make([]row, 0, len(res.Rows))
	for _, r := range res.Rows {
		id, _ := r["_id"].(string)
		mt, ok := parseTime(r["_mtime"])
		if id == "" || !ok {
			continue
		}
		ct, _ := parseTime(r["_ctime"])
		rows = append(rows, row{id: id, mtime: mt, ctime: ct, cells: r})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].mtime.Before(rows[j].mtime) })
	return rows, res.Columns, nil
}

// sqlTime renders a time as a SQL parameter: ISO 8601 in UTC, to the
// millisecond, as SeaTable writes _mtime.
func sqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+00:00") }

func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, ok := seatable.ParseDate(s)
	return t.UTC(), ok
}

// row is one changed row a poll read.
type row struct {
	id           string
	mtime, ctime time.Time
	cells        seatable.Row
}

// systemColumns are left out of a caught-up event's row (they are in its
// other fields, or say nothing about the change).
var systemColumns = map[string]bool{"_id": true, "_ctime": true, "_mtime": true, "_creator": true,
	"_last_modifier": true, "_locked": true, "_locked_by": true, "_archived": true, "_participants": true}

// event turns a missed change into the webhook's event.
func (p *Poller) event(info seatable.BaseInfo, table string, r row, cols []seatable.Column) seaflow.Event {
	types := make(map[string]string, len(cols))
	for _, c := range cols {
		types[c.Name] = c.Type
	}
	cells := make(map[string]any, len(r.cells))
	for k, v := range r.cells {
		if systemColumns[k] {
			continue
		}
		switch types[k] {
		case "date", "ctime", "mtime":
			if t, ok := parseTime(v); ok {
				v = t
			}
		}
		cells[k] = v
	}
	op := "modify_row"
	if !r.ctime.IsZero() && r.ctime.Equal(r.mtime) {
		op = "insert_row"
	}
	user, _ := r.cells["_last_modifier"].(string)
	return seaflow.Event{
		ID: EventID(info.UUID, table, r.id, r.mtime), Source: seaflow.SourceWebhook, Name: p.cfg.Webhook, Time: r.mtime,
		Base: p.cfg.Base, OpType: op, Table: table, RowID: r.id, OpUser: user, Row: cells,
		// The app name of seaflow's API token as the last modifier: seaflow's
		// own write [I: the emulator records it so; what SeaTable records
		// for API-token writes is not documented].
		Self:     user != "" && user == info.AppName,
		CaughtUp: true,
	}
}

// EventID is the id of a caught-up change: "catchup/" and 32 hex digits
// of SHA-256 over the base uuid (dashes removed), table, row id and
// _mtime in milliseconds.
func EventID(baseUUID, table, rowID string, mtime time.Time) string {
	h := sha256.New()
	for _, s := range []string{seatable.CanonicalUUID(baseUUID), table, rowID, strconv.FormatInt(mtime.UnixMilli(), 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "catchup/" + hex.EncodeToString(h.Sum(nil))[:32]
}

// deliveries indexes the stored webhook events of the base: op times by
// table and row, and of batch events by table.
type deliveries struct {
	rows    map[[2]string][]time.Time
	batches map[string][]time.Time
}

// brought reads the webhook events of the base stored since (from)
// minus deliverySlack.
func (p *Poller) brought(ctx context.Context, from time.Time) (deliveries, error) {
	evs, err := p.d.Delivered(ctx, from.Add(-deliverySlack))
	if err != nil {
		return deliveries{}, fmt.Errorf("read delivered webhook events: %w", err)
	}
	d := deliveries{rows: map[[2]string][]time.Time{}, batches: map[string][]time.Time{}}
	for _, ev := range evs {
		if ev.Source != seaflow.SourceWebhook || ev.Base != p.cfg.Base || ev.CaughtUp {
			continue
		}
		table, rowID, opType, at := ev.Table, ev.RowID, ev.OpType, ev.Time
		if data, ok := bodyData(ev.Body); ok { // what SeaTable sent, when stored
			if s, ok := data["table_name"].(string); ok {
				table = s
			}
			if s, ok := data["row_id"].(string); ok {
				rowID = s
			}
			if s, ok := data["op_type"].(string); ok {
				opType = s
			}
			if f, ok := data["op_time"].(float64); ok {
				at = time.UnixMilli(int64(f * 1000)).UTC()
			}
		}
		if strings.HasSuffix(opType, "_rows") {
			d.batches[table] = append(d.batches[table], at)
		}
		d.rows[[2]string{table, rowID}] = append(d.rows[[2]string{table, rowID}], at)
	}
	return d, nil
}

// bodyData returns a SeaTable body's data object.
func bodyData(body any) (map[string]any, bool) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, false
	}
	data, ok := m["data"].(map[string]any)
	return data, ok
}

// has reports whether a delivered event describes the change of row id of
// table at mtime.
func (d deliveries) has(table, id string, mtime time.Time) bool {
	near := func(ts []time.Time) bool {
		for _, t := range ts {
			if diff := t.Sub(mtime); diff <= Tolerance && diff >= -Tolerance {
				return true
			}
		}
		return false
	}
	return near(d.rows[[2]string{table, id}]) || near(d.batches[table])
}

func (p *Poller) load(ctx context.Context, key string) (Mark, uint64, error) {
	data, rev, err := p.d.Store.Load(ctx, key)
	if err != nil {
		return Mark{}, 0, fmt.Errorf("load cursor: %w", err)
	}
	var m Mark
	if rev != 0 && len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return Mark{}, 0, fmt.Errorf("decode cursor %s: %w", key, err)
		}
	}
	return m, rev, nil
}

func (p *Poller) save(ctx context.Context, key string, m Mark, rev uint64) (uint64, bool, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return 0, false, fmt.Errorf("encode cursor: %w", err)
	}
	n, ok, err := p.d.Store.Save(ctx, key, data, rev)
	if err != nil {
		return 0, false, fmt.Errorf("save cursor: %w", err)
	}
	return n, ok, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
