package emulator

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Fixture is a parsed fixture file: the bases to load into an emulator.
// ParseFixture has already checked it; Load cannot fail on its content
// except on clashes with bases loaded before.
type Fixture struct {
	// Settings are the server-wide settings (timezone:, …).
	Settings Settings
	Bases    []FixtureBase
}

// FixtureBase is one base of a fixture.
type FixtureBase struct {
	Name string
	// UUID is optional (generated when empty); with or without dashes.
	UUID string
	// APIToken is optional (40 hex characters generated when empty).
	APIToken string
	// AppName is what the token exchange reports as app_name and what
	// API writes report as op_user in webhooks; "" = "seaflow".
	AppName string
	// Team names the team whose monthly quota (Options.MonthlyQuota) the
	// base shares with every base naming the same team; "" = its own.
	Team string
	// APITokens are further API tokens of the base, each with its
	// permission (APIToken itself is read-write).
	APITokens []FixtureAPIToken
	Webhooks  []FixtureWebhook
	Tables    []FixtureTable
}

// FixtureAPIToken is an extra API token of a base:
// `api_tokens: [{token: "<40 chars>", permission: r}]`.
type FixtureAPIToken struct {
	// Token is the 40-character API token.
	Token string
	// Permission is "r" (read-only: every write answers 403
	// {"error_msg": "Permission denied."}) or "rw".
	Permission string
	// AppName is the token's app_name; "" = the base's.
	AppName string
}

// FixtureWebhook is one outgoing webhook of a base.
type FixtureWebhook struct {
	URL    string
	Secret string
}

// FixtureTable is one table of a base.
type FixtureTable struct {
	Name    string
	Columns []FixtureColumn
	Rows    []map[string]any
}

// FixtureColumn is one column: Options for selects, Table for links (the
// other table's name), Formula for formulas, Format for dates (data.format:
// YYYY-MM-DD, M/D/YYYY, DD/MM/YYYY or DD.MM.YYYY, each optionally with
// " HH:mm"; "" = "YYYY-MM-DD HH:mm"). A date-only format stores written
// times as the date alone, and DD/MM/YYYY reads slash dates day first.
type FixtureColumn struct {
	Name    string
	Type    string
	Options []string
	Table   string
	Formula string
	Format  string
}

// FixtureError lists every problem of a fixture file, each as
// "FILE:LINE:COL: message".
type FixtureError struct {
	Problems []string
}

// Error returns the problems, one a line.
func (e *FixtureError) Error() string { return strings.Join(e.Problems, "\n") }

// LoadFixtureFile reads and parses a fixture file.
func LoadFixtureFile(path string) (*Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load fixture: %w", err)
	}
	return ParseFixture(path, data)
}

// fixtureParser collects problems while walking the YAML tree.
type fixtureParser struct {
	name     string
	problems []problem
	pending  []baseNodes
}

// problem is one fixture error at a position.
type problem struct {
	line, col int
	msg       string
}

func (p *fixtureParser) errf(n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // expr's errors add a source excerpt on further lines
	}
	p.problems = append(p.problems, problem{n.Line, n.Column, msg})
}

// err returns the problems in file order, or nil.
func (p *fixtureParser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	sort.SliceStable(p.problems, func(i, j int) bool {
		a, b := p.problems[i], p.problems[j]
		return a.line < b.line || a.line == b.line && a.col < b.col
	})
	fe := &FixtureError{}
	for _, pr := range p.problems {
		fe.Problems = append(fe.Problems, fmt.Sprintf("%s:%d:%d: %s", p.name, pr.line, pr.col, pr.msg))
	}
	return fe
}

// ParseFixture parses fixture YAML; name is the file name used in error
// messages. It reports every problem at once in a *FixtureError.
func ParseFixture(name string, data []byte) (*Fixture, error) {
	p := &fixtureParser{name: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FixtureError{Problems: []string{fmt.Sprintf("%s: %v", name, err)}}
	}
	f := &Fixture{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &FixtureError{Problems: []string{name + ":1:1: empty fixture"}}
	}
	root := doc.Content[0]
	keys := p.settingKeys(&f.Settings)
	keys["bases"] = func(n *yaml.Node) {
		for _, bn := range p.seq(n) {
			f.Bases = append(f.Bases, p.base(bn))
		}
	}
	p.mapping(root, keys)
	p.checkBases(root, f)
	if err := p.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// mapping walks a mapping node, calling the handler of each key and
// reporting unknown keys.
func (p *fixtureParser) mapping(n *yaml.Node, keys map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "want a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := keys[k.Value]
		if !ok {
			p.errf(k, "unknown key %q", k.Value)
			continue
		}
		if seen[k.Value] {
			p.errf(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		h(v)
	}
}

func (p *fixtureParser) seq(n *yaml.Node) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "want a list, got %s", kindName(n))
		return nil
	}
	return n.Content
}

