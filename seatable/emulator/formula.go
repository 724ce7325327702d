package emulator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// A formula column holds a tiny expression: SeaTable's {Column Name}
// references combined with expr-lang operators and functions, e.g.
// `{Amount} * 2` or `{Name} + " (" + {Stage} + ")"`. It is computed on
// every read from the row's other cells; an error reads as "#VALUE!", as
// in SeaTable. Formula columns are read-only: writes are ignored.

// compileFormula translates the {Column} references and compiles the
// expression once.
func compileFormula(src string) (*vm.Program, error) {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		if src[i] != '{' {
			b.WriteByte(src[i])
			continue
		}
		end := strings.IndexByte(src[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed { at offset %d", i)
		}
		b.WriteString("c[" + strconv.Quote(src[i+1:i+end]) + "]")
		i += end
	}
	p, err := expr.Compile(b.String(), expr.Env(map[string]any{"c": map[string]any{}}), expr.MaxNodes(500))
	if err != nil {
		return nil, fmt.Errorf("compile formula: %w", err)
	}
	return p, nil
}

// formulaRefs lists the column names a formula references.
func formulaRefs(src string) []string {
	var refs []string
	for {
		i := strings.IndexByte(src, '{')
		if i < 0 {
			return refs
		}
		j := strings.IndexByte(src[i:], '}')
		if j < 0 {
			return refs
		}
		refs = append(refs, src[i+1:i+j])
		src = src[i+j+1:]
	}
}

// evalFormula computes c for row r. Other formula columns and link
// columns are not visible to a formula (no chains, no cycles through
// linked tables).
func (b *base) evalFormula(t *table, c *column, r *row) any {
	if c.program == nil {
		return nil
	}
	cells := make(map[string]any, len(t.columns))
	for _, o := range t.columns {
		if o.typ == "formula" || o.typ == "link" {
			continue
		}
		cells[o.name] = b.readValue(t, o, r, byName)
	}
	v, err := expr.Run(c.program, map[string]any{"c": cells})
	if err != nil {
		return "#VALUE!"
	}
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64, string, bool, nil:
		return x
	}
	return fmt.Sprint(v)
}
