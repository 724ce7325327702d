package seatable

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// MaxRowsPerCall is the most rows one list, append, update, delete, lock or
// unlock call carries; larger batches are split into several calls.
const MaxRowsPerCall = 1000

// Row is one row's cells by column name (the client always asks for
// convert_keys=true). System columns such as _id appear under their own
// names.
type Row = map[string]any

// RowUpdate is the new cells of one row.
type RowUpdate struct {
	RowID string
	Row   Row
}

// ListOptions selects a page of rows.
type ListOptions struct {
	// Table is the table name (or id).
	Table string
	// View is the view name (or id); empty means all rows of the table.
	// With a view only its visible columns come back.
	View string
	// Start is the offset of the first row (0-based).
	Start int
	// Limit is the page size; 0 or more than MaxRowsPerCall means
	// MaxRowsPerCall.
	Limit int
}

type listRowsResponse struct {
	Rows *[]Row `json:"rows"`
}

func (r *listRowsResponse) validate() error {
	if r.Rows == nil {
		return errString("response has no rows")
	}
	return nil
}

func (r *listRowsResponse) rowCount() int {
	if r.Rows == nil {
		return 0
	}
	return len(*r.Rows)
}

// ListRows returns one page of rows, at most MaxRowsPerCall.
func (c *Client) ListRows(ctx context.Context, opt ListOptions) ([]Row, error) {
	const op = "list rows"
	if opt.Table == "" {
		return nil, invalidArg(op, "no table")
	}
	if opt.Start < 0 || opt.Limit < 0 {
		return nil, invalidArg(op, fmt.Sprintf("negative start %d or limit %d", opt.Start, opt.Limit))
	}
	limit := opt.Limit
	if limit == 0 || limit > MaxRowsPerCall {
		limit = MaxRowsPerCall
	}
	q := url.Values{}
	q.Set("table_name", opt.Table)
	if opt.View != "" {
		q.Set("view_name", opt.View)
	}
	q.Set("start", strconv.Itoa(opt.Start))
	q.Set("limit", strconv.Itoa(limit))
	q.Set("convert_keys", "true")
	var out listRowsResponse
	if err := c.do(ctx, request{op: op, method: "GET", endpoint: "/rows/", query: q}, &out); err != nil {
		return nil, err
	}
	return *out.Rows, nil
}

// AllRows returns every row of the table (or view), reading pages of
// MaxRowsPerCall until a short page. Each page is one call.
func (c *Client) AllRows(ctx context.Context, table, view string) ([]Row, error) {
	var all []Row
	for start := 0; ; start += MaxRowsPerCall {
		page, err := c.ListRows(ctx, ListOptions{Table: table, View: view, Start: start, Limit: MaxRowsPerCall})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < MaxRowsPerCall {
			return all, nil
		}
	}
}

type rowResponse map[string]any

func (r *rowResponse) rowCount() int { return 1 }

func (r *rowResponse) validate() error {
	if id, ok := (*r)["_id"].(string); !ok || id == "" {
		return errString("row has no _id")
	}
	return nil
}

// GetRow returns one row. A row that does not exist is a KindInvalid error
// (SeaTable answers 400 or 404).
func (c *Client) GetRow(ctx context.Context, table, rowID string) (Row, error) {
	const op = "get row"
	if table == "" || rowID == "" {
		return nil, invalidArg(op, "no table or row id")
	}
	q := url.Values{}
	q.Set("table_name", table)
	q.Set("convert_keys", "true")
	var out rowResponse
	if err := c.do(ctx, request{op: op, method: "GET", endpoint: "/rows/" + url.PathEscape(rowID) + "/", query: q}, &out); err != nil {
		return nil, err
	}
	return Row(out), nil
}

type appendRowsRequest struct {
	Table string `json:"table_name"`
	Rows  []Row  `json:"rows"`
}

type appendRowsResponse struct {
	RowIDs *[]struct {
		ID string `json:"_id"`
	} `json:"row_ids"`
}

func (r *appendRowsResponse) validate() error {
	if r.RowIDs == nil {
		return errString("response has no row_ids")
	}
	for i, id := range *r.RowIDs {
		if id.ID == "" {
			return fmt.Errorf("row_ids[%d] has no _id", i)
		}
	}
	return nil
}

