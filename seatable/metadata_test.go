package seatable

import (
	"context"
	"net/http"
	"testing"
)

func TestMetadata(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		if r.Method != "GET" || path != "/metadata/" {
			writeJSON(w, 404, map[string]any{"error_msg": "wrong path"})
			return
		}
		_, _ = w.Write([]byte(`{"metadata":{"version":12,"format_version":9,"tables":[
			{"_id":"0000","name":"Deals","columns":[
				{"key":"0000","name":"Name","type":"text","width":200,"editable":true,"data":null},
				{"key":"a1B2","name":"Stage","type":"single-select","data":{"options":[{"id":"381992","name":"Lead","color":"#fff"}]}},
				{"key":"c3D4","name":"Amount","type":"number","data":{"format":"euro"}}],
			 "views":[{"_id":"0000","name":"Default View","filters":[]}]},
			{"_id":"9g8f","name":"Contacts","columns":[],"views":[]}]}}`))
	}
	md, err := f.client(nil).Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Tables) != 2 {
		t.Fatalf("tables %+v", md.Tables)
	}
	deals := md.Table("Deals")
	if deals == nil || deals.ID != "0000" || len(deals.Columns) != 3 || len(deals.Views) != 1 || deals.Views[0].Name != "Default View" {
		t.Fatalf("deals %+v", deals)
	}
	if md.Table("9g8f") == nil || md.Table("Nope") != nil {
		t.Fatal("lookup by id or a missing name")
	}
	stage := deals.Column("Stage")
	if stage == nil || stage.Key != "a1B2" || stage.Type != "single-select" || stage.Data["options"] == nil {
		t.Fatalf("stage %+v", stage)
	}
	if deals.Column("c3D4").Name != "Amount" || deals.Column("Name").Data != nil {
		t.Fatal("column lookup by key, nil data")
	}
}

func TestMetadataGarbage(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}`, `{"metadata":{}}`, `{"metadata":{"tables":[{"name":"x"}]}}`,
		`{"metadata":{"tables":[{"_id":"0000","name":"T","columns":[{"key":"0000"}]}]}}`} {
		f := newFakeGateway(t)
		f.base = func(w http.ResponseWriter, r *http.Request, path string, _ []byte) { _, _ = w.Write([]byte(body)) }
		if _, err := f.client(nil).Metadata(context.Background()); KindOf(err) != KindTransient {
			t.Fatalf("%s: err = %v, want transient", body, err)
		}
	}
}
