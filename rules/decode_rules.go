package rules

import (
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
)

// actionFields lists each action kind's fields; required ones first,
// up to the count in actionRequired.
var actionFields = map[seaflow.Kind][]string{
	seaflow.KindAppend: {"base", "table", "values", "dedupe_column"},
	seaflow.KindUpdate: {"base", "table", "row", "values"},
	seaflow.KindUpsert: {"base", "table", "key", "values"},
	seaflow.KindDelete: {"base", "table", "row"},
	seaflow.KindLock:   {"base", "table", "row"},
	seaflow.KindUnlock: {"base", "table", "row"},
	seaflow.KindLink:   {"base", "table", "column", "row", "other_rows"},
	seaflow.KindSQL:    {"base", "sql", "params"},
}

var actionRequired = map[seaflow.Kind]int{
	seaflow.KindAppend: 3, seaflow.KindUpdate: 4, seaflow.KindUpsert: 4, seaflow.KindDelete: 3,
	seaflow.KindLock: 3, seaflow.KindUnlock: 3, seaflow.KindLink: 5, seaflow.KindSQL: 2,
}

func actionKindNames() string {
	names := make([]string, len(seaflow.Kinds))
	for i, k := range seaflow.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func (d *decoder) rules(n *yaml.Node, cfg *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "rules", "got %s, want a list", kindName(n))
		return
	}
	names := map[string]bool{}
	for i, item := range n.Content {
		r := d.rule(resolve(item), cfg, i)
		d.ruleName = ""
		if r == nil {
			continue
		}
		if names[r.Name] {
			d.ruleName = r.Name
			d.errAt(r.Line, r.Col, "name", "duplicate rule name (rule names are unique)")
			d.ruleName = ""
			continue
		}
		names[r.Name] = true
		cfg.Rules = append(cfg.Rules, r)
	}
}

func (d *decoder) rule(n *yaml.Node, cfg *Config, index int) *Rule {
	field := "rules[" + strconv.Itoa(index) + "]"
	if n.Kind == yaml.MappingNode {
		// Find the name first so that every error names the rule.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" {
				if v := resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode {
					d.ruleName = v.Value
				}
			}
		}
	}
	if resolve(n).Kind != yaml.MappingNode {
		d.errorf(n, field, "got %s, want a rule (a mapping)", kindName(n))
		return nil
	}
	f := d.fields(n, "", keyNames("rules")...)
	if f == nil {
		return nil
	}
	r := &Rule{Pos: d.pos(n), index: index}
	ok := true
	if e, has := f["name"]; has {
		r.Name, _ = d.str(e.val, "name")
		if !nameRe.MatchString(r.Name) {
			d.errorf(e.val, "name", "rule name must be letters, digits, - and _")
			ok = false
		}
		d.ruleName = r.Name
	} else {
		d.errorf(n, field, "missing name")
		ok = false
	}
	kindOK := false
	if e, has := f["on"]; has {
		kindOK = d.trigger(e.val, cfg, r)
	} else {
		d.errorf(n, "", "missing on: (webhook:, nats: or cron:)")
	}
	ok = ok && kindOK
	if e, has := f["for_each"]; has {
		if kindOK && r.kind != envCron {
			d.errorf(e.key, "for_each", "only cron rules have for_each")
			ok = false
		} else {
			r.kind = envCronItem
			r.forEach = d.forEach(e.val, cfg, r)
		}
	}
	switch r.kind {
	case envWebhook:
		r.Priority = seaflow.Urgent
	case envNATS:
		r.Priority = seaflow.Normal
	default:
		r.Priority = seaflow.Bulk
	}
	if e, has := f["priority"]; has {
		if s, good := d.str(e.val, "priority"); good {
			lane, err := seaflow.ParseLane(s)
			if err != nil {
				d.errorf(e.val, "priority", "%v", err)
				ok = false
			} else {
				r.Priority = lane
			}
		}
	}
	r.BudgetShare = 1
	if r.kind == envWebhook {
		r.BudgetShare = DefaultWebhookBudgetShare
	}
	if e, has := f["budget_share"]; has {
		if v, good := d.share(e.val, "budget_share"); good {
			r.BudgetShare = v
		} else {
			ok = false
		}
	}
	if e, has := f["on_self"]; has {
		r.OnSelf, _ = d.boolean(e.val, "on_self")
	}
	if e, has := f["max_depth"]; has {
		if v, good := d.integer(e.val, "max_depth"); good {
			if v < 0 {
				d.errorf(e.val, "max_depth", "must not be negative")
			}
			r.MaxDepth = v
		}
	}
	if e, has := f["when"]; has && kindOK {
		if s, good := d.str(e.val, "when"); good {
			s = strings.TrimSpace(s)
			src, off := s, 0
			if strings.HasPrefix(s, "=") && !strings.HasPrefix(s, "==") {
				src, off = s[1:], 1
			}
			r.When = src
			r.when = d.compile(e.val, "when", src, off, r.kind, true)
			if r.when == nil {
				ok = false
			}
		}
	}
	if e, has := f["do"]; has {
		r.actions = d.actions(e.val, cfg, r, kindOK)
	} else {
		d.errorf(n, "", "missing do: (the actions to run)")
	}
	if len(r.actions) == 0 || !ok {
		return nil
	}
	return r
}

