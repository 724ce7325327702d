package seatable

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readWebhook(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhook", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookRowEvent(t *testing.T) {
	t.Parallel()
	w, err := ParseWebhook(readWebhook(t, "modify_row.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Event != "update" || w.BaseUUID != "fae0a3a42ba94df88e8303fd385e37de" || w.RowID != "QoNno3QiTF26sxmG1sl3_g" ||
		w.OpUser != "4bc9@auth.local" || w.OpType != "modify_row" || w.OpTime != 1649929622.589 ||
		w.TableID != "9g8f" || w.TableName != "Opportunities" || w.RowName != "Grün" {
		t.Fatalf("event %+v", w)
	}
	if got := w.Time(); got.Unix() != 1649929622 || got.Nanosecond()/1e6 != 588 && got.Nanosecond()/1e6 != 589 {
		t.Fatalf("time %v", got)
	}
	if len(w.Cells) != 5 {
		t.Fatalf("cells %+v", w.Cells)
	}
	prio := w.Cells[0]
	if prio.ColumnKey != "589r" || prio.ColumnName != "Prio" || prio.ColumnType != "single-select" || prio.Value != "381992" || prio.OldValue != "112233" {
		t.Fatalf("prio %+v", prio)
	}
	if w.Raw["row_data"] == nil || w.Raw["table_name"] != "Opportunities" {
		t.Fatal("raw data object not kept")
	}
}

func TestParseWebhookLinkAndBatchEvents(t *testing.T) {
	t.Parallel()
	link, err := ParseWebhook(readWebhook(t, "add_link.json"))
	if err != nil {
		t.Fatal(err)
	}
	if link.OpType != "add_link" || link.RowID != "" || len(link.Cells) != 0 {
		t.Fatalf("link %+v", link)
	}
	if link.Raw["table1_name"] != "Deals" || link.Raw["row_data1"] == nil || link.Raw["link_id"] != "aB3x" {
		t.Fatalf("link raw %v", link.Raw)
	}
	app, err := ParseWebhook(readWebhook(t, "append_rows.json"))
	if err != nil {
		t.Fatal(err)
	}
	if app.OpType != "append_rows" || app.RowName != "1234" || app.OpTime != 1649929800 || len(app.Cells) != 1 || app.Raw["op_app"] != "seaflow" {
		t.Fatalf("append %+v", app)
	}
}

func TestParseWebhookAcceptsOtherOpTypes(t *testing.T) {
	t.Parallel()
	// A receiver must accept every signed body, whatever its op_type:
	// fields of other shapes stay in Raw.
	for _, body := range []string{
		`{"event":"update","data":{"dtable_uuid":"x","op_type":"update_rows_links","row_id":["a","b"],"row_data":{"a":[]},"op_time":"later"}}`,
		`{"event":"update","data":{"dtable_uuid":"x","op_type":"move_group_rows","table_name":7}}`,
	} {
		w, err := ParseWebhook([]byte(body))
		if err != nil {
			t.Errorf("ParseWebhook(%s): %v", body, err)
			continue
		}
		if w.OpType == "" || w.RowID != "" || len(w.Cells) != 0 || len(w.Raw) == 0 {
			t.Errorf("ParseWebhook(%s) = %+v", body, w)
		}
	}
}

func TestParseWebhookErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, err string }{
		{``, "empty body"},
		{`{"event":"update","data":{}`, "not JSON"},
		{`[{"event":"update"}]`, "not a JSON object"},
		{`"update"`, "not a JSON object"},
		{`{"data":{"dtable_uuid":"x","op_type":"modify_row"}}`, `no "event"`},
		{`{"event":5,"data":{}}`, `"event" is not a non-empty string`},
		{`{"event":"","data":{}}`, `"event" is not a non-empty string`},
		{`{"event":"update"}`, `no "data"`},
		{`{"event":"update","data":[1]}`, `"data" is not an object`},
		{`{"event":"update","data":null}`, `"data" is not an object`},
		{`{"event":"update","data":{"op_type":"modify_row"}}`, "no data.dtable_uuid"},
		{`{"event":"update","data":{"dtable_uuid":"x"}}`, "no data.op_type"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":""}}`, "data.op_type is empty"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","row_id":7}}`, "data.row_id is a number, want a string"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","op_time":"soon"}}`, `data.op_time "soon" is not a number`},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","op_time":true}}`, "data.op_time is a boolean"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","row_data":{}}}`, "data.row_data is an object, want an array"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","row_data":["a"]}}`, "data.row_data[0] is a string, want an object"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","row_data":[{"column_name":1}]}}`, "data.row_data[0].column_name is a number"},
		{`{"event":"update","data":{"dtable_uuid":"x","op_type":"modify_row","row_data":[{"column_data":[]}]}}`, "data.row_data[0].column_data is an array"},
	}
	for _, tt := range tests {
		w, err := ParseWebhook([]byte(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.err) || w != nil {
			t.Errorf("ParseWebhook(%s) = %v, %v; want error containing %q", tt.body, w, err, tt.err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "parse webhook: ") {
			t.Errorf("error %q lacks the operation prefix", err)
		}
	}
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	body := readWebhook(t, "modify_row.json")
	// Computed with Python: hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
	const want = "sha256=2d3e0af571aa4d1fac52ff9ceb1ff52a2f03b0b11f29843ed1e97ccfa7370fb2"
	if got := SignWebhook("s3cr3t", body); got != want {
		t.Fatalf("SignWebhook = %s, want %s", got, want)
	}
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		ok     bool
	}{
		{"valid", "s3cr3t", body, want, true},
		{"upper-case hex and prefix", "s3cr3t", body, "SHA256=" + strings.ToUpper(want[7:]), true},
		{"surrounding space", "s3cr3t", body, " " + want + " ", true},
		{"wrong secret", "other", body, want, false},
		{"tampered body", "s3cr3t", append([]byte(" "), body...), want, false},
		{"empty secret", "", body, SignWebhook("", body), false},
		{"no prefix", "s3cr3t", body, want[7:], false},
		{"sha1 prefix", "s3cr3t", body, "sha1=" + want[7:], false},
		{"not hex", "s3cr3t", body, "sha256=zz", false},
		{"short", "s3cr3t", body, want[:40], false},
		{"empty header", "s3cr3t", body, "", false},
	}
	for _, tt := range tests {
		if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.ok {
			t.Errorf("%s: VerifySignature = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestCellDisplay(t *testing.T) {
	t.Parallel()
	w, err := ParseWebhook(readWebhook(t, "modify_row.json"))
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ v, old any }
	want := []pair{
		{"++", "--"},
		{[]any{"vip", "eu", "999"}, []any{"eu"}},
		{time.Date(2021, 7, 1, 13, 59, 0, 0, time.UTC), nil},
		{499.99, float64(450)},
		{"hi", ""}, // a long-text object reads as its text
	}
	for i, c := range w.Cells {
		v, old := c.Display()
		if !reflect.DeepEqual(pair{v, old}, want[i]) {
			t.Errorf("%s: Display = %#v, %#v; want %#v, %#v", c.ColumnName, v, old, want[i].v, want[i].old)
		}
	}
	// The raw values are left alone.
	if w.Cells[0].Value != "381992" || !reflect.DeepEqual(w.Cells[1].Value, []any{"1", "2", "999"}) {
		t.Fatal("Display changed the raw values")
	}
}

func TestCellDisplayEdgeCases(t *testing.T) {
	t.Parallel()
	opts := map[string]any{"options": []any{map[string]any{"id": float64(7), "name": "seven"}, "junk", map[string]any{"id": "8"}}}
	tests := []struct {
		cell CellChange
		want any
	}{
		{CellChange{ColumnType: "single-select", ColumnData: opts, Value: "7"}, "seven"},
		{CellChange{ColumnType: "single-select", ColumnData: opts, Value: float64(7)}, "seven"},
		{CellChange{ColumnType: "single-select", ColumnData: opts, Value: "8"}, "8"}, // option without a name
		{CellChange{ColumnType: "single-select", Value: "7"}, "7"},                   // no options
		{CellChange{ColumnType: "single-select", ColumnData: opts, Value: ""}, ""},
		{CellChange{ColumnType: "multiple-select", ColumnData: opts, Value: "7"}, "7"}, // not a list
		{CellChange{ColumnType: "multiple-select", ColumnData: opts, Value: nil}, nil},
		{CellChange{ColumnType: "date", Value: "2030-06-20T00:00:00+02:00"}, time.Date(2030, 6, 20, 0, 0, 0, 0, time.FixedZone("", 7200))},
		{CellChange{ColumnType: "date", Value: "2030-06-20"}, time.Date(2030, 6, 20, 0, 0, 0, 0, time.UTC)},
		{CellChange{ColumnType: "mtime", Value: "2021-03-10T16:19:31.761+00:00"}, time.Date(2021, 3, 10, 16, 19, 31, 761e6, time.UTC)},
		{CellChange{ColumnType: "date", Value: "20.06.2030"}, "20.06.2030"},
		{CellChange{ColumnType: "date", Value: ""}, ""},
		{CellChange{ColumnType: "text", Value: "2030-06-20"}, "2030-06-20"},
	}
	for i, tt := range tests {
		got, _ := tt.cell.Display()
		if gt, ok := got.(time.Time); ok {
			wt, ok := tt.want.(time.Time)
			if !ok || !gt.Equal(wt) {
				t.Errorf("case %d: %v, want %v", i, got, tt.want)
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("case %d: %#v, want %#v", i, got, tt.want)
		}
	}
}

func TestWebhookID(t *testing.T) {
	t.Parallel()
	body := readWebhook(t, "modify_row.json")
	a, _ := ParseWebhook(body)
	b, _ := ParseWebhook(body)
	if a.ID() != b.ID() || len(a.ID()) != 32 {
		t.Fatalf("ids %q %q: want equal, 32 hex", a.ID(), b.ID())
	}
	// Formatting differences do not change the id.
	c, err := ParseWebhook([]byte(strings.ReplaceAll(string(body), ": ", ":")))
	if err != nil || c.ID() != a.ID() {
		t.Fatalf("compact body: id %q, err %v", c.ID(), err)
	}
	later := *a
	later.OpTime += 0.001
	otherRow := *a
	otherRow.RowID = "x"
	if later.ID() == a.ID() || otherRow.ID() == a.ID() {
		t.Fatal("distinct events share an id")
	}
	l1, _ := ParseWebhook(readWebhook(t, "add_link.json"))
	l2, _ := ParseWebhook([]byte(strings.Replace(string(readWebhook(t, "add_link.json")), "Bb2Bb2Bb2Bb2Bb2Bb2Bb2B", "Dd4Dd4Dd4Dd4Dd4Dd4Dd4D", -1)))
	if l1.ID() == l2.ID() {
		t.Fatal("link events to different rows share an id")
	}
}

func TestCanonicalUUID(t *testing.T) {
	t.Parallel()
	if CanonicalUUID("FAE0A3A4-2ba9-4df8-8e83-03fd385e37de ") != CanonicalUUID("fae0a3a42ba94df88e8303fd385e37de") {
		t.Fatal("forms differ")
	}
}
