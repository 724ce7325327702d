package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// toFloat converts numeric values to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}

// isNull reports whether v is SQL NULL: nil or an empty list.
func isNull(v any) bool {
	if v == nil {
		return true
	}
	if l, ok := v.([]any); ok && len(l) == 0 {
		return true
	}
	if s, ok := v.([]string); ok && len(s) == 0 {
		return true
	}
	return false
}

// asList returns the elements of a list value.
func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// compareValues orders two non-null scalars. ok is false when they are not
// comparable (different kinds that do not convert). With dates set, two
// strings that both parse as ISO dates compare as instants.
func compareValues(a, b any, dates bool) (int, bool) {
	if fa, ok := toFloat(a); ok {
		switch y := b.(type) {
		case string:
			fb, err := strconv.ParseFloat(strings.TrimSpace(y), 64)
			if err != nil {
				return 0, false
			}
			return cmpFloat(fa, fb), true
		case bool:
			return cmpFloat(fa, boolFloat(y)), true
		}
		if fb, ok := toFloat(b); ok {
			return cmpFloat(fa, fb), true
		}
		return 0, false
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			if dates {
				if c, ok := compareDates(x, y); ok {
					return c, true
				}
			}
			return strings.Compare(x, y), true
		case bool:
			bx, ok := parseBool(x)
			if !ok {
				return 0, false
			}
			return cmpFloat(boolFloat(bx), boolFloat(y)), true
		}
		if _, ok := toFloat(b); ok {
			c, ok := compareValues(b, a, dates)
			return -c, ok
		}
	case bool:
		switch y := b.(type) {
		case bool:
			return cmpFloat(boolFloat(x), boolFloat(y)), true
		case string:
			by, ok := parseBool(y)
			if !ok {
				return 0, false
			}
			return cmpFloat(boolFloat(x), boolFloat(by)), true
		}
		if fb, ok := toFloat(b); ok {
			return cmpFloat(boolFloat(x), fb), true
		}
	}
	return 0, false
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	// NaN sorts first.
	if math.IsNaN(a) && !math.IsNaN(b) {
		return -1
	}
	if !math.IsNaN(a) && math.IsNaN(b) {
		return 1
	}
	return 0
}

// compareOp applies a comparison operator with three-valued logic: the
// result is true, false or nil (unknown). A list operand (multiple-select)
// satisfies the operator when any element does; for != when no element is
// equal.
func compareOp(op string, a, b any, dates bool) any {
	if isNull(a) || isNull(b) {
		return nil
	}
	if l, ok := asList(a); ok {
		return listCompare(op, l, b, dates, false)
	}
	if l, ok := asList(b); ok {
		return listCompare(op, l, a, dates, true)
	}
	c, ok := compareValues(a, b, dates)
	if !ok {
		switch op {
		case "=":
			return false
		case "!=":
			return true
		}
		return nil
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return nil
}

// listCompare is compareOp for a list operand; swapped means the list was
// on the right.
func listCompare(op string, l []any, v any, dates, swapped bool) any {
	if op == "!=" {
		eq := listCompare("=", l, v, dates, swapped)
		if eq == nil {
			return nil
		}
		return !eq.(bool)
	}
	unknown := false
	for _, el := range l {
		var r any
		if swapped {
			r = compareOp(op, v, el, dates)
		} else {
			r = compareOp(op, el, v, dates)
		}
		if r == true {
			return true
		}
		if r == nil {
			unknown = true
		}
	}
	if unknown {
		return nil
	}
	return false
}

// orderCompare is a total order for ORDER BY and MIN/MAX: NULL first, then
// booleans, numbers, strings, lists, anything else.
func orderCompare(a, b any, dates bool) int {
	ra, rb := orderRank(a), orderRank(b)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	switch ra {
	case 0:
		return 0
	case 4:
		la, _ := asList(a)
		lb, _ := asList(b)
		for i := 0; i < len(la) && i < len(lb); i++ {
			if c := orderCompare(la[i], lb[i], dates); c != 0 {
				return c
			}
		}
		return cmpInt(len(la), len(lb))
	case 5:
		return strings.Compare(formatValue(a), formatValue(b))
	}
	c, _ := compareValues(a, b, dates)
	return c
}

func orderRank(v any) int {
	if isNull(v) {
		return 0
	}
	if _, ok := toFloat(v); ok {
		return 2
	}
	switch v.(type) {
	case bool:
		return 1
	case string:
		return 3
	case []any, []string:
		return 4
	}
	return 5
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// formatValue renders a scalar as text for LIKE and for keys.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	if f, ok := toFloat(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	if l, ok := asList(v); ok {
		parts := make([]string, len(l))
		for i, el := range l {
			parts[i] = formatValue(el)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(sprint(v), "\n", " "), "\t", " "))
}

// appendKey appends an unambiguous encoding of v to b, for DISTINCT and
// GROUP BY keys.
func appendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case string:
		b = append(b, 's')
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...)
	}
	if f, ok := toFloat(v); ok {
		if f == 0 {
			f = 0 // one key for -0 and 0
		}
		b = append(b, 'd')
		b = strconv.AppendUint(b, math.Float64bits(f), 16)
		return append(b, ';')
	}
	if l, ok := asList(v); ok {
		if len(l) == 0 {
			return append(b, 'n')
		}
		b = append(b, '[')
		for _, el := range l {
			b = appendKey(b, el)
		}
		return append(b, ']')
	}
	s := sprint(v)
	b = append(b, 'o')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// sprint renders values of types the engine does not know (link cells,
// geolocations) for ordering and keys.
func sprint(v any) string { return fmt.Sprintf("%v", v) }
