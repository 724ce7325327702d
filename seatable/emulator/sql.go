package emulator

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/seaflow/seaflow/seatable/emulator/query"
)

// sqlResultCap is SeaTable's hard cap on SQL SELECT results.
const sqlResultCap = 10000

// sql answers POST /sql and /sql/: {"sql", "convert_keys", "parameters"}.
// SELECT results are keyed by column key, with select options as ids,
// unless convert_keys is true (the raw SQL default is false; the Python
// SDK converts ids to names itself from the metadata). UPDATE and DELETE cost one call however many
// rows they touch, and fire webhooks as a REST write of the same rows
// does (per row, or one *_rows event: Options.WebhookEvents).
func (e *Emulator) sql(c *gwCall) gwResult {
	var req struct {
		SQL         string `json:"sql"`
		ConvertKeys bool   `json:"convert_keys"`
		Parameters  []any  `json:"parameters"`
	}
	if err := c.decode(&req); err != nil {
		return fail(http.StatusBadRequest, "bad request body: "+err.Error())
	}
	if strings.TrimSpace(req.SQL) == "" {
		return fail(http.StatusBadRequest, "sql is empty")
	}
	cat := &sqlCatalog{e: e, b: c.b, now: c.now, app: c.app}
	res, err := query.RunWith(cat, req.SQL, req.Parameters, query.Options{Now: e.now})
	// Rows changed before an error stay changed, and their events go out.
	for _, t := range cat.used {
		if rows := cat.changed[t]; len(rows) > 0 {
			e.apiWriteEvents(c.b, t, cat.kind, c.app, c.now, rows)
		}
	}
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return gwResult{status: http.StatusBadRequest, body: map[string]any{"success": false, "error_message": err.Error()}}
		}
		return gwResult{status: http.StatusInternalServerError, body: map[string]any{"success": false, "error_message": err.Error()}}
	}
	if !res.Select {
		return ok(map[string]any{
			"success": true, "error_message": "", "is_join_stmt": false,
			"metadata": []any{}, "results": []any{}, "affected_rows": res.Affected,
		}, res.Affected)
	}
	meta := make([]any, 0, len(res.Columns))
	keyOf := make(map[string]string, len(res.Columns))
	selects := map[string]*column{} // result name → its select column
	for _, col := range res.Columns {
		key := col.Key
		if key == "" {
			key = col.Name
		}
		keyOf[col.Name] = key
		var data any
		for _, t := range cat.used {
			if tc := t.column(col.Name); tc != nil && tc.key == col.Key {
				if d := c.b.columnData(t, tc); d != nil {
					data = d
				}
				if tc.typ == "single-select" || tc.typ == "multiple-select" {
					selects[col.Name] = tc
				}
				break
			}
		}
		meta = append(meta, map[string]any{"key": key, "name": col.Name, "type": col.Type, "data": data})
	}
	rows := res.Rows
	if len(rows) > sqlResultCap {
		rows = rows[:sqlResultCap]
	}
	results := make([]any, 0, len(rows))
	for _, r := range rows {
		if req.ConvertKeys {
			results = append(results, r)
			continue
		}
		m := make(map[string]any, len(r))
		for k, v := range r {
			if sc := selects[k]; sc != nil {
				v = sc.optionIDs(v)
			}
			if key, ok := keyOf[k]; ok {
				m[key] = v
			} else {
				m[k] = v
			}
		}
		results = append(results, m)
	}
	return ok(map[string]any{
		"success": true, "error_message": "", "is_join_stmt": len(cat.used) > 1,
		"metadata": meta, "results": results,
	}, len(results))
}

// sqlCatalog exposes a base's tables to the query engine. It runs under
// e.mu, like every gateway handler.
type sqlCatalog struct {
	e    *Emulator
	b    *base
	now  time.Time
	app  string // op_user of the writes
	used []*table
	// changed are the rows an UPDATE or DELETE changed, by table, and kind
	// what it did: their events are sent as one write's.
	changed map[*table][]rowChange
	kind    writeKind
}

// Table finds a table by its exact name (as SeaTable matches) or id.
func (c *sqlCatalog) Table(name string) (query.Table, bool) {
	t := c.b.table(name)
	if t == nil {
		return nil, false
	}
	found := false
	for _, u := range c.used {
		found = found || u == t
	}
	if !found {
		c.used = append(c.used, t)
	}
	return &sqlTable{cat: c, t: t}, true
}

// sqlTable is one table as the query engine sees it.
type sqlTable struct {
	cat *sqlCatalog
	t   *table
}

// Name returns the table name.
func (s *sqlTable) Name() string { return s.t.name }

// Columns returns the user columns (the engine adds _id, _ctime, _mtime).
func (s *sqlTable) Columns() []query.Column {
	out := make([]query.Column, 0, len(s.t.columns))
	for _, c := range s.t.columns {
		qc := query.Column{Name: c.name, Key: c.key, Type: c.typ}
		for _, o := range c.options {
			qc.Options = append(qc.Options, o.Name)
		}
		out = append(out, qc)
	}
	return out
}

// Scan calls fn with each row by column name, values as the gateway reads
// them, until fn returns false.
func (s *sqlTable) Scan(fn func(rowID string, cells map[string]any) bool) {
	for _, id := range append([]string(nil), s.t.order...) {
		r := s.t.rows[id]
		if r == nil {
			continue
		}
		if !fn(id, s.cat.b.readRow(s.t, r, byName)) {
			return
		}
	}
}

// Update writes set (by column name) to a row. Formula, link and system
// columns are read-only in SQL. Errors are *query.Error: the caller gets
// a 400.
func (s *sqlTable) Update(rowID string, set map[string]any) error {
	r := s.t.rows[rowID]
	if r == nil {
		return &query.Error{Msg: "row " + rowID + " not found"}
	}
	for k := range set {
		c := s.t.column(k)
		if c == nil && !strings.HasPrefix(k, "_") {
			continue // prepareCells reports it
		}
		if c == nil || c.readOnly() {
			return &query.Error{Msg: "column " + k + " is read-only in SQL"}
		}
	}
	cells, err := s.t.prepareCells(set, strictWrite, true)
	if err != nil {
		return &query.Error{Msg: err.Error()}
	}
	s.cat.note(s.t, modified, updateRow(s.cat.b, s.t, r, cells, s.cat.now, s.cat.app))
	return nil
}

// note records a row a statement changed.
func (c *sqlCatalog) note(t *table, k writeKind, rc rowChange) {
	if c.changed == nil {
		c.changed = map[*table][]rowChange{}
	}
	c.kind = k
	c.changed[t] = append(c.changed[t], rc)
}

// Delete removes a row.
func (s *sqlTable) Delete(rowID string) error {
	r := s.t.rows[rowID]
	if r == nil {
		return &query.Error{Msg: "row " + rowID + " not found"}
	}
	s.cat.note(s.t, deleted, deleteRow(s.cat.b, s.t, r))
	return nil
}
