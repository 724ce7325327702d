package emulator

import (
	"fmt"
	"net/http"
	"slices"
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
// changes. Every linked or unlinked pair sends an add_link or remove_link
// event, every row a replace names an update_links event (one event per
// pair or row is [I]).
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
	t1, t2 := c.b.tableByID(l.table1ID), c.b.tableByID(l.table2ID)
	// sides returns the two rows of a pair with their link cells as they
	// are now; done fills in the cells after the change.
	sides := func(a, z string) (linkSide, linkSide) {
		x, y := pair(a, z)
		return linkSide{t: t1, rowID: x, old: slices.Clone(l.ab[x]), changed: true},
			linkSide{t: t2, rowID: y, old: slices.Clone(l.ba[y]), changed: true}
	}
	done := func(one, two *linkSide) {
		one.now, two.now = slices.Clone(l.ab[one.rowID]), slices.Clone(l.ba[two.rowID])
	}
	count := 0
	for _, id := range keys {
		if mode == linkReplace {
			var one, two linkSide
			if forward {
				one = linkSide{t: t1, rowID: id, old: slices.Clone(l.ab[id]), changed: true}
				two = linkSide{t: t2}
			} else {
				one = linkSide{t: t1}
				two = linkSide{t: t2, rowID: id, old: slices.Clone(l.ba[id]), changed: true}
			}
			for _, oid := range append([]string(nil), l.others(t, id)...) {
				l.remove(pair(id, oid))
			}
			for _, oid := range req.OtherRowsIDsMap[id] {
				l.add(pair(id, oid))
			}
			// The other side names the first of the new rows [I].
			if others := req.OtherRowsIDsMap[id]; len(others) > 0 {
				if forward {
					two.rowID = others[0]
				} else {
					one.rowID = others[0]
				}
			}
			one.now, two.now = slices.Clone(l.ab[one.rowID]), slices.Clone(l.ba[two.rowID])
			e.linkEvent(c.b, l, "update_links", c.app, c.now, one, two)
			continue
		}
		for _, oid := range req.OtherRowsIDsMap[id] {
			one, two := sides(id, oid)
			switch mode {
			case linkCreate:
				l.add(pair(id, oid))
				done(&one, &two)
				e.linkEvent(c.b, l, "add_link", c.app, c.now, one, two)
			case linkDelete:
				// Every pair asked for counts, linked or not (OAT #9).
				count++
				if l.remove(pair(id, oid)) {
					done(&one, &two)
					e.linkEvent(c.b, l, "remove_link", c.app, c.now, one, two)
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
		all := c.b.linkCells(t, col, r, -1)
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
		vals[id] = b.readValue(t, col, t.rows[id], byName)
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
