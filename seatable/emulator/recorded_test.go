package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The recorded-shape contract suite: the emulator answers the requests of
// seatable/openapi's tests (run against a real SeaTable 6.0.10 server)
// with the same keys, value types and, where the recording keeps them,
// values. testdata/recorded/README.md names the source of every file.

// oatColumns are the COLUMNS of seatable/openapi tests/test_base_operations.py
// whose types the emulator models (see notModelled for the others). The
// formula columns are expr equivalents of the recorded SeaTable formulas.
const oatColumns = `
          - { name: text, type: text }
          - { name: long-text, type: long-text }
          - { name: number, type: number }
          - { name: number-decimal-dot-thousands-comma, type: number }
          - { name: number-percent, type: number }
          - { name: number-euro, type: number }
          - { name: collaborator, type: collaborator }
          - { name: date-iso, type: date, format: YYYY-MM-DD }
          - { name: date-iso-hours-minutes, type: date, format: "YYYY-MM-DD HH:mm" }
          - { name: date-us, type: date, format: M/D/YYYY }
          - { name: date-us-hours-minutes, type: date, format: "M/D/YYYY HH:mm" }
          - { name: date-european, type: date, format: DD/MM/YYYY }
          - { name: date-german, type: date, format: DD.MM.YYYY }
          - { name: date-german-hours-minutes, type: date, format: "DD.MM.YYYY HH:mm" }
          - { name: duration-hours-minutes, type: duration }
          - { name: duration-hours-minutes-seconds, type: duration }
          - { name: single-select, type: single-select, options: [option-1, option-2, option-3] }
          - { name: multiple-select, type: multiple-select, options: [option-1, option-2, option-3] }
          - { name: email, type: email }
          - { name: url, type: url }
          - { name: checkbox, type: checkbox }
          - { name: rate, type: rate }
          - { name: formula-integer-return-value, type: formula, formula: "1 + 2" }
          - { name: formula-float-return-value, type: formula, formula: "1.3 + 2.6" }
          - { name: formula-boolean-return-value, type: formula, formula: "true && false" }
`

// oatFixture holds the tables of those tests, @@OAT@@ standing for
// oatColumns, on a server in Europe/Berlin as the recording's; test_row
// has the columns of the getRow and updateRow recordings.
const oatFixture = `
timezone: Europe/Berlin
bases:
  - name: oat
    tables:
      - name: test_listRows
        columns:
@@OAT@@
      - name: test_row
        columns:
@@OAT@@
          - { name: number-decimal-comma-thousands-space, type: number }
          - { name: number-decimal-dot-thousands-no, type: number }
          - { name: formula-number, type: formula, formula: "{number}" }
          - { name: formula-number-decimal-dot-thousands-comma, type: formula, formula: "{number-decimal-dot-thousands-comma}" }
          - { name: formula-number-decimal-comma-thousands-space, type: formula, formula: "{number-decimal-comma-thousands-space}" }
          - { name: formula-number-decimal-dot-thousands-no, type: formula, formula: "{number-decimal-dot-thousands-no}" }
          - { name: formula-number-percent, type: formula, formula: "{number-percent}" }
          - { name: formula-number-euro, type: formula, formula: "{number-euro}" }
      - name: links-1
        columns:
          - { name: number, type: number }
      - name: links-2
        columns:
          - { name: number, type: number }
          - { name: link, type: link, table: links-1 }
      - name: test_metadata
        columns:
          - { name: text, type: text }
          - { name: number, type: number }
      - name: test_lock_and_unlock_rows
        columns:
          - { name: text, type: text }
          - { name: number, type: number }
`

// notModelled are the recorded columns whose types (or formula language)
// the emulator does not model; the comparison leaves them out.
var notModelled = map[string]bool{
	"formula":                    true, // dateAdd(): SeaTable's formula language
	"geolocation-country-region": true, "geolocation-lat-lon": true,
	"auto-number-integer": true, "auto-number-string-prefix": true, "auto-number-date-prefix": true,
	"digital-sign":            true,
	"link-formula-countlinks": true, "link-formula-findmax": true, "link-formula-findmin": true,
	"link-formula-lookup": true, "link-formula-rollup-average": true, "link-formula-rollup-concatenate": true,
	"link-formula-rollup-max": true,
}

