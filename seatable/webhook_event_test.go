package seatable

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// TestStoredRawEventDecodesAsAtIntake checks that a row event stored with
// its body undecoded (what webhook intake does) reads back, after the trip
// through JSON the EVENTS stream makes, as the event a full decode at
// intake gives, under the same id.
func TestStoredRawEventDecodesAsAtIntake(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	files, _ := filepath.Glob(filepath.Join("testdata", "webhook", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded webhook bodies")
	}
	rowEvents := 0
	for _, name := range files {
		body := readWebhook(t, filepath.Base(name))
		full := seaflow.Event{Source: seaflow.SourceWebhook, Name: "crm", Base: "crm", Time: received}
		id, ok := DecodeWebhookEvent(&full, body)
		if !ok {
			t.Fatalf("%s: %s", name, full.Error)
		}
		full.ID = id
		key, peeked := PeekWebhook(body)
		if strings.Contains(name, "link") {
			if peeked {
				t.Errorf("%s: a link event was peeked; its id needs its whole data", name)
			}
			continue
		}
		if !peeked {
			t.Fatalf("%s: a row event was not peeked", name)
		}
		rowEvents++
		stored := seaflow.Event{ID: key.ID(), Source: seaflow.SourceWebhook, Name: "crm", Base: "crm", Time: key.Time(), Raw: body}
		b, err := json.Marshal(stored)
		if err != nil {
			t.Fatal(err)
		}
		var read seaflow.Event
		if err := json.Unmarshal(b, &read); err != nil {
			t.Fatal(err)
		}
		ExpandWebhookEvent(&read)
		if !read.Time.Equal(full.Time) {
			t.Errorf("%s: time %v, want %v", name, read.Time, full.Time)
		}
		read.Time, full.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(read, full) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", name, read, full)
		}
	}
	if rowEvents == 0 {
		t.Error("no row event among the recorded bodies")
	}
	// A body the peek accepts and the full decode refuses is read back as
	// a failed event under the id it was stored under.
	bad := []byte(`{"event":"update","data":{"dtable_uuid":"u","op_type":"modify_row","table_id":"t","row_id":"r","op_time":1,"row_data":[7]}}`)
	key, ok := PeekWebhook(bad)
	if !ok {
		t.Fatal("the body was not peeked")
	}
	ev := seaflow.Event{ID: key.ID(), Raw: bad}
	ExpandWebhookEvent(&ev)
	if ev.Error == "" || ev.ID != key.ID() || ev.Raw != nil {
		t.Errorf("undecodable stored body: %+v", ev)
	}
}
