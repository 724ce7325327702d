package seatable

import (
	"context"
	"fmt"
	"sort"
)

// LinkSet names links between rows of two tables through one link column.
type LinkSet struct {
	// LinkID is the link column's data.link_id.
	LinkID string
	// Table and OtherTable are the names (or ids) of the two tables, in the
	// order of the link column's table_id / other_table_id.
	Table, OtherTable string
	// Links maps a row id of Table to row ids of OtherTable
	// (other_rows_ids_map).
	Links map[string][]string
}

type linksRequest struct {
	LinkID         string              `json:"link_id"`
	Table          string              `json:"table_name"`
	OtherTable     string              `json:"other_table_name"`
	OtherRowsIDMap map[string][]string `json:"other_rows_ids_map"`
}

// CreateLinks adds the links of ls (POST /links/). SeaTable treats a link
// that already exists as an error. More than MaxRowsPerCall source rows
// are split into several calls, in row id order.
func (c *Client) CreateLinks(ctx context.Context, ls LinkSet) error {
	return c.links(ctx, "create links", "POST", ls)
}

// DeleteLinks removes the links of ls (DELETE /links/). More than
// MaxRowsPerCall source rows are split into several calls.
func (c *Client) DeleteLinks(ctx context.Context, ls LinkSet) error {
	return c.links(ctx, "delete links", "DELETE", ls)
}

func (c *Client) links(ctx context.Context, op, method string, ls LinkSet) error {
	if ls.LinkID == "" || ls.Table == "" || ls.OtherTable == "" {
		return invalidArg(op, "link set needs a link id and both tables")
	}
	rowIDs := make([]string, 0, len(ls.Links))
	for id, others := range ls.Links {
		if id == "" {
			return invalidArg(op, "empty row id")
		}
		for _, o := range others {
			if o == "" {
				return invalidArg(op, fmt.Sprintf("row %s: empty other row id", id))
			}
		}
		rowIDs = append(rowIDs, id)
	}
	sort.Strings(rowIDs)
	for start := 0; start < len(rowIDs); start += MaxRowsPerCall {
		chunk := rowIDs[start:min(start+MaxRowsPerCall, len(rowIDs))]
		m := make(map[string][]string, len(chunk))
		for _, id := range chunk {
			others := ls.Links[id]
			if others == nil {
				others = []string{}
			}
			m[id] = others
		}
		body := linksRequest{LinkID: ls.LinkID, Table: ls.Table, OtherTable: ls.OtherTable, OtherRowsIDMap: m}
		if err := c.do(ctx, request{op: op, method: method, endpoint: "/links/", body: body, rows: len(chunk)}, &successResponse{}); err != nil {
			return err
		}
	}
	return nil
}
