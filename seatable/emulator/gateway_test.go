package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var rowIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// rowsOf lists a crm table's rows, with convert_keys=true unless query
// sets convert_keys itself.
func rowsOf(t *testing.T, e *Emulator, bu *bundle, table, query string) []map[string]any {
	t.Helper()
	if !strings.Contains(query, "convert_keys") {
		query += "&convert_keys=true"
	}
	rec := gw(t, e, bu.crm, bu.token, "GET", "/rows/?table_name="+table+query, nil)
	wantStatus(t, rec, http.StatusOK)
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	mustJSON(t, rec.Body.Bytes(), &out)
	return out.Rows
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{})
	rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	wantStatus(t, rec, http.StatusOK)
	var out struct {
		Metadata struct {
			Tables []struct {
				ID      string `json:"_id"`
				Name    string `json:"name"`
				Columns []struct {
					Key, Name, Type string
					Editable        bool
					Data            map[string]any
				} `json:"columns"`
				Views []struct {
					ID   string `json:"_id"`
					Name string `json:"name"`
				} `json:"views"`
			} `json:"tables"`
		} `json:"metadata"`
	}
	mustJSON(t, rec.Body.Bytes(), &out)
	tables := out.Metadata.Tables
	if len(tables) != 2 || tables[0].ID != "0000" || tables[0].Name != "Deals" || len(tables[1].ID) != 4 {
		t.Fatalf("tables = %+v", tables)
	}
	deals := tables[0]
	if deals.Columns[0].Key != "0000" || deals.Columns[0].Name != "Name" || deals.Columns[0].Type != "text" {
		t.Errorf("first column = %+v", deals.Columns[0])
	}
	stage := deals.Columns[1]
	opts, _ := stage.Data["options"].([]any)
	if len(opts) != 3 {
		t.Fatalf("Stage options = %v", stage.Data)
	}
	if o := opts[0].(map[string]any); o["name"] != "Lead" || len(o["id"].(string)) != 6 {
		t.Errorf("first option = %v", o)
	}
	var double, company bool
	for _, c := range deals.Columns {
		switch c.Name {
		case "Double":
			double = c.Type == "formula" && !c.Editable
		case "Company":
			company = c.Type == "link" && len(c.Data["link_id"].(string)) == 4 && c.Data["other_table_id"] == tables[1].ID
		}
	}
	if !double || !company {
		t.Errorf("formula ok %v, link ok %v", double, company)
	}
	// The link created a reciprocal column in Companies sharing link_id.
	var back string
	for _, c := range tables[1].Columns {
		if c.Type == "link" {
			back = c.Name + "/" + c.Data["link_id"].(string)
			// Both sides keep the link's own table ids.
			if c.Data["table_id"] != tables[0].ID || c.Data["other_table_id"] != tables[1].ID {
				t.Errorf("back column data = %v, want table_id %s and other_table_id %s", c.Data, tables[0].ID, tables[1].ID)
			}
		}
	}
	if !strings.HasPrefix(back, "Deals/") {
		t.Errorf("Companies link column = %q", back)
	}
	if len(deals.Views) != 1 || deals.Views[0].Name != "Default View" {
		t.Errorf("views = %+v", deals.Views)
	}
}

