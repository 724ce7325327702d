package query

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestCompareOp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op    string
		a, b  any
		dates bool
		want  any
	}{
		{"=", 1.0, 1, false, true},
		{"<", int64(1), 2.0, false, true},
		{"=", 5.0, " 5 ", false, true},
		{"=", "5", 5.0, false, true},
		{">", "10", 9.0, false, true},
		{"=", 5.0, "five", false, false},
		{"!=", 5.0, "five", false, true},
		{"<", 5.0, "five", false, nil},
		{"=", true, "true", false, true},
		{"=", "0", false, false, true},
		{"=", true, 1.0, false, true},
		{"<", false, true, false, true},
		{"=", "b", "B", false, false},
		{"<", "B", "b", false, true},
		{"=", "2024-01-31", "2024-01-31T00:00:00Z", false, false},
		{"=", "2024-01-31", "2024-01-31T00:00:00Z", true, true},
		{"<", "2024-01-31T01:00:00+02:00", "2024-01-31T00:00:00+00:00", true, true},
		{"<", "not a date", "2024-01-31", true, false}, // lexical fallback
		{"=", nil, nil, false, nil},
		{"=", []any{}, "a", false, nil},
		{"=", []any{"a", "b"}, "b", false, true},
		{"=", "b", []any{"a", "b"}, false, true},
		{">", []any{1.0, 7.0}, 5.0, false, true},
		{"<", 5.0, []any{1.0, 7.0}, false, true},
		{"!=", []any{"a", "b"}, "c", false, true},
		{"!=", []any{"a", nil}, "c", false, nil},
		{"=", []string{"x"}, "x", false, true},
		{"=", map[string]any{"lat": 1.0}, "x", false, false},
		{"=", math.NaN(), math.NaN(), false, true},
		{">", 1.0, math.NaN(), false, true},
	}
	for _, tt := range tests {
		if got := compareOp(tt.op, tt.a, tt.b, tt.dates); got != tt.want {
			t.Errorf("%v %s %v (dates %v) = %v, want %v", tt.a, tt.op, tt.b, tt.dates, got, tt.want)
		}
	}
}

func TestTruth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want any
	}{
		{nil, nil}, {true, true}, {false, false}, {"true", true}, {"x", false},
		{0.0, false}, {2, true}, {[]any{}, nil}, {[]any{"a"}, true},
	}
	for _, tt := range tests {
		if got := truth(tt.v); got != tt.want {
			t.Errorf("truth(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestOrderCompare(t *testing.T) {
	t.Parallel()
	ordered := []any{nil, false, true, -1.0, 2, "A", "a", []any{"a"}, []any{"a", "b"}, []any{"b"}, map[string]any{"k": 1}}
	for i := range ordered {
		for j := range ordered {
			got := orderCompare(ordered[i], ordered[j], false)
			want := cmpInt(i, j)
			if got != want {
				t.Errorf("orderCompare(%v, %v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestAppendKeyDistinguishes(t *testing.T) {
	t.Parallel()
	values := []any{nil, true, false, "", "1", 1.0, 2, "a", "a;", []any{"a"}, []any{"a", "b"}, []any{"ab"}, map[string]any{"a": 1}}
	seen := map[string]any{}
	for _, v := range values {
		k := string(appendKey(nil, v))
		if prev, dup := seen[k]; dup {
			t.Errorf("%v and %v share key %q", prev, v, k)
		}
		seen[k] = v
	}
	if string(appendKey(nil, 0.0)) != string(appendKey(nil, math.Copysign(0, -1))) {
		t.Errorf("0 and -0 differ")
	}
	if string(appendKey(nil, 3)) != string(appendKey(nil, 3.0)) {
		t.Errorf("int and float 3 differ")
	}
	if string(appendKey(nil, []any{})) != string(appendKey(nil, nil)) {
		t.Errorf("an empty list is not NULL")
	}
}

func TestNormalizeParam(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	tests := []struct {
		in   any
		want any
	}{
		{nil, nil}, {"s", "s"}, {true, true}, {1.5, 1.5}, {3, 3.0}, {int8(-3), -3.0},
		{uint16(7), 7.0}, {json.Number("12.5"), 12.5}, {now, "2024-05-06T07:08:09.000+02:00"},
		{[]any{1, "a"}, []any{1.0, "a"}}, {[]string{"a"}, []any{"a"}},
	}
	for _, tt := range tests {
		got, err := normalizeParam(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("normalizeParam(%#v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []any{json.Number("x"), struct{}{}, []any{struct{}{}}, map[string]any{}} {
		if _, err := normalizeParam(bad); err == nil {
			t.Errorf("normalizeParam(%#v) succeeded", bad)
		}
	}
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want string
	}{
		{nil, ""}, {"x", "x"}, {true, "true"}, {25.5, "25.5"}, {3, "3"}, {[]any{"a", 1.0}, "[a,1]"},
		{map[string]any{"lat": 1}, "map[lat:1]"},
	}
	for _, tt := range tests {
		if got := formatValue(tt.v); got != tt.want {
			t.Errorf("formatValue(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