func (p *fixtureParser) str(n *yaml.Node, into *string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "want a string, got %s", kindName(n))
		return
	}
	*into = n.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// nodes keeps the positions the second pass reports against.
type baseNodes struct {
	node   *yaml.Node
	name   *yaml.Node
	uuid   *yaml.Node
	token  *yaml.Node
	tokens []*yaml.Node // the token of each api_tokens entry
	tables []tableNodes
}

type tableNodes struct {
	node    *yaml.Node
	name    *yaml.Node
	columns []*yaml.Node
	colKeys []map[string]*yaml.Node
	rows    []*yaml.Node
}

func (p *fixtureParser) base(n *yaml.Node) FixtureBase {
	var b FixtureBase
	bn := baseNodes{node: n}
	p.mapping(n, map[string]func(*yaml.Node){
		"name":      func(v *yaml.Node) { bn.name = v; p.str(v, &b.Name) },
		"uuid":      func(v *yaml.Node) { bn.uuid = v; p.str(v, &b.UUID) },
		"api_token": func(v *yaml.Node) { bn.token = v; p.str(v, &b.APIToken) },
		"app_name":  func(v *yaml.Node) { p.str(v, &b.AppName) },
		"team":      func(v *yaml.Node) { p.str(v, &b.Team) },
		"api_tokens": func(v *yaml.Node) {
			for _, tn := range p.seq(v) {
				var at FixtureAPIToken
				var tokNode, permNode *yaml.Node
				p.mapping(tn, map[string]func(*yaml.Node){
					"token":      func(v *yaml.Node) { tokNode = v; p.str(v, &at.Token) },
					"permission": func(v *yaml.Node) { permNode = v; p.str(v, &at.Permission) },
					"app_name":   func(v *yaml.Node) { p.str(v, &at.AppName) },
				})
				switch {
				case tn.Kind != yaml.MappingNode:
				case tokNode == nil:
					p.errf(tn, "api token without token")
				case len(at.Token) != 40:
					p.errf(tokNode, "api token %q is not 40 characters", at.Token)
				}
				switch {
				case tn.Kind != yaml.MappingNode:
				case permNode == nil:
					p.errf(tn, "api token without permission (r or rw)")
				case at.Permission != "r" && at.Permission != "rw":
					p.errf(permNode, "permission %q is not r or rw", at.Permission)
				}
				bn.tokens = append(bn.tokens, tokNode)
				b.APITokens = append(b.APITokens, at)
			}
		},
		"webhooks": func(v *yaml.Node) {
			for _, wn := range p.seq(v) {
				var w FixtureWebhook
				var urlNode *yaml.Node
				p.mapping(wn, map[string]func(*yaml.Node){
					"url":    func(v *yaml.Node) { urlNode = v; p.str(v, &w.URL) },
					"secret": func(v *yaml.Node) { p.str(v, &w.Secret) },
				})
				if urlNode == nil {
					p.errf(wn, "webhook without url")
				} else if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
					p.errf(urlNode, "webhook url %q is not http(s)", w.URL)
				}
				b.Webhooks = append(b.Webhooks, w)
			}
		},
		"tables": func(v *yaml.Node) {
			for _, tn := range p.seq(v) {
				t, nodes := p.table(tn)
				b.Tables = append(b.Tables, t)
				bn.tables = append(bn.tables, nodes)
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if bn.name == nil {
			p.errf(n, "base without name")
		}
		if bn.uuid != nil && b.UUID != "" {
			if _, ok := normalizeUUID(b.UUID); !ok {
				p.errf(bn.uuid, "uuid %q is not a UUID", b.UUID)
			}
		}
	}
	p.pending = append(p.pending, bn)
	return b
}

func (p *fixtureParser) table(n *yaml.Node) (FixtureTable, tableNodes) {
	var t FixtureTable
	tn := tableNodes{node: n}
	p.mapping(n, map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { tn.name = v; p.str(v, &t.Name) },
		"columns": func(v *yaml.Node) {
			for _, cn := range p.seq(v) {
				var c FixtureColumn
				keys := map[string]*yaml.Node{}
				p.mapping(cn, map[string]func(*yaml.Node){
					"name": func(v *yaml.Node) { keys["name"] = v; p.str(v, &c.Name) },
					"type": func(v *yaml.Node) { keys["type"] = v; p.str(v, &c.Type) },
					"options": func(v *yaml.Node) {
						keys["options"] = v
						for _, on := range p.seq(v) {
							var o string
							if on.Kind != yaml.ScalarNode || on.Tag == "!!null" || on.Value == "" {
								p.errf(on, "bad option %s: want a non-empty name", kindName(on))
								continue
							}
							o = on.Value
							dup := false
							for _, prev := range c.Options {
								dup = dup || prev == o
							}
							if dup {
								p.errf(on, "duplicate option %q", o)
								continue
							}
							c.Options = append(c.Options, o)
						}
					},
					"table":   func(v *yaml.Node) { keys["table"] = v; p.str(v, &c.Table) },
					"formula": func(v *yaml.Node) { keys["formula"] = v; p.str(v, &c.Formula) },
					"format":  func(v *yaml.Node) { keys["format"] = v; p.str(v, &c.Format) },
				})
				t.Columns = append(t.Columns, c)
				tn.columns = append(tn.columns, cn)
				tn.colKeys = append(tn.colKeys, keys)
			}
		},
		"rows": func(v *yaml.Node) {
			for _, rn := range p.seq(v) {
				tn.rows = append(tn.rows, rn)
				t.Rows = append(t.Rows, nil) // filled by checkBases
			}
		},
	})
	if n.Kind == yaml.MappingNode && tn.name == nil {
		p.errf(n, "table without name")
	}
	return t, tn
}

// checkBases is the second pass: names unique, column types and their
// keys, link targets, formulas, and every row cell against its column.
func (p *fixtureParser) checkBases(root *yaml.Node, f *Fixture) {
	names, uuids, tokens := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for bi := range f.Bases {
		b := &f.Bases[bi]
		bn := p.pending[bi]
		if bn.name != nil {
			if names[b.Name] {
				p.errf(bn.name, "duplicate base name %q", b.Name)
			}
			names[b.Name] = true
		}
		if u, ok := normalizeUUID(b.UUID); ok {
			if uuids[u] {
				p.errf(bn.uuid, "duplicate base uuid %q", b.UUID)
			}
			uuids[u] = true
		}
		if bn.token != nil && b.APIToken != "" {
			if tokens[b.APIToken] {
				p.errf(bn.token, "api_token repeated (base %q)", b.Name)
			}
			tokens[b.APIToken] = true
		}
		for i, at := range b.APITokens {
			if n := bn.tokens[i]; n != nil && at.Token != "" {
				if tokens[at.Token] {
					p.errf(n, "api token repeated (base %q)", b.Name)
				}
				tokens[at.Token] = true
			}
		}
		tables := map[string]*FixtureTable{}
		for ti := range b.Tables {
			t := &b.Tables[ti]
			if tn := bn.tables[ti]; tn.name != nil {
				if tables[t.Name] != nil {
					p.errf(tn.name, "duplicate table name %q", t.Name)
				}
				tables[t.Name] = t
			}
		}
		for ti := range b.Tables {
			p.checkTable(b, &b.Tables[ti], bn.tables[ti], tables)
		}
	}
}

func (p *fixtureParser) checkTable(b *FixtureBase, t *FixtureTable, tn tableNodes, tables map[string]*FixtureTable) {
	cols := map[string]*column{}
	for ci, c := range t.Columns {
		keys := tn.colKeys[ci]
		cn := tn.columns[ci]
		if keys["name"] == nil {
			p.errf(cn, "column without name")
			continue
		}
		if cols[c.Name] != nil {
			p.errf(keys["name"], "duplicate column name %q", c.Name)
			continue
		}
		if keys["type"] == nil {
			p.errf(cn, "column %q without type", c.Name)
			continue
		}
		if !columnTypes[c.Type] {
			p.errf(keys["type"], "unknown column type %q", c.Type)
			continue
		}
		if keys["options"] != nil && c.Type != "single-select" && c.Type != "multiple-select" {
			p.errf(keys["options"], "options on a %s column (only selects have options)", c.Type)
		}
		if keys["table"] != nil && c.Type != "link" {
			p.errf(keys["table"], "table on a %s column (only links have a table)", c.Type)
		}
		if keys["formula"] != nil && c.Type != "formula" {
			p.errf(keys["formula"], "formula on a %s column", c.Type)
		}
		if keys["format"] != nil && c.Type != "date" {
			p.errf(keys["format"], "format on a %s column (only dates have a format)", c.Type)
		} else if keys["format"] != nil && !dateFormats[c.Format] {
			p.errf(keys["format"], "unknown date format %q", c.Format)
		}
		switch c.Type {
		case "link":
			if keys["table"] == nil {
				p.errf(cn, "link column %q without table", c.Name)
			} else if tables[c.Table] == nil {
				p.errf(keys["table"], "link column %q: no table %q in base %q", c.Name, c.Table, b.Name)
			}
		case "formula":
			if keys["formula"] == nil {
				p.errf(cn, "formula column %q without formula", c.Name)
			} else if _, err := compileFormula(c.Formula); err != nil {
				p.errf(keys["formula"], "formula column %q: %v", c.Name, err)
			}
		}
		col := &column{name: c.Name, typ: c.Type, dateFormat: c.Format}
		for _, o := range c.Options {
			col.options = append(col.options, &option{ID: o, Name: o})
		}
		cols[c.Name] = col
	}
	for ci, c := range t.Columns {
		if c.Type != "formula" || tn.colKeys[ci]["formula"] == nil {
			continue
		}
		for _, ref := range formulaRefs(c.Formula) {
			if rc := cols[ref]; rc == nil || rc.typ == "formula" || rc.typ == "link" {
				p.errf(tn.colKeys[ci]["formula"], "formula column %q references %q, which is no plain column of table %q (formula and link columns cannot be referenced)", c.Name, ref, t.Name)
			}
		}
	}
	for ri, rn := range tn.rows {
		cells := map[string]any{}
		if rn.Kind != yaml.MappingNode {
			p.errf(rn, "want a row mapping, got %s", kindName(rn))
			continue
		}
		for i := 0; i+1 < len(rn.Content); i += 2 {
			k, v := rn.Content[i], rn.Content[i+1]
			col := cols[k.Value]
			if col == nil {
				p.errf(k, "row cell for missing column %q in table %q", k.Value, t.Name)
				continue
			}
			if _, dup := cells[k.Value]; dup {
				p.errf(k, "duplicate cell %q", k.Value)
				continue
			}
			var val any
			if v.Kind == yaml.ScalarNode && v.Tag == "!!timestamp" {
				val = v.Value
			} else if err := v.Decode(&val); err != nil {
				p.errf(v, "cell %q: %v", k.Value, err)
				continue
			}
			switch col.typ {
			case "formula":
				p.errf(k, "cell %q: formula columns are read-only", k.Value)
				continue
			case "link":
				p.errf(k, "cell %q: link cells cannot be set in fixtures", k.Value)
				continue
			case "checkbox":
				if _, ok := val.(bool); !ok && val != nil {
					p.errf(v, "cell %q: want true or false, got %s", k.Value, kindName(v))
					continue
				}
			case "date":
				if s, ok := val.(string); !ok || !validDate(col, s) {
					if _, rel := relativeDays(s); ok && rel {
						cells[k.Value] = val // resolved when the fixture is loaded
						continue
					}
					if val != nil {
						p.errf(v, "cell %q: bad date %s", k.Value, kindName(v))
						continue
					}
				}
			}
			if _, err := col.toStored(val, time.UTC, false); err != nil {
				var ce *cellError
				if !errors.As(err, &ce) {
					p.errf(v, "cell %q: %v", k.Value, err)
				} else if strings.HasPrefix(ce.msg, "unknown option") {
					names := make([]string, len(col.options))
					for i, o := range col.options {
						names[i] = o.Name
					}
					p.errf(v, "cell %q: bad option: %s (options: %s)", k.Value, ce.msg, strings.Join(names, ", "))
				} else {
					p.errf(v, "cell %q: %s", k.Value, ce.msg)
				}
				continue
			}
			cells[k.Value] = val
		}
		t.Rows[ri] = cells
	}
}

func validDate(c *column, s string) bool {
	_, ok := c.parseDate(s, time.UTC)
	return ok
}