// trigger decodes on:, setting the rule's trigger, environment kind,
// schedule and zone. It reports whether the kind is known.
func (d *decoder) trigger(n *yaml.Node, cfg *Config, r *Rule) bool {
	f := d.fields(n, "on", keyNames("rules.on")...)
	if f == nil {
		return false
	}
	var kinds []string
	for _, k := range []string{"webhook", "nats", "cron"} {
		if _, ok := f[k]; ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		d.errorf(n, "on", "want exactly one of webhook:, nats: and cron:, got %d", len(kinds))
		return false
	}
	if kinds[0] != "cron" {
		for _, k := range []string{"tz", "catch_up"} {
			if e, ok := f[k]; ok {
				d.errorf(e.key, "on."+k, "only cron triggers take %s", k)
			}
		}
	}
	e := f[kinds[0]]
	field := "on." + kinds[0]
	s, ok := d.str(e.val, field)
	if !ok {
		return false
	}
	switch kinds[0] {
	case "webhook":
		r.On.Webhook, r.kind = s, envWebhook
		if cfg.Webhook(s) == nil {
			d.errorf(e.val, field, "unknown webhook %q", s)
		}
	case "nats":
		r.On.NATS, r.kind = s, envNATS
		if err := checkSubject(s); err != "" {
			d.errorf(e.val, field, "%s", err)
		}
	case "cron":
		r.On.Cron, r.kind = s, envCron
		r.loc = time.UTC
		if z, has := f["tz"]; has {
			if tz, good := d.str(z.val, "on.tz"); good && tz != "" {
				r.On.TZ = tz
				loc, err := time.LoadLocation(tz)
				if err != nil || tz == "Local" {
					d.errorf(z.val, "on.tz", "unknown time zone %q (want an IANA name like Europe/Berlin)", tz)
				} else {
					r.loc = loc
				}
			}
		}
		if c, has := f["catch_up"]; has {
			r.On.CatchUp, _ = d.boolean(c.val, "on.catch_up")
		}
		switch {
		case strings.Contains(s, "TZ="):
			d.errorf(e.val, field, "set the zone with tz:, not in the spec")
		case s == "":
			d.errorf(e.val, field, "is empty")
		default:
			sched, err := ParseSchedule(s, r.loc)
			if err != nil {
				d.errorf(e.val, field, "bad cron spec %q: %v (want 5 fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @every 10m, ...)", s, err)
			} else {
				r.schedule = sched
			}
		}
	}
	return true
}

// checkSubject returns why s is not a valid NATS subject to subscribe to,
// or "".
func checkSubject(s string) string {
	if s == "" {
		return "empty subject"
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return "subject " + strconv.Quote(s) + " has an empty token"
		case strings.ContainsAny(t, " \t\r\n"):
			return "subject " + strconv.Quote(s) + " contains white space"
		case t == ">" && i != len(tokens)-1:
			return "subject " + strconv.Quote(s) + ": > must be the last token"
		case len(t) > 1 && strings.ContainsAny(t, "*>"):
			return "subject " + strconv.Quote(s) + ": wildcards must be whole tokens"
		}
	}
	return ""
}

func (d *decoder) forEach(n *yaml.Node, cfg *Config, r *Rule) *ForEach {
	f := d.fields(n, "for_each", keyNames("rules.for_each")...)
	if f == nil {
		return nil
	}
	fe := &ForEach{rule: r}
	if e, ok := f["base"]; ok {
		fe.Base = d.baseRef(e.val, cfg, "for_each.base")
	} else {
		d.errorf(n, "for_each", "missing base")
	}
	var sqlNode *yaml.Node
	if e, ok := f["sql"]; ok {
		sqlNode = e.val
		fe.SQL, _ = d.statement(e.val, "for_each.sql", "SELECT")
	} else {
		d.errorf(n, "for_each", "missing sql")
	}
	if e, ok := f["params"]; ok {
		// Params see the cron event only: they run before the query.
		fe.params = d.params(e.val, "for_each.params", envCron)
	}
	if sqlNode != nil && fe.SQL != "" {
		d.checkPlaceholders(sqlNode, "for_each.sql", fe.SQL, len(fe.params))
	}
	return fe
}