func TestListAndGetRows(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{Limits: []Limit{}})
	rows := rowsOf(t, e, bu, "Deals", "")
	if len(rows) != 2 {
		t.Fatalf("rows = %v", rows)
	}
	acme := rows[0]
	for k, want := range map[string]any{
		"Name": "Acme", "Stage": "Lead", "Amount": 100.0, "Won At": "2030-06-20T00:00:00+00:00",
		"Done": false, "Double": 200.0, "_ctime": "2026-03-01T12:00:00.000+00:00", "Notes": nil,
	} {
		if acme[k] != want {
			t.Errorf("Acme[%q] = %#v, want %#v", k, acme[k], want)
		}
	}
	if tags, _ := acme["Tags"].([]any); len(tags) != 1 || tags[0] != "hot" {
		t.Errorf("Tags = %v", acme["Tags"])
	}
	if id, _ := acme["_id"].(string); !rowIDPattern.MatchString(id) {
		t.Errorf("_id %q is not 22 characters", id)
	}
	if _, ok := acme["_mtime"]; !ok {
		t.Error("no _mtime")
	}

	t.Run("system fields", func(t *testing.T) {
		for k, want := range map[string]any{"_creator": EditUser, "_last_modifier": EditUser, "_locked": nil, "_locked_by": nil, "_archived": false} {
			if v, ok := acme[k]; !ok || v != want {
				t.Errorf("Acme[%q] = %#v (present %v), want %#v", k, v, ok, want)
			}
		}
	})
	t.Run("keys and option ids without convert_keys", func(t *testing.T) {
		for _, query := range []string{"&start=0", "&convert_keys=false"} {
			var raw []map[string]any
			rec := gw(t, e, bu.crm, bu.token, "GET", "/rows/?table_name=Deals"+query, nil)
			wantStatus(t, rec, http.StatusOK)
			mustJSON(t, rec.Body.Bytes(), &struct {
				Rows *[]map[string]any `json:"rows"`
			}{&raw})
			if raw[0]["0000"] != "Acme" || raw[0]["Name"] != nil {
				t.Errorf("row by keys = %v", raw[0])
			}
			stage := e.bases[0].tables[0].column("Stage")
			if id, _ := stage.optionByName("Lead", false); raw[0][stage.key] != id.ID {
				t.Errorf("Stage by key = %v, want option id %s", raw[0][stage.key], id.ID)
			}
		}
	})
	t.Run("get row", func(t *testing.T) {
		rec := gw(t, e, bu.crm, bu.token, "GET", "/rows/"+acme["_id"].(string)+"/?table_name=Deals&convert_keys=true", nil)
		wantStatus(t, rec, http.StatusOK)
		if got := decodeMap(t, rec); got["Name"] != "Acme" {
			t.Errorf("row = %v", got)
		}
		rec = gw(t, e, bu.crm, bu.token, "GET", "/rows/AAAAAAAAAAAAAAAAAAAAAA/?table_name=Deals", nil)
		wantStatus(t, rec, http.StatusNotFound)
		if got := decodeMap(t, rec)["error_message"]; got != "row _id not exits" {
			t.Errorf("error_message = %v", got)
		}
	})
	t.Run("bad table", func(t *testing.T) {
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/rows/?table_name=Nope", nil), http.StatusNotFound)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/rows/", nil), http.StatusBadRequest)
	})
	t.Run("paging caps at 1000", func(t *testing.T) {
		batch := make([]map[string]any, 1000)
		for i := range batch {
			batch[i] = map[string]any{"Name": fmt.Sprintf("n%04d", i)}
		}
		for range 2 {
			wantStatus(t, gw(t, e, bu.crm, bu.token, "POST", "/rows/", map[string]any{"table_name": "Deals", "rows": batch}), http.StatusOK)
		}
		if got := len(rowsOf(t, e, bu, "Deals", "&limit=5000")); got != 1000 {
			t.Errorf("limit=5000 gave %d rows, want 1000", got)
		}
		if got := len(rowsOf(t, e, bu, "Deals", "")); got != 1000 {
			t.Errorf("default limit gave %d rows, want 1000", got)
		}
		page := rowsOf(t, e, bu, "Deals", "&start=1000&limit=1000")
		if len(page) != 1000 || page[0]["Name"] != "n0998" {
			t.Errorf("second page: %d rows, first %v", len(page), page[0]["Name"])
		}
		if got := len(rowsOf(t, e, bu, "Deals", "&start=2000")); got != 2 {
			t.Errorf("last page %d rows, want 2", got)
		}
		desc := rowsOf(t, e, bu, "Deals", "&order_by=Amount&direction=desc&limit=2")
		if desc[0]["Name"] != "Globex" || desc[1]["Name"] != "Acme" {
			t.Errorf("order_by Amount desc: %v, %v", desc[0]["Name"], desc[1]["Name"])
		}
	})
}