// oatRows is ROWS of seatable/openapi tests/test_base_operations.py, with
// the two number columns the getRow recording also has.
func oatRows() []any {
	return []any{
		map[string]any{
			"text": "ABC", "long-text": "## Heading\n- Item 1\n- Item 2", "number": 499.99,
			"number-decimal-dot-thousands-comma": 1_000_000.123, "number-decimal-comma-thousands-space": 1_000_000.123,
			"number-decimal-dot-thousands-no": 1_000_000.123, "number-percent": 5, "number-euro": 5.23,
			"date-iso": "2030/06/20", "date-iso-hours-minutes": "2030/06/20 23:55", "date-us": "6/5/2024",
			"date-us-hours-minutes": "6/5/2024 23:55", "date-european": "05/06/2024",
			"date-european-hours-minutes": "05/06/2024 23:55", // no such column: dropped with a 200
			"date-german":                 "20.06.2030", "date-german-hours-minutes": "20.06.2030 23:55",
			"duration-hours-minutes": "5400", "duration-hours-minutes-seconds": "5430",
			"single-select": "option-1", "multiple-select": []any{"option-1", "option-2"},
			"email": "example@seatable.io", "url": "https://seatable.com", "checkbox": true, "rate": 7,
			"geolocation-country-region": map[string]any{"country_region": "Germany"},
			"geolocation-lat-lon":        map[string]any{"lng": 8.23, "lat": 50.00},
		},
		map[string]any{
			"text": "D", "long-text": "## Heading\n- Item 1\n- Item 2", "number": 500, "number-percent": 5.12345,
			"number-euro": 10.2345, "date-iso": "2030/06/20", "date-iso-hours-minutes": "2030/06/20 23:55",
			"date-german": "20.06.2030", "date-german-hours-minutes": "20.06.2030 23:55",
			"single-select": "option-2", "multiple-select": []any{"option-2", "option-3"}, "checkbox": false,
		},
		map[string]any{
			"text": "E", "long-text": "## Heading\n- Item 1\n- Item 2", "number": -10,
			"date-iso": "2030/06/20", "date-iso-hours-minutes": "2030/06/20 23:55",
			"date-german": "20.06.2030", "date-german-hours-minutes": "20.06.2030 23:55",
			"single-select": "option-3", "multiple-select": []any{"option-1", "option-2", "option-3"}, "checkbox": true,
		},
		map[string]any{"text": "row-with-empty-values"},
	}
}

// oatUpdate is UPDATE_ROW of tests/test_row_crud.py.
var oatUpdate = map[string]any{
	"text": "updated-text", "long-text": "## Updated\n- New Item 1\n- New Item 2", "number": 999.01,
	"number-decimal-dot-thousands-comma": 2_000_000.456, "number-percent": 99.5, "number-euro": 42.00,
	"date-iso": "2031/12/31", "date-iso-hours-minutes": "2031/12/31 11:30", "date-us": "12/31/2031",
	"date-us-hours-minutes": "12/31/2031 11:30", "date-european": "31/12/2031", "date-german": "31.12.2031",
	"date-german-hours-minutes": "31.12.2031 11:30", "duration-hours-minutes": "7200",
	"duration-hours-minutes-seconds": "7265", "single-select": "option-2", "multiple-select": []any{"option-3"},
	"email": "updated@seatable.io", "url": "https://cloud.seatable.io", "checkbox": false, "rate": 10,
}

// oatSetup loads oatFixture and exchanges its base token.
func oatSetup(t *testing.T) (*Emulator, BaseInfo, string) {
	t.Helper()
	f, err := ParseFixture("oat.yaml", []byte(strings.ReplaceAll(oatFixture, "@@OAT@@\n", strings.TrimPrefix(oatColumns, "\n"))))
	if err != nil {
		t.Fatal(err)
	}
	if f.Settings.TimeZone == nil {
		t.Skip("no tz database")
	}
	opts := Options{Limits: []Limit{}, Now: newClock().Now}
	f.Settings.Apply(&opts)
	e := New(opts)
	infos, err := e.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return e, infos[0], exchange(t, e, infos[0].APIToken, "Token")
}

