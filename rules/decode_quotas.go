package rules

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
)

// QuotaConfig is a budget shared by several bases, such as SeaTable
// Cloud's monthly API quota per team: a call of any of its bases counts in
// it, and a call is admitted only when its base and every quota of the
// base admit it (budget.Group).
type QuotaConfig struct {
	// Name is the key under `quotas:`.
	Name string
	// Bases are the config names of the bases that share the quota.
	Bases []string
	// Limits are the quota's windows: calls per calendar month in UTC
	// (window: month, reset when the month ends) or per rolling window.
	// Required.
	Limits []seaflow.Window
	// UrgentReserve is how many calls of the longest window only urgent
	// rules may use. Absent in the file = a tenth of the longest window;
	// 0 = no reserve.
	UrgentReserve int
	Pos
}

// Budget returns the quota's limits as the budget enforces them.
func (q *QuotaConfig) Budget() budget.Limits {
	return budget.Limits{Windows: q.Limits, UrgentReserve: q.UrgentReserve, Slack: budget.DefaultSlack}
}

// QuotaBudget returns the limits of quota group name; a name the config
// does not have gets no limits (it admits everything).
func (c *Config) QuotaBudget(name string) budget.Limits {
	if q, ok := c.Quotas[name]; ok {
		return q.Budget()
	}
	return budget.Limits{}
}

// QuotasOf returns the names of the quota groups base belongs to, sorted.
func (c *Config) QuotasOf(base string) []string {
	var out []string
	for _, name := range sortedKeys(c.Quotas) {
		for _, b := range c.Quotas[name].Bases {
			if b == base {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// quotas decodes `quotas: {NAME: {bases: [...], limits: [...], urgent_reserve: N}}`.
// It runs after bases:, whose names it checks.
func (d *decoder) quotas(n *yaml.Node, cfg *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "quotas", "got %s, want a mapping of quota name to {bases, limits}", kindName(n))
		return
	}
	cfg.Quotas = map[string]*QuotaConfig{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		field := "quotas." + k.Value
		switch {
		case k.Kind != yaml.ScalarNode || !nameRe.MatchString(k.Value):
			d.errorf(k, field, "quota name must be letters, digits, - and _")
			continue
		case cfg.Quotas[k.Value] != nil:
			d.errorf(k, field, "duplicate quota")
			continue
		}
		if q := d.quota(v, k.Value, field, cfg); q != nil {
			cfg.Quotas[k.Value] = q
		}
	}
}

func (d *decoder) quota(n *yaml.Node, name, field string, cfg *Config) *QuotaConfig {
	q := &QuotaConfig{Name: name, Pos: d.pos(n)}
	f := d.fields(n, field, keyNames("quotas")...)
	if f == nil {
		return nil
	}
	if e, ok := f["bases"]; ok {
		q.Bases = d.uniqueNames(e.val, field+".bases", "base", "is empty: name the bases that share the quota", func(b string) string {
			if cfg.Bases[b] == nil {
				return "unknown base " + strconv.Quote(b)
			}
			return ""
		})
	} else {
		d.errorf(n, field, "missing bases (the bases that share the quota)")
	}
	if e, ok := f["limits"]; ok {
		q.Limits = d.limits(e.val, field+".limits")
		if len(q.Limits) == 0 && e.val.Kind == yaml.SequenceNode && len(e.val.Content) == 0 {
			d.errorf(e.val, field+".limits", "is empty: give at least one {window, calls}, e.g. {window: month, calls: 100000}")
		}
	} else {
		d.errorf(n, field, "missing limits (e.g. [ {window: month, calls: 100000} ])")
	}
	if len(q.Limits) == 0 {
		return nil
	}
	q.UrgentReserve = d.urgentReserve(f, field, q.Limits)
	return q
}

// strings decodes a list of strings, returning each with its node; an item
// that is not a string is reported and left out.
func (d *decoder) strings(n *yaml.Node, field string) ([]string, []*yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "got %s, want a list of names", kindName(n))
		return nil, []*yaml.Node{n}
	}
	var out []string
	var nodes []*yaml.Node
	for i, item := range n.Content {
		item = resolve(item)
		s, ok := d.str(item, field+"["+strconv.Itoa(i)+"]")
		if !ok {
			continue
		}
		if s == "" {
			d.errorf(item, field+"["+strconv.Itoa(i)+"]", "is empty")
			continue
		}
		out = append(out, s)
		nodes = append(nodes, item)
	}
	return out, nodes
}

// urgentReserve decodes the urgent_reserve of a base or quota with
// windows limits: a tenth of the longest window when absent.
func (d *decoder) urgentReserve(f map[string]entry, field string, limits []seaflow.Window) int {
	longest := limits[seaflow.Longest(limits)]
	reserve := longest.Calls / DefaultUrgentReserveShare
	if e, ok := f["urgent_reserve"]; ok {
		if r, ok := d.integer(e.val, field+".urgent_reserve"); ok {
			switch {
			case r < 0:
				d.errorf(e.val, field+".urgent_reserve", "must not be negative")
			case r >= longest.Calls:
				d.errorf(e.val, field+".urgent_reserve", "%d leaves nothing of the %d calls per %s for normal and bulk rules", r, longest.Calls, longest.Label())
			default:
				reserve = r
			}
		}
	}
	return reserve
}

// uniqueNames decodes a non-empty list of names, each once; bad names an
// error for a name it refuses ("" = fine). Refused and repeated names are
// reported and left out.
func (d *decoder) uniqueNames(n *yaml.Node, field, what, empty string, bad func(string) string) []string {
	names, nodes := d.strings(n, field)
	var out []string
	seen := map[string]bool{}
	for i, name := range names {
		switch why := bad(name); {
		case why != "":
			d.errorf(nodes[i], field, "%s", why)
		case seen[name]:
			d.errorf(nodes[i], field, "%s %q listed twice", what, name)
		default:
			out = append(out, name)
		}
		seen[name] = true
	}
	if len(names) == 0 && len(nodes) == 0 {
		d.errorf(n, field, "%s", empty)
	}
	return out
}
