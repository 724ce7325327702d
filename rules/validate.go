package rules

import (
	"context"
	"fmt"
	"path/filepath"
)

// Validate loads the config at path with the process environment, as
// `seaflow validate` does. It returns a one-line summary when the file is
// valid ("rules.yaml: 7 rules, 3 webhooks, 2 bases: OK"), or every problem.
func Validate(path string) (summary string, errs ErrorList) {
	cfg, err := Load(path, nil)
	if err != nil {
		if l, ok := err.(ErrorList); ok {
			return "", l
		}
		return "", ErrorList{{File: path, Line: 0, Col: 0, Msg: err.Error()}}
	}
	return cfg.Summary(), nil
}

// Summary describes the config in one line.
func (c *Config) Summary() string {
	return fmt.Sprintf("%s: %s, %s, %s: OK", filepath.Base(c.Path),
		plural(len(c.Rules), "rule"), plural(len(c.Webhooks), "webhook"), plural(len(c.Bases), "base"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// MetadataFunc returns a base's tables and, per table, its column names.
type MetadataFunc func(ctx context.Context, base string) (tables map[string][]string, err error)

// CheckOnline checks the tables and columns that actions name literally
// against the bases' metadata (`seaflow validate --online`): tables, key,
// link and dedupe columns, and every column a write names. A write naming
// a column the table lacks would lose its value without an error (SeaTable
// answers 200 and drops it), so this is where a typo shows before it runs.
// Names given as expressions are only known at run time and are skipped;
// the dispatcher checks those before sending. A base whose metadata cannot
// be fetched is one problem at the base.
func (c *Config) CheckOnline(ctx context.Context, meta MetadataFunc) ErrorList {
	var errs ErrorList
	tables := map[string]map[string][]string{}
	for _, name := range sortedKeys(c.Bases) {
		t, err := meta(ctx, name)
		if err != nil {
			b := c.Bases[name]
			errs = append(errs, &PosError{File: b.File, Line: b.Line, Col: b.Col, Field: "bases." + name, Msg: fmt.Sprintf("fetch metadata: %v", err)})
			continue
		}
		tables[name] = t
	}
	for _, r := range c.Rules {
		for _, a := range r.actions {
			t, ok := tables[a.base]
			if !ok || a.table == nil {
				continue
			}
			table, ok := a.table.literalString()
			if !ok {
				continue
			}
			cols, ok := t[table]
			if !ok {
				errs = append(errs, a.table.errorf(r, a.field+".table", "base %q has no table %q", a.base, table))
				continue
			}
			check := func(v *value, field string) {
				if name, ok := v.literalString(); ok && !contains(cols, name) {
					errs = append(errs, v.errorf(r, field, "table %q has no column %q", table, name))
				}
			}
			if a.key != nil {
				check(a.key, a.field+".key")
			}
			if a.column != nil {
				check(a.column, a.field+".column")
			}
			if a.dedupe != "" && !contains(cols, a.dedupe) {
				p := a.dedupePos
				errs = append(errs, &PosError{File: p.File, Line: p.Line, Col: p.Col, Rule: r.Name, Field: a.field + ".dedupe_column", Msg: fmt.Sprintf("table %q has no column %q", table, a.dedupe)})
			}
			if a.values != nil && a.values.m != nil {
				for i, k := range a.values.keys {
					if !contains(cols, k) {
						p := a.values.kpos[i]
						errs = append(errs, &PosError{File: p.File, Line: p.Line, Col: p.Col, Rule: r.Name, Field: a.field + ".values." + k, Msg: fmt.Sprintf("table %q has no column %q", table, k)})
					}
				}
			}
		}
	}
	errs.sort()
	return errs
}

func (v *value) errorf(r *Rule, field, format string, args ...any) *PosError {
	return &PosError{File: v.pos.File, Line: v.pos.Line, Col: v.pos.Col, Rule: r.Name, Field: field, Msg: fmt.Sprintf(format, args...)}
}
