package emulator

import (
	"fmt"
	"strings"
	"time"
)

// The bodies of outgoing webhooks: {"event": "update", "data": <the
// table event>}, serialized as Python's json.dumps and signed as sent
// (webhook.go). SeaTable forwards every event of the base's table-events
// channel (EV webhook.py add_jobs), so besides row events the emulator
// sends link events. Raw stored values throughout: option ids for
// selects, dates as stored strings without an offset ("2030-06-20 23:55"),
// long text as an object {text, preview, checklist, images, links}; an
// empty old value is "" (HELP examples).

// WebhookModel says which events a multi-row API write sends. Whether one
// REST call for several rows arrives as one *_rows event or as one event
// per row is [?]; both shapes are in SeaTable's own event consumers (EV
// activities/handlers.py), so the emulator can send either.
type WebhookModel string

const (
	// PerRow sends insert_row, modify_row or delete_row for every row an
	// API write (REST append/update/delete, SQL UPDATE/DELETE) changes.
	// It is the default.
	PerRow WebhookModel = "per-row"
	// Batch sends one append_rows, modify_rows or delete_rows per call:
	// row_id, row_name and row_data of the first changed row, and
	// row_count, the number of rows the call changed.
	Batch WebhookModel = "batch"
)

// WebhookModels lists the models by name.
var WebhookModels = []WebhookModel{PerRow, Batch}

