package rules

import (
	"strings"

	"github.com/seaflow/seaflow"
)

// plan decodes a base's plan: and gives the base its windows. A base that
// also sets limits: is an error at the plan key: the two say the same
// thing, and a config that says it twice is wrong in one of them.
func (d *decoder) plan(e entry, f map[string]entry, b *BaseConfig, field string) {
	s, ok := d.str(e.val, field+".plan")
	if !ok {
		return
	}
	p, err := seaflow.ParsePlan(strings.TrimSpace(s))
	if err != nil {
		d.errorf(e.val, field+".plan", "%v", err)
		return
	}
	if l, both := f["limits"]; both {
		d.errorf(e.key, field+".plan", "set plan or limits, not both (limits at line %d sets the windows itself; plan %s means %s)", l.key.Line, p, windowList(p.Windows()))
		return
	}
	b.Plan = p
	b.Limits = p.Windows()
}

// windowList renders windows as "300/1m + 5000/24h".
func windowList(ws []seaflow.Window) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, " + ")
}

// planNames lists the plans for the key table.
func planNames() []string {
	out := make([]string, len(seaflow.Plans))
	for i, p := range seaflow.Plans {
		out[i] = string(p)
	}
	return out
}
