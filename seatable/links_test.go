package seatable

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
)

func TestLinksRequests(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	c := f.client(nil)
	ls := LinkSet{LinkID: "aB3x", Table: "Deals", OtherTable: "Contacts",
		Links: map[string][]string{"r1": {"c1", "c2"}, "r2": {"c3"}}}
	ctx := context.Background()
	if err := c.CreateLinks(ctx, ls); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLinks(ctx, ls); err != nil {
		t.Fatal(err)
	}
	calls := f.baseCalls()
	if len(calls) != 2 || calls[0].Method != "POST" || calls[1].Method != "DELETE" || calls[0].Path != "/links/" || calls[1].Path != "/links/" {
		t.Fatalf("calls %+v", calls)
	}
	var got map[string]any
	if err := json.Unmarshal(calls[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"link_id": "aB3x", "table_name": "Deals", "other_table_name": "Contacts",
		"other_rows_ids_map": map[string]any{"r1": []any{"c1", "c2"}, "r2": []any{"c3"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %v, want %v", got, want)
	}
}

func TestLinksSplit(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	links := map[string][]string{}
	for i := range 1500 {
		links["r"+strconv.Itoa(i)] = []string{"c"}
	}
	if err := f.client(nil).CreateLinks(context.Background(), LinkSet{LinkID: "l", Table: "A", OtherTable: "B", Links: links}); err != nil {
		t.Fatal(err)
	}
	calls := f.baseCalls()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want 2", len(calls))
	}
	seen := 0
	for _, call := range calls {
		var req struct {
			M map[string][]string `json:"other_rows_ids_map"`
		}
		_ = json.Unmarshal(call.Body, &req)
		seen += len(req.M)
	}
	if seen != 1500 {
		t.Fatalf("rows sent %d, want 1500", seen)
	}
}