// recorded reads a recording of testdata/recorded.
func recorded(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "recorded", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	mustJSON(t, data, &v)
	return v
}

// matchShape reports every difference between a recorded value want and
// the emulator's got: an object has exactly the recorded keys (those of
// notModelled aside), a placeholder ("str", "int", "bool", "dict",
// "list") matches any value of its type, and every other value must be
// equal.
func matchShape(path string, want, got any) []string {
	if p, ok := want.(string); ok {
		if typ, placeholder := map[string]string{"str": "string", "int": "number", "bool": "bool", "dict": "object", "list": "array"}[p]; placeholder {
			if jsonKind(got) != typ {
				return []string{fmt.Sprintf("%s: %s, want a %s", path, jsonText(got), typ)}
			}
			return nil
		}
	}
	if jsonKind(got) != jsonKind(want) {
		return []string{fmt.Sprintf("%s: %s, want %s", path, jsonText(got), jsonText(want))}
	}
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			wv, inWant := w[k]
			gv, inGot := g[k]
			switch {
			case notModelled[k]:
			case !inGot:
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
			case !inWant:
				diffs = append(diffs, fmt.Sprintf("%s.%s: not recorded (%s)", path, k, jsonText(gv)))
			default:
				diffs = append(diffs, matchShape(path+"."+k, wv, gv)...)
			}
		}
	case []any:
		g := got.([]any)
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %d elements, want %d", path, len(g), len(w))}
		}
		for i := range w {
			diffs = append(diffs, matchShape(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
	default:
		if jsonText(want) != jsonText(got) {
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", path, jsonText(got), jsonText(want)))
		}
	}
	return diffs
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// wantRecorded fails with every difference of a 200 response from the
// recording name.
func wantRecorded(t *testing.T, name string, b []byte, code int) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("%s: status %d, want 200: %s", name, code, b)
	}
	var got any
	mustJSON(t, b, &got)
	if diffs := matchShape("$", recorded(t, name), got); len(diffs) > 0 {
		t.Errorf("%s differs from the 6.0.10 recording:\n%s", name, strings.Join(diffs, "\n"))
	}
}