func TestWriteRows(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{Limits: []Limit{}})
	rec := gw(t, e, bu.crm, bu.token, "POST", "/rows/", map[string]any{"table_name": "Deals", "rows": []any{
		map[string]any{"Name": "Initech", "Stage": "Negotiation", "Amount": "42.5", "Won At": "20.06.2030 23:55", "Tags": []any{"hot", "new"}, "Done": true, "Double": 1},
		map[string]any{"Name": "Hooli", "Won At": "not a date", "Done": 1},
	}})
	wantStatus(t, rec, http.StatusOK)
	var ins struct {
		Count  int                 `json:"inserted_row_count"`
		RowIDs []map[string]string `json:"row_ids"`
		First  map[string]any      `json:"first_row"`
	}
	mustJSON(t, rec.Body.Bytes(), &ins)
	if ins.Count != 2 || len(ins.RowIDs) != 2 || !rowIDPattern.MatchString(ins.RowIDs[0]["_id"]) {
		t.Fatalf("append answer = %s", rec.Body)
	}
	if ins.First["0000"] != "Initech" || ins.First["_id"] != ins.RowIDs[0]["_id"] {
		t.Errorf("first_row not keyed by column keys: %v", ins.First)
	}
	rows := rowsOf(t, e, bu, "Deals", "")
	initech, hooli := rows[2], rows[3]
	for k, want := range map[string]any{
		"Stage": "Negotiation", "Amount": 42.5, "Won At": "2030-06-20T23:55:00+00:00", "Done": true, "Double": 85.0,
	} {
		if initech[k] != want {
			t.Errorf("Initech[%q] = %#v, want %#v", k, initech[k], want)
		}
	}
	if tags := fmt.Sprint(initech["Tags"]); tags != "[hot new]" {
		t.Errorf("Tags = %s", tags)
	}
	if hooli["Won At"] != nil || hooli["Done"] != false || hooli["Double"] != "#VALUE!" {
		t.Errorf("Hooli: unparseable date %v (want null), checkbox 1 %v (want false), formula on empty %v", hooli["Won At"], hooli["Done"], hooli["Double"])
	}

	t.Run("unknown options were added", func(t *testing.T) {
		rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
		body := rec.Body.String()
		for _, name := range []string{`"Negotiation"`, `"new"`} {
			if !strings.Contains(body, name) {
				t.Errorf("metadata lacks option %s", name)
			}
		}
	})
	t.Run("update", func(t *testing.T) {
		id := initech["_id"].(string)
		bu.clock.Advance(5e9)
		rec := gw(t, e, bu.crm, bu.token, "PUT", "/rows/", map[string]any{"table_name": "Deals", "updates": []any{
			map[string]any{"row_id": id, "row": map[string]any{"Stage": "Won", "Amount": 7, "Double": 99, "_id": "x", "_ctime": "2000-01-01T00:00:00.000+00:00"}},
		}})
		wantStatus(t, rec, http.StatusOK)
		if got := decodeMap(t, rec)["success"]; got != true {
			t.Errorf("success = %v", got)
		}
		rows, _ := e.Rows(bu.crm.UUID, "Deals")
		r := rows[2]
		if r["Stage"] != "Won" || r["Amount"] != 7.0 || r["Double"] != 14.0 || r["Name"] != "Initech" {
			t.Errorf("after update: %v (formula writes must be ignored)", r)
		}
		if r["_mtime"] == r["_ctime"] || r["_ctime"] != initech["_ctime"] || r["_id"] != id {
			t.Errorf("system columns: _id %v, _ctime %v, _mtime %v (want _id and _ctime kept, _mtime advanced)", r["_id"], r["_ctime"], r["_mtime"])
		}
	})
	t.Run("unknown names and column keys are ignored", func(t *testing.T) {
		id := initech["_id"].(string)
		amount := e.bases[0].tables[0].column("Amount").key
		rec := gw(t, e, bu.crm, bu.token, "PUT", "/rows/", map[string]any{"table_name": "Deals", "updates": []any{
			map[string]any{"row_id": id, "row": map[string]any{"Amuont": 1, amount: 2, "Name": "Initech 2"}},
		}})
		wantStatus(t, rec, http.StatusOK)
		rows, _ := e.Rows(bu.crm.UUID, "Deals")
		if r := rows[2]; r["Name"] != "Initech 2" || r["Amount"] != 7.0 {
			t.Errorf("after update: Name %v, Amount %v (want the name written, the typo and the key dropped)", r["Name"], r["Amount"])
		}
		rec = gw(t, e, bu.crm, bu.token, "POST", "/rows/", map[string]any{"table_name": "Deals", "rows": []any{map[string]any{"Nope": 1}}})
		wantStatus(t, rec, http.StatusOK)
		rec = gw(t, e, bu.crm, bu.token, "DELETE", "/rows/", map[string]any{"table_name": "Deals", "row_ids": []any{decodeMap(t, rec)["row_ids"].([]any)[0].(map[string]any)["_id"]}})
		wantStatus(t, rec, http.StatusOK)
	})
	t.Run("errors", func(t *testing.T) {
		id := initech["_id"].(string)
		cases := []struct {
			name, method string
			body         any
			status       int
		}{
			{"bad number", "PUT", map[string]any{"table_name": "Deals", "updates": []any{map[string]any{"row_id": id, "row": map[string]any{"Amount": "x"}}}}, 400},
			{"missing row", "PUT", map[string]any{"table_name": "Deals", "updates": []any{map[string]any{"row_id": "AAAAAAAAAAAAAAAAAAAAAA", "row": map[string]any{"Amount": 1}}}}, 404},
			{"link cell", "POST", map[string]any{"table_name": "Deals", "rows": []any{map[string]any{"Company": []any{"x"}}}}, 400},
			{"empty", "POST", map[string]any{"table_name": "Deals", "rows": []any{}}, 400},
			{"not json", "POST", "{", 400},
			{"bad table", "DELETE", map[string]any{"table_name": "X", "row_ids": []any{id}}, 404},
		}
		for _, c := range cases {
			rec := gw(t, e, bu.crm, bu.token, c.method, "/rows/", c.body)
			if rec.Code != c.status {
				t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.status, rec.Body)
			}
		}
		if got := len(rowsOf(t, e, bu, "Deals", "")); got != 4 {
			t.Errorf("failed writes changed the table: %d rows", got)
		}
	})
	t.Run("batches over 1000", func(t *testing.T) {
		rows := make([]any, 1001)
		ids := make([]any, 1001)
		updates := make([]any, 1001)
		for i := range rows {
			rows[i] = map[string]any{"Name": "x"}
			ids[i] = initech["_id"]
			updates[i] = map[string]any{"row_id": initech["_id"], "row": map[string]any{"Name": "y"}}
		}
		for _, c := range []struct {
			method, suffix string
			body           any
		}{
			{"POST", "/rows/", map[string]any{"table_name": "Deals", "rows": rows}},
			{"PUT", "/rows/", map[string]any{"table_name": "Deals", "updates": updates}},
			{"DELETE", "/rows/", map[string]any{"table_name": "Deals", "row_ids": ids}},
			{"PUT", "/lock-rows/", map[string]any{"table_name": "Deals", "row_ids": ids}},
		} {
			wantStatus(t, gw(t, e, bu.crm, bu.token, c.method, c.suffix, c.body), http.StatusBadRequest)
		}
	})
	t.Run("lock and unlock", func(t *testing.T) {
		id := initech["_id"].(string)
		for _, suffix := range []string{"/lock-rows/", "/lock-rows/"} {
			rec := gw(t, e, bu.crm, bu.token, "PUT", suffix, map[string]any{"table_name": "Deals", "row_ids": []any{id}})
			wantStatus(t, rec, http.StatusOK)
		}
		rows, _ := e.Rows(bu.crm.UUID, "Deals")
		if rows[2]["_locked"] != true || rows[2]["_locked_by"] != "seaflow" {
			t.Errorf("_locked = %v, _locked_by = %v", rows[2]["_locked"], rows[2]["_locked_by"])
		}
		wantStatus(t, gw(t, e, bu.crm, bu.token, "PUT", "/unlock-rows/", map[string]any{"table_name": "Deals", "row_ids": []any{id}}), http.StatusOK)
		rows, _ = e.Rows(bu.crm.UUID, "Deals")
		if rows[2]["_locked"] != nil || rows[2]["_locked_by"] != nil {
			t.Errorf("still locked: %v", rows[2])
		}
	})
	t.Run("delete", func(t *testing.T) {
		id := hooli["_id"].(string)
		rec := gw(t, e, bu.crm, bu.token, "DELETE", "/rows/", map[string]any{"table_name": "Deals", "row_ids": []any{id}})
		wantStatus(t, rec, http.StatusOK)
		// Deleting again is harmless.
		wantStatus(t, gw(t, e, bu.crm, bu.token, "DELETE", "/rows/", map[string]any{"table_name": "Deals", "row_ids": []any{id}}), http.StatusOK)
		if got := len(rowsOf(t, e, bu, "Deals", "")); got != 3 {
			t.Errorf("%d rows after delete, want 3", got)
		}
	})
}

