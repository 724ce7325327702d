package emulator

import (
	"net/http"
	"strings"
	"testing"
)

func TestSQL(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{})
	sql := func(t *testing.T, suffix string, body map[string]any) map[string]any {
		t.Helper()
		rec := gw(t, e, bu.crm, bu.token, "POST", suffix, body)
		wantStatus(t, rec, http.StatusOK)
		return decodeMap(t, rec)
	}
	t.Run("select by names", func(t *testing.T) {
		m := sql(t, "/sql", map[string]any{"sql": "SELECT Name, Amount FROM Deals WHERE Stage = 'Won'", "convert_keys": true})
		if m["success"] != true || m["error_message"] != "" || m["is_join_stmt"] != false {
			t.Errorf("envelope %v", m)
		}
		res, _ := m["results"].([]any)
		if len(res) != 1 || res[0].(map[string]any)["Name"] != "Globex" || res[0].(map[string]any)["Amount"] != 250.5 {
			t.Errorf("results %v", m["results"])
		}
		meta, _ := m["metadata"].([]any)
		if len(meta) != 2 || meta[0].(map[string]any)["key"] != "0000" || meta[1].(map[string]any)["type"] != "number" {
			t.Errorf("metadata %v", meta)
		}
	})
	t.Run("select by keys with parameters at /sql/", func(t *testing.T) {
		m := sql(t, "/sql/", map[string]any{"sql": "SELECT `Name`, Stage FROM `Deals` WHERE Name = ?", "parameters": []any{"Acme"}})
		res, _ := m["results"].([]any)
		if len(res) != 1 || res[0].(map[string]any)["0000"] != "Acme" {
			t.Errorf("results %v", m["results"])
		}
		stage := e.bases[0].tables[0].column("Stage")
		lead, _ := stage.optionByName("Lead", false)
		if got := res[0].(map[string]any)[stage.key]; got != lead.ID {
			t.Errorf("Stage by key = %v, want the option id %s", got, lead.ID)
		}
	})
	t.Run("system columns", func(t *testing.T) {
		m := sql(t, "/sql", map[string]any{"sql": "SELECT _creator, _locked FROM Deals", "convert_keys": true})
		res, _ := m["results"].([]any)
		if len(res) != 2 {
			t.Fatalf("results %v", m["results"])
		}
		if r := res[0].(map[string]any); r["_creator"] != EditUser || r["_locked"] != nil || len(r) != 2 {
			t.Errorf("row %v", r)
		}
		m = sql(t, "/sql", map[string]any{"sql": "SELECT * FROM Deals LIMIT 1", "convert_keys": true})
		r := m["results"].([]any)[0].(map[string]any)
		for _, k := range []string{"_id", "_ctime", "_mtime", "_creator", "_last_modifier", "_locked", "_locked_by", "_archived"} {
			if _, ok := r[k]; !ok {
				t.Errorf("SELECT * has no %s: %v", k, r)
			}
		}
	})
	t.Run("aggregate", func(t *testing.T) {
		m := sql(t, "/sql", map[string]any{"sql": "SELECT COUNT(*) FROM Deals", "convert_keys": true})
		if res, _ := m["results"].([]any); len(res) != 1 || res[0].(map[string]any)["COUNT(*)"] != 2.0 {
			t.Errorf("results %v", m["results"])
		}
	})
	t.Run("update is one call for many rows", func(t *testing.T) {
		before := e.Stats().Bases["crm"].Calls
		m := sql(t, "/sql", map[string]any{"sql": "UPDATE Deals SET Stage = 'Archived' WHERE Amount > 0"})
		if m["affected_rows"] != 2.0 {
			t.Errorf("answer %v", m)
		}
		st := e.Stats().Bases["crm"]
		if st.Calls != before+1 || st.RowsPerCall[len(st.RowsPerCall)-1] != 2 {
			t.Errorf("calls %d→%d, rows %v", before, st.Calls, st.RowsPerCall)
		}
		rows, _ := e.Rows("crm", "Deals")
		if rows[0]["Stage"] != "Archived" || rows[1]["Stage"] != "Archived" {
			t.Errorf("rows after update %v", rows)
		}
	})
	t.Run("errors are 400", func(t *testing.T) {
		for _, q := range []string{
			"SELEKT * FROM Deals",
			"SELECT * FROM Nope",
			"UPDATE Deals SET Double = 3",
			"UPDATE Deals SET Amount = 'lots'",
		} {
			rec := gw(t, e, bu.crm, bu.token, "POST", "/sql", map[string]any{"sql": q})
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s: status %d %s", q, rec.Code, rec.Body)
				continue
			}
			if msg, _ := decodeMap(t, rec)["error_message"].(string); msg == "" {
				t.Errorf("%s: no error_message", q)
			}
		}
	})
	t.Run("delete", func(t *testing.T) {
		m := sql(t, "/sql", map[string]any{"sql": "DELETE FROM Deals WHERE Name = 'Acme'"})
		if m["affected_rows"] != 1.0 {
			t.Errorf("answer %v", m)
		}
		rows, _ := e.Rows("crm", "Deals")
		if len(rows) != 1 || rows[0]["Name"] != "Globex" {
			t.Errorf("rows %v", rows)
		}
	})
}

func TestSQLFiresWebhooks(t *testing.T) {
	t.Parallel()
	sink := newSink(t)
	e, _, info := hookSetup(t, sink.srv.URL)
	tok := exchange(t, e, info.APIToken, "Token")
	for _, q := range []string{"UPDATE Kunden SET Stage = 'Won'", "DELETE FROM Kunden"} {
		wantStatus(t, gw(t, e, info, tok, "POST", "/sql", map[string]any{"sql": q}), http.StatusOK)
	}
	waitHooks(t, e)
	bodies, _ := sink.received()
	if len(bodies) != 2 || !strings.Contains(string(bodies[0]), `"op_type": "modify_row"`) || !strings.Contains(string(bodies[1]), `"op_type": "delete_row"`) {
		t.Errorf("webhooks: %s", bodies)
	}
}