func TestRecordedShapes(t *testing.T) {
	t.Parallel()
	e, info, tok := oatSetup(t)
	call := func(method, suffix string, req any) ([]byte, int) {
		rec := gw(t, e, info, tok, method, suffix, req)
		return rec.Body.Bytes(), rec.Code
	}
	rowIDs := func(b []byte) []string {
		var out struct {
			RowIDs []struct {
				ID string `json:"_id"`
			} `json:"row_ids"`
		}
		mustJSON(t, b, &out)
		ids := make([]string, len(out.RowIDs))
		for i, r := range out.RowIDs {
			ids[i] = r.ID
		}
		return ids
	}

	t.Run("token exchange", func(t *testing.T) {
		rec := do(t, e, "GET", "/api/v2.1/dtable/app-access-token/", "Token "+info.APIToken, nil)
		wantRecorded(t, "getBaseTokenWithApiToken.json", rec.Body.Bytes(), rec.Code)
	})
	t.Run("append, list and SQL", func(t *testing.T) {
		b, code := call("POST", "/rows/", map[string]any{"table_name": "test_listRows", "rows": oatRows()})
		wantRecorded(t, "appendRows.json", b, code)
		b, code = call("GET", "/rows/?table_name=test_listRows&convert_keys=true", nil)
		wantRecorded(t, "listRows.json", b, code)
		b, code = call("POST", "/sql", map[string]any{"sql": "SELECT * FROM test_listRows", "convert_keys": true})
		wantRecorded(t, "querySQL.json", b, code)
	})
	t.Run("get and update a row", func(t *testing.T) {
		b, code := call("POST", "/rows/", map[string]any{"table_name": "test_row", "rows": oatRows()[:1]})
		if code != http.StatusOK {
			t.Fatalf("append: %d %s", code, b)
		}
		id := rowIDs(b)[0]
		b, code = call("GET", "/rows/"+id+"/?table_name=test_row&convert_keys=true", nil)
		wantRecorded(t, "getRow.json", b, code)
		if b, code = call("PUT", "/rows/", map[string]any{"table_name": "test_row", "updates": []any{map[string]any{"row_id": id, "row": oatUpdate}}}); code != http.StatusOK {
			t.Fatalf("update: %d %s", code, b)
		}
		b, code = call("GET", "/rows/"+id+"/?table_name=test_row&convert_keys=true", nil)
		wantRecorded(t, "updateRow.json", b, code)
	})
	t.Run("links", func(t *testing.T) {
		var rows []any
		for _, n := range []float64{1.1, 1.1, 1.2, 1.3, 1.4, 1.4} {
			rows = append(rows, map[string]any{"number": n})
		}
		b, _ := call("POST", "/rows/", map[string]any{"table_name": "links-1", "rows": rows})
		ones := rowIDs(b)
		b, _ = call("POST", "/rows/", map[string]any{"table_name": "links-2", "rows": []any{map[string]any{"number": 2.1}}})
		two := rowIDs(b)[0]
		e.mu.Lock()
		link := e.bases[0].table("links-2").column("link").linkID
		e.mu.Unlock()
		b, code := call("POST", "/links/", map[string]any{"link_id": link, "table_name": "links-2", "other_table_name": "links-1",
			"other_rows_ids_map": map[string]any{two: ones}})
		if code != http.StatusOK {
			t.Fatalf("links: %d %s", code, b)
		}
		b, code = call("GET", "/rows/?table_name=links-2&convert_keys=true", nil)
		wantRecorded(t, "listRows_links.json", b, code)
	})
	t.Run("lock and unlock", func(t *testing.T) {
		b, _ := call("POST", "/rows/", map[string]any{"table_name": "test_lock_and_unlock_rows", "rows": []any{map[string]any{"text": "a"}}})
		ids := rowIDs(b)
		call("PUT", "/lock-rows/", map[string]any{"table_name": "test_lock_and_unlock_rows", "row_ids": ids})
		b, code := call("GET", "/rows/"+ids[0]+"/?table_name=test_lock_and_unlock_rows&convert_keys=true", nil)
		// The recording's _locked_by is the websocket operation's own
		// "automated-test"; the REST lock's locker is the token's app.
		var got map[string]any
		mustJSON(t, b, &got)
		if got["_locked"] != true || got["_locked_by"] != "seaflow" {
			t.Errorf("locked row %v", got)
		}
		got["_locked_by"] = "automated-test"
		locked, _ := json.Marshal(got)
		wantRecorded(t, "lockRows.json", locked, code)
		call("PUT", "/unlock-rows/", map[string]any{"table_name": "test_lock_and_unlock_rows", "row_ids": ids})
		b, code = call("GET", "/rows/"+ids[0]+"/?table_name=test_lock_and_unlock_rows&convert_keys=true", nil)
		wantRecorded(t, "unlockRows.json", b, code)
	})
	t.Run("metadata", func(t *testing.T) {
		b, code := call("GET", "/metadata/", nil)
		if code != http.StatusOK {
			t.Fatalf("metadata: %d", code)
		}
		var got struct {
			Metadata map[string]any `json:"metadata"`
		}
		mustJSON(t, b, &got)
		want := recorded(t, "getMetadata.json").(map[string]any)["metadata"].(map[string]any)
		// The recording's first table is a new base's default Table1 (a
		// different, older shape); the second is the test's table.
		want["tables"] = want["tables"].([]any)[1:]
		var table any
		for _, tb := range got.Metadata["tables"].([]any) {
			if tb.(map[string]any)["name"] == "test_metadata" {
				table = tb
			}
		}
		got.Metadata["tables"] = []any{table}
		want["version"] = "int" // it counts the base's changes
		if diffs := matchShape("$.metadata", want, got.Metadata); len(diffs) > 0 {
			t.Errorf("metadata differs from the 6.0.10 recording:\n%s", strings.Join(diffs, "\n"))
		}
	})
}

