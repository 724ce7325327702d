package queue

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
)

// TestLeanEventEncodingIsEncodingJSONs: what intake stores of a SeaTable
// row event is written without reflection, byte for byte as encoding/json
// writes it; any other event is left to encoding/json.
func TestLeanEventEncodingIsEncodingJSONs(t *testing.T) {
	raw := json.RawMessage(`{"event":"update","data":{"row_id":"r"}}`)
	at := time.Date(2026, 12, 2, 9, 30, 1, 123456789, time.UTC)
	lean := seaflow.Event{ID: "0123456789abcdef0123456789abcdef", Source: seaflow.SourceWebhook, Name: "crm-changes", Base: "crm", Time: at, Raw: raw}
	for name, ev := range map[string]seaflow.Event{
		"intake's":       lean,
		"no base":        func() seaflow.Event { e := lean; e.Base = ""; return e }(),
		"whole second":   func() seaflow.Event { e := lean; e.Time = at.Truncate(time.Second); return e }(),
		"zero time":      func() seaflow.Event { e := lean; e.Time = time.Time{}.UTC(); return e }(),
		"no name":        func() seaflow.Event { e := lean; e.Name = ""; return e }(),
		"punctuation ok": func() seaflow.Event { e := lean; e.Name = "a_b-c.d:e/f"; return e }(),
	} {
		got, ok := encodeLean(ev)
		if !ok {
			t.Errorf("%s: not written lean", name)
			continue
		}
		want, err := encodeFull(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	berlin := time.FixedZone("CET", 3600)
	for name, ev := range map[string]seaflow.Event{
		"no raw body":     func() seaflow.Event { e := lean; e.Raw = nil; return e }(),
		"decoded cells":   func() seaflow.Event { e := lean; e.Row = map[string]any{"A": 1}; return e }(),
		"an op type":      func() seaflow.Event { e := lean; e.OpType = "modify_row"; return e }(),
		"a depth":         func() seaflow.Event { e := lean; e.Depth = 1; return e }(),
		"an error":        func() seaflow.Event { e := lean; e.Error = "x"; return e }(),
		"not UTC":         func() seaflow.Event { e := lean; e.Time = at.In(berlin); return e }(),
		"year 10000":      func() seaflow.Event { e := lean; e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC); return e }(),
		"a quote":         func() seaflow.Event { e := lean; e.Name = `a"b`; return e }(),
		"html characters": func() seaflow.Event { e := lean; e.Base = "a<b&c>"; return e }(),
		"not ASCII":       func() seaflow.Event { e := lean; e.Name = "café"; return e }(),
	} {
		if b, ok := encodeLean(ev); ok {
			t.Errorf("%s: written lean: %s", name, b)
		}
		// encodeEvent still stores it, in full, and it reads back.
		b, err := encodeEvent(ev)
		if err != nil {
			continue // year 10000: encoding/json refuses it too
		}
		if _, err := decodeEvent(b); err != nil && len(ev.Raw) > 0 {
			t.Errorf("%s: %s does not read back: %v", name, b, err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev := seaflow.Event{ID: "0123456789abcdef0123456789abcdef", Source: seaflow.SourceWebhook, Name: "crm-changes", Base: "crm",
		Time: time.Date(2026, 12, 2, 9, 30, 1, 123456789, time.UTC), Raw: json.RawMessage(`{"event":"update","data":{"row_id":"r"}}`)}
	b.Run("lean", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeEvent(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeFull(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