// ParseWebhookModel checks a model name.
func ParseWebhookModel(s string) (WebhookModel, error) {
	for _, m := range WebhookModels {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("webhook events %q are not per-row or batch", s)
}

// apiWriteEvents queues the events of one API write that changed rows
// (modifications that changed nothing are left out), by the emulator's
// model. API writes carry op_app, the token's app name [I].
func (e *Emulator) apiWriteEvents(b *base, t *table, k writeKind, app string, now time.Time, rows []rowChange) {
	var changed []rowChange
	for _, rc := range rows {
		if k != modified || len(rc.cells) > 0 {
			changed = append(changed, rc)
		}
	}
	if len(changed) == 0 {
		return
	}
	single := map[writeKind]string{inserted: "insert_row", modified: "modify_row", deleted: "delete_row"}[k]
	if e.hookModel == Batch {
		first := changed[0]
		op := map[writeKind]string{inserted: "append_rows", modified: "modify_rows", deleted: "delete_rows"}[k]
		e.rowEvent(b, t, first.r, op, app, now, first.rowName, first.cells, pyObj{{"row_count", len(changed)}, {"op_app", app}})
		return
	}
	for _, rc := range changed {
		e.rowEvent(b, t, rc.r, single, app, now, rc.rowName, rc.cells, pyObj{{"op_app", app}})
	}
}

// rowEvent queues a row event for the webhooks of b, serialized now (so it
// reflects the table at the time of the change). Callers hold e.mu. Shape
// (HELP, EV activities/db.py): dtable_uuid as 32 hex, row_id, op_user,
// op_type, op_time, table_id, table_name, row_name, row_data: [{column_key,
// column_name, column_type, column_data, value, old_value}], then extra
// (row_count, op_app). cells nil sends "row_data": [], as SeaTable does for
// a delete_row and for a row inserted in the UI.
func (e *Emulator) rowEvent(b *base, t *table, r *row, opType, opUser string, now time.Time, rowName any, cells []change, extra pyObj) {
	if !b.hooksActive() {
		return
	}
	rowData := make([]any, 0, len(cells))
	for _, ch := range cells {
		rowData = append(rowData, b.hookCell(t, ch.col, ch.new, ch.old))
	}
	data := pyObj{
		{"dtable_uuid", strings.ReplaceAll(b.uuid, "-", "")},
		{"row_id", r.id},
		{"op_user", opUser},
		{"op_type", opType},
		{"op_time", opTime(now)},
		{"table_id", t.id},
		{"table_name", t.name},
		{"row_name", pyValue(rowName)},
		{"row_data", rowData},
	}
	e.queueEvent(b, append(data, extra...), now)
}

// linkSide is one row of a link event, with its link cell before and
// after.
type linkSide struct {
	t        *table
	rowID    string
	old, now []string
	// changed is false for the side a replace did not name: its row_data
	// is empty [I].
	changed bool
}

// linkEvent queues a link event (add_link, remove_link, update_links):
// table1_* and row_data1 for the link's first table, table2_* and
// row_data2 for the other, and no row_id, table_name or row_data (EV
// activities/db.py save_user_activities_by_link). A row_data holds the
// side's link cell with the linked row ids as value and old_value [I].
func (e *Emulator) linkEvent(b *base, l *link, opType, opUser string, now time.Time, one, two linkSide) {
	if !b.hooksActive() {
		return
	}
	data := pyObj{
		{"dtable_uuid", strings.ReplaceAll(b.uuid, "-", "")},
		{"op_user", opUser},
		{"op_type", opType},
		{"op_time", opTime(now)},
	}
	for i, side := range []linkSide{one, two} {
		n := string(rune('1' + i))
		var rowName any = ""
		if r := side.t.rows[side.rowID]; r != nil {
			rowName = b.rowName(side.t, r)
		}
		cells := []any{}
		if c := side.t.linkColumn(l.id); c != nil && side.changed {
			cells = append(cells, b.hookCell(side.t, c, idList(side.now), idList(side.old)))
		}
		data = append(data,
			pyKV{"table" + n + "_id", side.t.id},
			pyKV{"table" + n + "_name", side.t.name},
			pyKV{"table" + n + "_row_id", side.rowID},
			pyKV{"table" + n + "_row_name", pyValue(rowName)},
			pyKV{"row_data" + n, cells},
		)
	}
	e.queueEvent(b, append(data, pyKV{"op_app", opUser}), now)
}

// opTime is op_time: epoch seconds as a float, to the millisecond.
func opTime(now time.Time) float64 { return float64(now.UnixMilli()) / 1000 }

// idList turns row ids into a cell value; nil for none.
func idList(ids []string) any {
	if len(ids) == 0 {
		return nil
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// hooksActive reports whether b has a webhook that is not disabled.
func (b *base) hooksActive() bool {
	for _, h := range b.webhooks {
		if !h.disabled {
			return true
		}
	}
	return false
}

// hookCell is one row_data entry.
func (b *base) hookCell(t *table, c *column, value, old any) pyObj {
	var data any
	if d := b.columnData(t, c); d != nil {
		data = pyValue(d)
	}
	oldValue := hookValue(c, old)
	if oldValue == nil {
		oldValue = ""
	}
	return pyObj{
		{"column_key", c.key},
		{"column_name", c.name},
		{"column_type", c.typ},
		{"column_data", data},
		{"value", hookValue(c, value)},
		{"old_value", oldValue},
	}
}

// hookValue renders a stored value as a webhook carries it: long text as
// SeaTable stores it, an object (PY utils.convert_row reads its "text"),
// everything else raw.
func hookValue(c *column, v any) any {
	if s, ok := v.(string); ok && c.typ == "long-text" {
		return longText(s)
	}
	return pyValue(v)
}

// longText is the stored form of a long-text cell (its fields as SeaTable's
// own importers build it, EV dtable_io/excel.py): the markdown, a preview
// (the first 150 characters on one line), the checklist counts of "[x]"
// and "[ ]", and the images and links it embeds (the emulator finds none).
func longText(s string) pyObj {
	preview := []rune(strings.ReplaceAll(s, "\n", " "))
	if len(preview) > 150 {
		preview = preview[:150]
	}
	done, open := strings.Count(s, "[x]"), strings.Count(s, "[ ]")
	return pyObj{
		{"text", s},
		{"preview", string(preview)},
		{"checklist", pyObj{{"completed", done}, {"total", done + open}}},
		{"images", []any{}},
		{"links", []any{}},
	}
}

// linkColumn returns t's column of link linkID.
func (t *table) linkColumn(linkID string) *column {
	for _, c := range t.columns {
		if c.typ == "link" && c.linkID == linkID {
			return c
		}
	}
	return nil
}