// keyOrder returns the keys of every JSON object in data, in order, with
// their paths: Python's json.dumps keeps insertion order, and SeaTable
// signs the bytes, so the order is part of the webhook format.
func keyOrder(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	var keys []string
	var walk func(path string)
	walk = func(path string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, _ := dec.Token()
				keys = append(keys, path+"."+k.(string))
				walk(path + "." + k.(string))
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				walk(fmt.Sprintf("%s[%d]", path, min(i, 1)))
			}
			_, _ = dec.Token()
		}
	}
	walk("$")
	return keys
}

func TestRecordedWebhookShapes(t *testing.T) {
	t.Parallel()
	sink := newSink(t)
	f, err := ParseFixture("help.yaml", []byte(strings.Replace(`
bases:
  - name: crm
    webhooks: [ { url: "URL" } ]
    tables:
      - name: Opportunities
        columns:
          - { name: Name, type: text }
          - { name: Prio, type: single-select, options: ["++", "+"] }
`, "URL", sink.srv.URL, 1)))
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	clock.Advance(279 * time.Millisecond)
	e := New(Options{Now: clock.Now})
	infos, err := e.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	// SeaTable's help page examples: a row added in the UI, a
	// single-select value chosen, the row deleted.
	id, err := e.Edit(EditRequest{BaseUUID: infos[0].Name, TableName: "Opportunities", Op: "insert"})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []EditRequest{
		{BaseUUID: infos[0].Name, TableName: "Opportunities", Op: "update", RowID: id, Row: map[string]any{"Prio": "++"}},
		{BaseUUID: infos[0].Name, TableName: "Opportunities", Op: "delete", RowID: id},
	} {
		if _, err := e.Edit(req); err != nil {
			t.Fatal(err)
		}
	}
	waitHooks(t, e)
	bodies, _ := sink.received()
	if len(bodies) != 3 {
		t.Fatalf("%d deliveries, want 3", len(bodies))
	}
	for i, name := range []string{"webhook_insert_row.json", "webhook_modify_row.json", "webhook_delete_row.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "recorded", name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(keyOrder(t, bodies[i]), " "), strings.Join(keyOrder(t, data), " "); got != want {
			t.Errorf("%s: keys\n%s\nwant\n%s", name, got, want)
		}
		var got, want map[string]any
		mustJSON(t, bodies[i], &got)
		mustJSON(t, data, &want)
		// Types, and the values that are not ids, names and times.
		for _, diff := range matchShape("$", typesOf(want, "op_type", "old_value", "event"), got) {
			t.Errorf("%s: %s", name, diff)
		}
	}
}

// typesOf replaces every value of v by its type placeholder, except the
// values under the keys kept.
func typesOf(v any, kept ...string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			keep := false
			for _, kk := range kept {
				keep = keep || k == kk
			}
			if keep {
				out[k] = e
			} else {
				out[k] = typesOf(e, kept...)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = typesOf(e, kept...)
		}
		return out
	case string:
		return "str"
	case bool:
		return "bool"
	case float64:
		return "int"
	}
	return v
}

func TestMatchShapeFindsDifferences(t *testing.T) {
	t.Parallel()
	want := map[string]any{"_id": "str", "n": 5.0, "tags": []any{"a"}, "gone": nil, "digital-sign": nil}
	got := map[string]any{"_id": 7.0, "n": 6.0, "tags": []any{"a", "b"}, "extra": true}
	diffs := matchShape("$", want, got)
	wantDiffs := []string{
		"$._id: 7, want a string",
		"$.extra: not recorded (true)",
		"$.gone: missing",
		"$.n: 6, want 5",
		"$.tags: 2 elements, want 1",
	}
	if strings.Join(diffs, "\n") != strings.Join(wantDiffs, "\n") {
		t.Errorf("diffs:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(wantDiffs, "\n"))
	}
}