func TestLinks(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{Limits: []Limit{}})
	deals, _ := e.Rows(bu.crm.UUID, "Deals")
	comps, _ := e.Rows(bu.crm.UUID, "Companies")
	var meta struct {
		Metadata struct {
			Tables []struct {
				Columns []struct {
					Name string
					Data map[string]any
				}
			}
		}
	}
	mustJSON(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil).Body.Bytes(), &meta)
	var linkID string
	for _, c := range meta.Metadata.Tables[0].Columns {
		if c.Name == "Company" {
			linkID = c.Data["link_id"].(string)
		}
	}
	body := map[string]any{
		"link_id": linkID, "table_name": "Deals", "other_table_name": "Companies",
		"other_rows_ids_map": map[string]any{deals[0]["_id"].(string): []any{comps[0]["_id"], comps[1]["_id"]}},
	}
	rec := gw(t, e, bu.crm, bu.token, "POST", "/links/", body)
	wantStatus(t, rec, http.StatusOK)
	wantStatus(t, gw(t, e, bu.crm, bu.token, "POST", "/links/", body), http.StatusBadRequest) // exists already

	deals, _ = e.Rows(bu.crm.UUID, "Deals")
	links, _ := deals[0]["Company"].([]any)
	if len(links) != 2 || links[0].(map[string]any)["display_value"] != "Acme Corp" {
		t.Fatalf("Company = %v", deals[0]["Company"])
	}
	comps, _ = e.Rows(bu.crm.UUID, "Companies")
	if back, _ := comps[1]["Deals"].([]any); len(back) != 1 || back[0].(map[string]any)["display_value"] != "Acme" {
		t.Errorf("reciprocal Deals = %v", comps[1]["Deals"])
	}

	rec = gw(t, e, bu.crm, bu.token, "POST", "/query-links/", map[string]any{
		"table_name": "Deals", "link_column_name": "Company",
		"rows": []any{map[string]any{"row_id": deals[0]["_id"], "limit": 1}},
	})
	wantStatus(t, rec, http.StatusOK)
	if got := decodeMap(t, rec)[deals[0]["_id"].(string)].([]any); len(got) != 1 {
		t.Errorf("query-links limit 1 gave %v", got)
	}

	body["other_rows_ids_map"] = map[string]any{deals[0]["_id"].(string): []any{comps[0]["_id"]}}
	rec = gw(t, e, bu.crm, bu.token, "DELETE", "/links/", body)
	wantStatus(t, rec, http.StatusOK)
	if m := decodeMap(t, rec); m["deleted_links_count"] != 1.0 || m["success"] != true {
		t.Errorf("delete links answer %v", m)
	}
	// A pair that is not linked counts as deleted too (OAT #9).
	if m := decodeMap(t, gw(t, e, bu.crm, bu.token, "DELETE", "/links/", body)); m["deleted_links_count"] != 1.0 {
		t.Errorf("delete of a missing link: %v", m)
	}
	deals, _ = e.Rows(bu.crm.UUID, "Deals")
	if links, _ := deals[0]["Company"].([]any); len(links) != 1 {
		t.Errorf("after delete: %v", deals[0]["Company"])
	}

	t.Run("from the other side", func(t *testing.T) {
		// Companies' column "Deals" links back: its own table first.
		back := map[string]any{
			"link_id": linkID, "table_name": "Companies", "other_table_name": "Deals",
			"other_rows_ids_map": map[string]any{comps[1]["_id"].(string): []any{deals[1]["_id"]}},
		}
		wantStatus(t, gw(t, e, bu.crm, bu.token, "POST", "/links/", back), http.StatusOK)
		deals, _ := e.Rows(bu.crm.UUID, "Deals")
		if links, _ := deals[1]["Company"].([]any); len(links) != 1 || links[0].(map[string]any)["row_id"] != comps[1]["_id"] {
			t.Errorf("Globex Company = %v", deals[1]["Company"])
		}
	})
	t.Run("cells show at most 50 links", func(t *testing.T) {
		rows := make([]any, 60)
		for i := range rows {
			rows[i] = map[string]any{"Title": fmt.Sprintf("c%d", i)}
		}
		rec := gw(t, e, bu.crm, bu.token, "POST", "/rows/", map[string]any{"table_name": "Companies", "rows": rows})
		wantStatus(t, rec, http.StatusOK)
		var ids []any
		for _, r := range decodeMap(t, rec)["row_ids"].([]any) {
			ids = append(ids, r.(map[string]any)["_id"])
		}
		dealID := deals[0]["_id"].(string)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "POST", "/links/", map[string]any{
			"link_id": linkID, "table_name": "Deals", "other_table_name": "Companies",
			"other_rows_ids_map": map[string]any{dealID: ids},
		}), http.StatusOK)
		got, _ := rowsOf(t, e, bu, "Deals", "")[0]["Company"].([]any)
		if len(got) != 50 {
			t.Errorf("list shows %d links, want 50", len(got))
		}
		m := decodeMap(t, gw(t, e, bu.crm, bu.token, "POST", "/sql", map[string]any{"sql": "SELECT Company FROM Deals LIMIT 1", "convert_keys": true}))
		if got, _ := m["results"].([]any)[0].(map[string]any)["Company"].([]any); len(got) != 50 {
			t.Errorf("SQL shows %d links, want 50", len(got))
		}
		rec = gw(t, e, bu.crm, bu.token, "POST", "/query-links/", map[string]any{
			"table_name": "Deals", "link_column_name": "Company",
			"rows": []any{map[string]any{"row_id": dealID, "offset": 50, "limit": 100}},
		})
		if got := decodeMap(t, rec)[dealID].([]any); len(got) != 11 {
			t.Errorf("query-links past 50 gave %d links, want 11", len(got))
		}
	})
}
