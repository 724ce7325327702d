package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is where something was written in a config file. Line and Col are
// 1-based; zero means unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats the position as FILE:LINE:COL.
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// PosError is one problem in a config file, with where it is.
type PosError struct {
	File      string
	Line, Col int
	// Rule is the name of the rule the problem is in; empty outside rules.
	Rule string
	// Field is the path of the offending field, e.g. "do[0].update.row".
	Field string
	Msg   string
}

// Error formats the problem as FILE:LINE:COL: rule "NAME": field: message,
// leaving out the rule and field parts when they are empty.
func (e *PosError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a config file, in file order. A nil
// or empty list means no problem.
type ErrorList []*PosError

// Error returns one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns the list as an error, or nil when it is empty (so that a nil
// ErrorList never becomes a non-nil error interface).
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// sort orders the problems by position, keeping the order of those at the
// same position.
func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}
