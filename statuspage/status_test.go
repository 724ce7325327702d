package statuspage

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// loadSample decodes testdata/status.json, refusing any field Status does
// not declare.
func loadSample(t *testing.T) ([]byte, Status) {
	t.Helper()
	raw, err := os.ReadFile("testdata/status.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var st Status
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("decode sample: %v", err)
	}
	return raw, st
}

// sameJSON reports whether v marshals to the JSON of want (field order and
// layout aside), and returns v's JSON.
func sameJSON(t *testing.T, want []byte, v any) ([]byte, bool) {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &g); err != nil {
		t.Fatal(err)
	}
	return out, reflect.DeepEqual(w, g)
}

func TestStatusMirrorsSample(t *testing.T) {
	t.Parallel()
	raw, st := loadSample(t)
	if out, ok := sameJSON(t, raw, st); !ok {
		t.Errorf("Status does not round-trip the sample:\nwant %s\ngot  %s", raw, out)
	}

	crm := st.Bases[0]
	if crm.Name != "crm" || crm.Forecast == nil || crm.Forecast.ExhaustedAt == nil {
		t.Fatalf("sample base crm: %+v", crm)
	}
	if st.Bases[1].Forecast.ExhaustedAt != nil {
		t.Error("sample base support should last the window")
	}
	if st.Traces[0].Took != 184*time.Microsecond {
		t.Errorf("took_ns decodes to %v", st.Traces[0].Took)
	}
}

// TestSampleConsistent checks the sample is what History and Forecast would
// produce from its own numbers, so the page is tested on realistic data.
func TestSampleConsistent(t *testing.T) {
	t.Parallel()
	_, st := loadSample(t)
	for _, b := range st.Bases {
		used := 0
		for _, c := range b.History.Calls {
			used += c
		}
		var day WindowStatus
		for _, w := range b.Windows {
			if w.Window == "24h" {
				day = w
			}
			if w.Used+w.Remaining != w.Limit {
				t.Errorf("%s %s: used %d + remaining %d != limit %d", b.Name, w.Window, w.Used, w.Remaining, w.Limit)
			}
		}
		if day.Used != used || len(b.History.Calls) != 24 || b.History.BucketSeconds != 3600 {
			t.Errorf("%s: 24h used %d, history sums to %d over %d buckets of %ds", b.Name, day.Used, used, len(b.History.Calls), b.History.BucketSeconds)
		}
		// Every call of the base is some rule's (or no rule's).
		var spent1h, spent24h float64
		for _, x := range st.RuleSpend {
			if x.Base == b.Name {
				spent1h += x.Calls1h
				spent24h += x.Calls24h
			}
		}
		if last := b.History.Calls[len(b.History.Calls)-1]; spent24h != float64(day.Used) || spent1h != float64(last) {
			t.Errorf("%s: rule spend sums to %v calls in 24h and %v in 1h; the base used %d and %d", b.Name, spent24h, spent1h, day.Used, last)
		}
		pace := b.History.PacePerHour(1)
		want := Forecast("24h", day.Remaining, pace, b.History.End)
		if !reflect.DeepEqual(want, b.Forecast) {
			t.Errorf("%s: forecast %+v, Forecast gives %+v", b.Name, b.Forecast, want)
		}
	}
}
