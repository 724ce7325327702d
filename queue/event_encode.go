package queue

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/seaflow/seaflow"
)

// encodeEvent is the stored form of ev: its JSON, with a SeaTable body kept
// as it came (seaflow.Event.Raw) spliced in unscanned (intake validated it).
func encodeEvent(ev seaflow.Event) ([]byte, error) {
	if b, ok := encodeLean(ev); ok {
		return b, nil
	}
	return encodeFull(ev)
}

// encodeFull is encodeEvent by encoding/json.
func encodeFull(ev seaflow.Event) ([]byte, error) {
	raw := ev.Raw
	ev.Raw = nil
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if len(raw) > 0 {
		data = append(append(append(data[:len(data)-1], `,"raw":`...), raw...), '}')
	}
	return data, nil
}

// encodeLean writes, without reflection, the JSON encoding/json would
// write for what webhook intake stores of a SeaTable row event: id,
// source, name, time, base and the raw body, plain ASCII names, a UTC
// time of years 0 to 9999. ok is false for any other event (any other field
// set), which encodeEvent then encodes in full.
func encodeLean(ev seaflow.Event) ([]byte, bool) {
	if len(ev.Raw) == 0 || ev.Time.Location() != time.UTC || ev.Time.Year() < 0 || ev.Time.Year() > 9999 {
		return nil, false
	}
	rest := ev
	rest.ID, rest.Source, rest.Name, rest.Time, rest.Base, rest.Raw = "", "", "", time.Time{}, "", nil
	if !reflect.ValueOf(rest).IsZero() {
		return nil, false
	}
	strs := [...]string{ev.ID, string(ev.Source), ev.Name, ev.Base}
	size := len(ev.Raw) + 96
	for _, s := range strs {
		if !plainJSON(s) {
			return nil, false
		}
		size += len(s)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"id":"`...)
	b = append(b, ev.ID...)
	b = append(b, `","source":"`...)
	b = append(b, ev.Source...)
	b = append(b, `","name":"`...)
	b = append(b, ev.Name...)
	b = append(b, `","time":"`...)
	b = ev.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if ev.Base != "" {
		b = append(b, `,"base":"`...)
		b = append(b, ev.Base...)
		b = append(b, '"')
	}
	b = append(b, `,"raw":`...)
	b = append(b, ev.Raw...)
	return append(b, '}'), true
}

// plainJSON reports whether encoding/json writes s as it is between
// quotes: printable ASCII without the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