func (d *decoder) baseRef(n *yaml.Node, cfg *Config, field string) string {
	s, ok := d.str(n, field)
	if !ok {
		return ""
	}
	if strings.HasPrefix(s, "=") {
		d.errorf(n, field, "the base must be a name from bases:, not an expression")
		return ""
	}
	if cfg.Bases[s] == nil {
		d.errorf(n, field, "unknown base %q", s)
	}
	return s
}

// statement checks an SQL statement: a literal (no ${VAR}, no
// =expression: event data goes in through ? and params) starting with verb.
func (d *decoder) statement(n *yaml.Node, field string, verbs ...string) (string, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "="):
		d.errorf(n, field, "the statement must be literal text, not an expression: pass event data as ? placeholders with params:")
		return "", false
	case strings.Contains(s, "${"):
		d.errorf(n, field, "${...} is not expanded in SQL: pass values as ? placeholders with params:")
		return "", false
	}
	verb := strings.ToUpper(firstWord(s))
	if !contains(verbs, verb) {
		d.errorf(n, field, "the statement must start with %s, not %q", strings.Join(verbs, " or "), firstWord(s))
		return "", false
	}
	if i := strings.IndexByte(stripQuoted(s), ';'); i >= 0 && i != len(s)-1 {
		d.errorf(n, field, "only one statement is allowed")
		return "", false
	}
	return s, true
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t\r\n("); i >= 0 {
		return s[:i]
	}
	return s
}

// stripQuoted blanks out quoted literals and identifiers ('…', "…", `…`),
// keeping the length, so that ? and ; inside them are not counted.
func stripQuoted(s string) string {
	b := []byte(s)
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b[i] = ' '
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		}
	}
	return string(b)
}

func (d *decoder) checkPlaceholders(n *yaml.Node, field, stmt string, params int) {
	if c := strings.Count(stripQuoted(stmt), "?"); c != params {
		d.errorf(n, field, "the statement has %d ? placeholders but %d params", c, params)
	}
}

func (d *decoder) params(n *yaml.Node, field string, k envKind) []*value {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "got %s, want a list", kindName(n))
		return nil
	}
	out := make([]*value, 0, len(n.Content))
	for i, p := range n.Content {
		out = append(out, d.value(resolve(p), field+"["+strconv.Itoa(i)+"]", k))
	}
	return out
}

func (d *decoder) actions(n *yaml.Node, cfg *Config, r *Rule, compile bool) []*action {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, "do", "want a list of at least one action")
		return nil
	}
	var out []*action
	bad := false
	for i, item := range n.Content {
		item = resolve(item)
		field := "do[" + strconv.Itoa(i) + "]"
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			d.errorf(item, field, "want one action: a mapping with one key (%s)", actionKindNames())
			bad = true
			continue
		}
		k := resolve(item.Content[0])
		kind := seaflow.Kind(k.Value)
		names, known := actionFields[kind]
		if !known {
			d.errorf(k, field, "unknown action %q (want %s)", k.Value, actionKindNames())
			bad = true
			continue
		}
		a := d.action(resolve(item.Content[1]), cfg, r, kind, field+"."+k.Value, names, compile)
		if a == nil {
			bad = true
			continue
		}
		out = append(out, a)
	}
	if bad || !compile {
		return nil
	}
	return out
}

func (d *decoder) action(n *yaml.Node, cfg *Config, r *Rule, kind seaflow.Kind, field string, names []string, compile bool) *action {
	f := d.fields(n, field, names...)
	if f == nil {
		return nil
	}
	errs := len(d.errs)
	for _, req := range names[:actionRequired[kind]] {
		if _, ok := f[req]; !ok {
			d.errorf(n, field, "missing %s", req)
		}
	}
	a := &action{kind: kind, field: field}
	if e, ok := f["base"]; ok {
		a.base = d.baseRef(e.val, cfg, field+".base")
	}
	val := func(name string) *value {
		e, ok := f[name]
		if !ok || !compile {
			return nil
		}
		return d.value(e.val, field+"."+name, r.kind)
	}
	a.table, a.row, a.key, a.column, a.others = val("table"), val("row"), val("key"), val("column"), val("other_rows")
	if e, ok := f["dedupe_column"]; ok {
		// A literal column name: the op's id is written there, so a
		// redelivered append can find the row it already made.
		if col, ok := d.str(e.val, field+".dedupe_column"); ok {
			if col == "" || strings.HasPrefix(col, "=") {
				d.errorf(e.val, field+".dedupe_column", "want a column name (a literal, not an expression)")
			} else {
				a.dedupe, a.dedupePos = col, d.pos(e.val)
			}
		}
	}
	if e, ok := f["values"]; ok && compile {
		if e.val.Kind != yaml.MappingNode && !strings.HasPrefix(e.val.Value, "=") {
			d.errorf(e.val, field+".values", "want a mapping of column name to value, or an =expression")
		} else {
			a.values = d.value(e.val, field+".values", r.kind)
		}
	}
	if kind == seaflow.KindUpsert && a.values != nil && a.values.m != nil && a.key != nil {
		if key, ok := a.key.literalString(); ok {
			if _, has := a.values.m[key]; !has {
				d.errorf(f["values"].val, field+".values", "has no value for the key column %q", key)
			}
		}
	}
	if kind == seaflow.KindSQL {
		if e, ok := f["sql"]; ok {
			a.sql, _ = d.statement(e.val, field+".sql", "UPDATE", "DELETE")
			if e2, ok := f["params"]; ok && compile {
				a.params = d.params(e2.val, field+".params", r.kind)
			}
			if a.sql != "" {
				d.checkPlaceholders(e.val, field+".sql", a.sql, len(a.params))
			}
		}
	}
	if len(d.errs) > errs {
		return nil
	}
	return a
}

