package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// EditRequest is a change made "as a user" (POST /_emulator/edit). Row is
// keyed by column name (or key), values as the API writes them (select
// option names; unknown names become new options).
type EditRequest struct {
	// BaseUUID names the base: its uuid (with or without dashes) or name.
	BaseUUID  string         `json:"base_uuid"`
	TableName string         `json:"table_name"`
	Op        string         `json:"op"` // "insert", "update" or "delete"
	RowID     string         `json:"row_id,omitempty"`
	Row       map[string]any `json:"row,omitempty"`
}

// EditUser is the op_user of webhooks fired by Edit.
const EditUser = "emulator-user@auth.local"

// ErrNotFound is returned (wrapped) when Edit or Rows names a missing
// base, table or row.
var ErrNotFound = errors.New("not found")

// Edit applies a user change and fires webhooks as SeaTable does for a
// change in its UI: an insert is an empty insert_row (row_data: []), and
// its values follow as a modify_row; a delete is a delete_row with
// row_data: []. It returns the row id (the new one for insert). It does
// not count against the limits and is not in the call log.
func (e *Emulator) Edit(req EditRequest) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.notifyLocked()
	b := e.baseByRef(req.BaseUUID)
	if b == nil {
		return "", fmt.Errorf("edit: base %q: %w", req.BaseUUID, ErrNotFound)
	}
	t := b.table(req.TableName)
	if t == nil {
		return "", fmt.Errorf("edit: table %q: %w", req.TableName, ErrNotFound)
	}
	now := e.now()
	switch req.Op {
	case "insert":
		cells, err := t.prepareCells(req.Row, strictWrite, true)
		if err != nil {
			return "", fmt.Errorf("edit: %w", err)
		}
		empty := insertRow(b, t, nil, now, EditUser)
		e.rowEvent(b, t, empty.r, "insert_row", EditUser, now, "", nil, nil)
		if rc := updateRow(b, t, empty.r, cells, now, EditUser); len(rc.cells) > 0 {
			e.rowEvent(b, t, rc.r, "modify_row", EditUser, now, rc.rowName, rc.cells, nil)
		}
		return empty.r.id, nil
	case "update", "delete":
		r := t.rows[req.RowID]
		if r == nil {
			return "", fmt.Errorf("edit: row %q: %w", req.RowID, ErrNotFound)
		}
		if req.Op == "delete" {
			rc := deleteRow(b, t, r)
			e.rowEvent(b, t, r, "delete_row", EditUser, now, rc.rowName, nil, nil)
			return r.id, nil
		}
		cells, err := t.prepareCells(req.Row, strictWrite, true)
		if err != nil {
			return "", fmt.Errorf("edit: %w", err)
		}
		if rc := updateRow(b, t, r, cells, now, EditUser); len(rc.cells) > 0 {
			e.rowEvent(b, t, r, "modify_row", EditUser, now, rc.rowName, rc.cells, nil)
		}
		return r.id, nil
	}
	return "", fmt.Errorf("edit: op %q is not insert, update or delete", req.Op)
}

// Rows returns a table's current rows in insertion order, keyed by column
// name, values as the gateway reads them with convert_keys, system fields
// included.
func (e *Emulator) Rows(baseUUID, tableName string) ([]map[string]any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.baseByRef(baseUUID)
	if b == nil {
		return nil, fmt.Errorf("rows: base %q: %w", baseUUID, ErrNotFound)
	}
	t := b.table(tableName)
	if t == nil {
		return nil, fmt.Errorf("rows: table %q: %w", tableName, ErrNotFound)
	}
	out := make([]map[string]any, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, b.readRow(t, t.rows[id], byName))
	}
	return out, nil
}

// serveRows answers GET /_emulator/rows?base_uuid=…&table_name=… with
// {"rows":[…]}.
func (e *Emulator) serveRows(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rows, err := e.Rows(q.Get("base_uuid"), q.Get("table_name"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"error_msg": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rows": rows})
}

// serveEdit answers POST /_emulator/edit with {"row_id": …}.
func (e *Emulator) serveEdit(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error_msg": "use POST"})
		return
	}
	var req EditRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error_msg": "bad body: " + err.Error()})
		return
	}
	id, err := e.Edit(req)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"error_msg": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error_msg": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"row_id": id})
	}
}