// AppendRows appends rows to the table and returns the new row ids in the
// order of rows. Batches over MaxRowsPerCall are split into several calls;
// when a later call fails, the ids of the rows already appended are
// returned with the error.
func (c *Client) AppendRows(ctx context.Context, table string, rows []Row) ([]string, error) {
	const op = "append rows"
	if table == "" {
		return nil, invalidArg(op, "no table")
	}
	var ids []string
	for start := 0; start < len(rows); start += MaxRowsPerCall {
		chunk := rows[start:min(start+MaxRowsPerCall, len(rows))]
		var out appendRowsResponse
		r := request{op: op, method: "POST", endpoint: "/rows/", body: appendRowsRequest{Table: table, Rows: chunk}, rows: len(chunk)}
		if err := c.do(ctx, r, &out); err != nil {
			return ids, err
		}
		if len(*out.RowIDs) != len(chunk) {
			return ids, &Error{Kind: KindTransient, Op: op, Status: 200,
				Message: fmt.Sprintf("sent %d rows, response has %d row ids", len(chunk), len(*out.RowIDs))}
		}
		for _, id := range *out.RowIDs {
			ids = append(ids, id.ID)
		}
	}
	return ids, nil
}

type updateRowsRequest struct {
	Table   string       `json:"table_name"`
	Updates []rowUpdateJ `json:"updates"`
}

type rowUpdateJ struct {
	RowID string `json:"row_id"`
	Row   Row    `json:"row"`
}

// UpdateRows writes the given cells of existing rows. Batches over
// MaxRowsPerCall are split into several calls.
func (c *Client) UpdateRows(ctx context.Context, table string, updates []RowUpdate) error {
	const op = "update rows"
	if table == "" {
		return invalidArg(op, "no table")
	}
	for i, u := range updates {
		if u.RowID == "" {
			return invalidArg(op, fmt.Sprintf("update %d has no row id", i))
		}
	}
	for start := 0; start < len(updates); start += MaxRowsPerCall {
		chunk := updates[start:min(start+MaxRowsPerCall, len(updates))]
		body := updateRowsRequest{Table: table, Updates: make([]rowUpdateJ, len(chunk))}
		for i, u := range chunk {
			row := u.Row
			if row == nil {
				row = Row{}
			}
			body.Updates[i] = rowUpdateJ{RowID: u.RowID, Row: row}
		}
		if err := c.do(ctx, request{op: op, method: "PUT", endpoint: "/rows/", body: body, rows: len(chunk)}, &successResponse{}); err != nil {
			return err
		}
	}
	return nil
}

type rowIDsRequest struct {
	Table  string   `json:"table_name"`
	RowIDs []string `json:"row_ids"`
}

// successResponse accepts SeaTable's {"success": true} (and any other
// object without "success": false).
type successResponse struct {
	Success      *bool  `json:"success"`
	ErrorMessage string `json:"error_message"`
}

func (r *successResponse) validate() error {
	if r.Success != nil && !*r.Success {
		msg := r.ErrorMessage
		if msg == "" {
			msg = "no message"
		}
		return refusedError(msg)
	}
	return nil
}

// rowIDsCall sends row ids to one endpoint in calls of MaxRowsPerCall.
func (c *Client) rowIDsCall(ctx context.Context, op, method, endpoint, table string, rowIDs []string) error {
	if table == "" {
		return invalidArg(op, "no table")
	}
	for i, id := range rowIDs {
		if id == "" {
			return invalidArg(op, fmt.Sprintf("row id %d is empty", i))
		}
	}
	for start := 0; start < len(rowIDs); start += MaxRowsPerCall {
		chunk := rowIDs[start:min(start+MaxRowsPerCall, len(rowIDs))]
		r := request{op: op, method: method, endpoint: endpoint, body: rowIDsRequest{Table: table, RowIDs: chunk}, rows: len(chunk)}
		if err := c.do(ctx, r, &successResponse{}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteRows deletes rows by id. Batches over MaxRowsPerCall are split
// into several calls.
func (c *Client) DeleteRows(ctx context.Context, table string, rowIDs []string) error {
	return c.rowIDsCall(ctx, "delete rows", "DELETE", "/rows/", table, rowIDs)
}

// LockRows locks rows (idempotent; an Enterprise feature on SeaTable).
// Batches over MaxRowsPerCall are split into several calls.
func (c *Client) LockRows(ctx context.Context, table string, rowIDs []string) error {
	return c.rowIDsCall(ctx, "lock rows", "PUT", "/lock-rows/", table, rowIDs)
}

// UnlockRows unlocks rows (idempotent). Batches over MaxRowsPerCall are
// split into several calls.
func (c *Client) UnlockRows(ctx context.Context, table string, rowIDs []string) error {
	return c.rowIDsCall(ctx, "unlock rows", "PUT", "/unlock-rows/", table, rowIDs)
}