// maxValues bounds how many action values one file may hold.
const maxValues = 100_000

// value compiles an action field: a scalar starting with = is an expr
// expression (== escapes a literal =), a list or mapping is compiled
// element by element, anything else is a literal.
func (d *decoder) value(n *yaml.Node, field string, k envKind) *value {
	n = resolve(n)
	v := &value{pos: d.pos(n)}
	// Aliases can make a small file expand exponentially: bound the work.
	if d.values++; d.values > maxValues {
		if d.values == maxValues+1 {
			d.errorf(n, field, "more than %d values in the file (aliases expanding?)", maxValues)
		}
		return v
	}
	switch n.Kind {
	case yaml.SequenceNode:
		v.list = make([]*value, 0, len(n.Content))
		for i, e := range n.Content {
			v.list = append(v.list, d.value(e, field+"["+strconv.Itoa(i)+"]", k))
		}
		return v
	case yaml.MappingNode:
		v.m = make(map[string]*value, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := resolve(n.Content[i])
			if key.Kind != yaml.ScalarNode {
				d.errorf(key, field, "got %s as a key, want a column name", kindName(key))
				continue
			}
			if _, dup := v.m[key.Value]; dup {
				d.errorf(key, field, "duplicate column %q", key.Value)
				continue
			}
			v.keys = append(v.keys, key.Value)
			v.kpos = append(v.kpos, d.pos(key))
			v.m[key.Value] = d.value(n.Content[i+1], field+"."+key.Value, k)
		}
		return v
	case yaml.ScalarNode:
	default:
		d.errorf(n, field, "got %s, want a value", kindName(n))
		return v
	}
	if n.ShortTag() != "!!str" {
		var lit any
		if err := n.Decode(&lit); err != nil {
			d.errorf(n, field, "%v", err)
		}
		v.lit = lit
		return v
	}
	raw := n.Value
	isExpr := strings.HasPrefix(raw, "=") && !strings.HasPrefix(raw, "==")
	s, ok := d.str(n, field)
	if !ok {
		return v
	}
	switch {
	case isExpr:
		v.src = s[1:]
		v.prog = d.compile(n, field, v.src, 1, k, false)
		if v.prog == nil {
			v.prog = nil
		}
	case strings.HasPrefix(s, "=="):
		v.lit = s[1:]
	case n.Style == 0 && s != raw:
		// A plain scalar built from ${VAR}: type it by its expanded text.
		var lit any
		if err := (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).Decode(&lit); err != nil {
			lit = s
		}
		v.lit = lit
	default:
		v.lit = s
	}
	return v
}

// compile compiles an expression written in scalar n, reporting a problem
// at the position inside the file. off is how many characters of the
// scalar precede src (the = of an action value).
func (d *decoder) compile(n *yaml.Node, field, src string, off int, k envKind, asBool bool) *vm.Program {
	if strings.TrimSpace(src) == "" {
		d.errorf(n, field, "empty expression")
		return nil
	}
	p, err := compileExpr(src, k, asBool)
	if err == nil {
		return p
	}
	msg, line, col := exprErrorAt(err)
	if strings.HasPrefix(msg, "unknown name ") {
		msg += " (" + field + " sees " + k.names() + ", now() and functions)"
	}
	l, c := n.Line, n.Column
	switch {
	case line > 1 || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		l += line
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		c += 1 + off + col
	default:
		c += off + col
	}
	d.errAt(l, c, field, "%s", msg)
	return nil
}
