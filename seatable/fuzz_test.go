package seatable

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func FuzzParseWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "webhook", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"event":"update","data":{"dtable_uuid":"x","op_type":"m","row_data":[{"column_type":"multiple-select","column_data":{"options":[{"id":1,"name":"a"}]},"value":[1,"1",null]}]}}`))
	f.Add([]byte(`{"event":"update","data":{"dtable_uuid":"x","op_type":"m","op_time":"1.5","row_name":[1]}}`))
	f.Add([]byte(`{"event":"update","data":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		key, peeked := PeekWebhook(body)
		w, err := ParseWebhook(body)
		if peeked && err == nil && key.ID() != w.ID() && !hasDuplicateKeys(body) {
			// Intake stores a row event under the peeked id: it must be
			// the one the full decode gives.
			t.Fatalf("peeked id %s (%+v), decoded id %s", key.ID(), key, w.ID())
		}
		if err != nil {
			if w != nil {
				t.Fatal("event returned with an error")
			}
			return
		}
		if w.Event == "" || w.BaseUUID == "" || w.OpType == "" || w.Raw == nil {
			t.Fatalf("accepted an event without its required fields: %+v", w)
		}
		id := w.ID()
		if len(id) != 32 {
			t.Fatalf("id %q", id)
		}
		for _, c := range w.Cells {
			c.Display()
		}
		// Re-encoding the parsed event gives an equal event with the same id.
		again, err := json.Marshal(map[string]any{"event": w.Event, "data": w.Raw})
		if err != nil {
			t.Fatal(err)
		}
		w2, err := ParseWebhook(again)
		if err != nil {
			t.Fatalf("re-encoded event does not parse: %v", err)
		}
		if w2.ID() != id || len(w2.Cells) != len(w.Cells) || w2.RowName != w.RowName {
			t.Fatalf("round trip changed the event: %+v vs %+v", w2, w)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"rows":[{"_id":"a","Name":"x"}]}`))
	f.Add([]byte(`{"row_ids":[{"_id":"a"}],"inserted_row_count":1,"first_row":{"0000":"x"}}`))
	f.Add([]byte(`{"success":true,"error_message":"","metadata":[{"key":"0000","name":"Name","type":"text"}],"results":[{"Name":"a"}]}`))
	f.Add([]byte(`{"success":false,"error_message":"bad"}`))
	f.Add([]byte(`{"metadata":{"tables":[{"_id":"0000","name":"T","columns":[{"key":"0000","name":"N","type":"text"}],"views":[]}]}}`))
	f.Add([]byte(`{"access_token":"t","dtable_uuid":"u"}`))
	f.Add([]byte(`<html>502</html>`))
	f.Add([]byte("{\"rows\":[]}\x00"))
	f.Add([]byte(`null`))
	c := New(Config{ServerURL: "http://127.0.0.1:1", APIToken: testAPIToken})
	f.Fuzz(func(t *testing.T, body []byte) {
		outs := []any{&listRowsResponse{}, &rowResponse{}, &appendRowsResponse{}, &successResponse{},
			&sqlResponse{}, &metadataResponse{}, &tokenResponse{}}
		for _, out := range outs {
			err := c.classify("op", &response{status: 200, body: body}, out, "")
			if err == nil {
				if !json.Valid(body) {
					t.Fatalf("%T: accepted invalid JSON %q", out, body)
				}
				continue
			}
			e, ok := err.(*Error)
			if !ok || e.Status != 200 || (e.Kind != KindTransient && e.Kind != KindInvalid) {
				t.Fatalf("%T: err = %#v", out, err)
			}
			if !utf8.ValidString(e.Message) {
				t.Fatalf("message is not UTF-8: %q", e.Message)
			}
		}
		for _, status := range []int{400, 429, 503} {
			err := c.classify("op", &response{status: status, body: body}, &listRowsResponse{}, "")
			if e, ok := err.(*Error); !ok || e.Status != status || !utf8.ValidString(e.Message) {
				t.Fatalf("status %d: err = %#v", status, err)
			}
		}
	})
}

// hasDuplicateKeys reports whether an object in body names a member
// twice: ParseWebhook then reads the last, and PeekWebhook may merge them.
func hasDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var dup bool
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				name, _ := k.(string)
				if seen[name] {
					dup = true
				}
				seen[name] = true
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		}
		return true
	}
	walk()
	return dup
}
