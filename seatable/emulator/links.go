package emulator

import (
	"fmt"
	"net/http"
	"sort"
)

type linkMode int

const (
	linkCreate linkMode = iota
	linkReplace
	linkDelete
)

// changeLinks answers POST (create), PUT (replace) and DELETE /links/:
// {"link_id", "table_name"|"table_id", "other_table_name"|"other_table_id",
// "other_rows_ids_map": {row_id: [other_row_id, …]}}. Creating an existing
// link is an error (OA44); the whole call is checked before anything
// changes. Link changes fire no webhooks (a known gap: SeaTable sends
// add_link/remove_link events).
func (e *Emulator) changeLinks(c *gwCall, mode linkMode) gwResult {
	var req struct {
		LinkID          string              `json:"link_id"`
		TableName       string              `json:"table_name"`
		TableID         string              `json:"table_id"`
		OtherTableName  string              `json:"other_table_name"`
		OtherTableID    string              `json:"other_table_id"`
		OtherRowsIDsMap map[string][]string `json:"other_rows_ids_map"`
	}
	if err := c.decode(&req); err != nil {
		return fail(http.StatusBadRequest, "bad request body: "+err.Error())
	}
	l := c.b.links[req.LinkID]
	if l == nil {
		return fail(http.StatusBadRequest, "link_id "+req.LinkID+" not found")
	}
	t, bad := c.tableArg(firstNonEmpty(req.TableName, req.TableID))
	if bad != nil {
		return *bad
	}
	o, bad := c.tableArg(firstNonEmpty(req.OtherTableName, req.OtherTableID))
	if bad != nil {
		return *bad
	}
	forward := t.id == l.table1ID && o.id == l.table2ID
	if !forward && !(t.id == l.table2ID && o.id == l.table1ID) {
		return fail(http.StatusBadRequest, "link_id does not join these tables")
	}
	if len(req.OtherRowsIDsMap) == 0 {
		return fail(http.StatusBadRequest, "other_rows_ids_map is empty")
	}
	if len(req.OtherRowsIDsMap) > maxBatch {
		return fail(http.StatusBadRequest, "Number of rows exceeds the limit of 1000")
	}
	pair := func(a, b string) (string, string) {
		if forward {
			return a, b
		}
		return b, a
	}
	linked := func(a, b string) bool {
		x, y := pair(a, b)
		for _, v := range l.ab[x] {
			if v == y {
				return true
			}
		}
		return false
	}
	keys := make([]string, 0, len(req.OtherRowsIDsMap))
	for k := range req.OtherRowsIDsMap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, id := range keys {
		if t.rows[id] == nil {
			return fail(http.StatusBadRequest, fmt.Sprintf("row %s not found in table %s", id, t.name))
		}
		for _, oid := range req.OtherRowsIDsMap[id] {
			if o.rows[oid] == nil {
				return fail(http.StatusBadRequest, fmt.Sprintf("row %s not found in table %s", oid, o.name))
			}
			if mode == linkCreate && linked(id, oid) {
				return fail(http.StatusBadRequest, fmt.Sprintf("link between %s and %s already exists", id, oid))
			}
		}
	}
	count := 0
	for _, id := range keys {
		if mode == linkReplace {
			for _, oid := range append([]string(nil), l.others(t, id)...) {
				l.remove(pair(id, oid))
			}
		}
		for _, oid := range req.OtherRowsIDsMap[id] {
			switch mode {
			case linkCreate, linkReplace:
				l.add(pair(id, oid))
			case linkDelete:
				if l.remove(pair(id, oid)) {
					count++
				}
			}
		}
	}
	if mode == linkDelete {
		return ok(map[string]any{"success": true, "deleted_links_count": count}, len(keys))
	}
	return ok(map[string]any{"success": true}, len(keys))
}

// queryLinks answers POST /query-links/: the linked rows of each listed
// row through one link column, offset/limit per row (default 10, max 100).
func (e *Emulator) queryLinks(c *gwCall) gwResult {
	var req struct {
		TableName      string `json:"table_name"`
		TableID        string `json:"table_id"`
		LinkColumnName string `json:"link_column_name"`
		LinkColumnKey  string `json:"link_column_key"`
		Rows           []struct {
			RowID  string `json:"row_id"`
			Offset int    `json:"offset"`
			Limit  int    `json:"limit"`
		} `json:"rows"`
	}
	if err := c.decode(&req); err != nil {
		return fail(http.StatusBadRequest, "bad request body: "+err.Error())
	}
	t, bad := c.tableArg(firstNonEmpty(req.TableName, req.TableID))
	if bad != nil {
		return *bad
	}
	col := t.column(firstNonEmpty(req.LinkColumnName, req.LinkColumnKey))
	if col == nil || col.typ != "link" {
		return fail(http.StatusBadRequest, "link column not found")
	}
	out := map[string]any{}
	n := 0
	for _, rq := range req.Rows {
		r := t.rows[rq.RowID]
		if r == nil {
			continue
		}
		all, _ := c.b.readValue(t, col, r).([]any)
		limit := rq.Limit
		if limit <= 0 {
			limit = 10
		}
		limit = min(limit, 100)
		from := min(max(rq.Offset, 0), len(all))
		to := min(from+limit, len(all))
		out[rq.RowID] = all[from:to]
		n++
	}
	return ok(out, n)
}

// sortedIDs orders the row ids of t by column col (empty cells last).
func (b *base) sortedIDs(t *table, col *column, desc bool) []string {
	ids := append([]string(nil), t.order...)
	vals := make(map[string]any, len(ids))
	for _, id := range ids {
		vals[id] = b.readValue(t, col, t.rows[id])
	}
	sort.SliceStable(ids, func(i, j int) bool {
		a, z := vals[ids[i]], vals[ids[j]]
		if a == nil || z == nil {
			return a != nil && z == nil
		}
		c := compareValues(a, z)
		if desc {
			return c > 0
		}
		return c < 0
	})
	return ids
}

// compareValues orders numbers numerically, everything else as text.
func compareValues(a, b any) int {
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	if okA && okB {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	sa, sb := fmt.Sprint(a), fmt.Sprint(b)
	switch {
	case sa < sb:
		return -1
	case sa > sb:
		return 1
	}
	return 0
}
