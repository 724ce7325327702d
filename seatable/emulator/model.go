package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
)

// base is one in-memory SeaTable base. Every field is guarded by
// Emulator.mu.
type base struct {
	name     string
	uuid     string // 36 chars with dashes
	apiToken string // the read-write token of BaseInfo
	appName  string
	// team names the team whose monthly quota the base shares.
	team string
	// tokens are every API token of the base, apiToken first.
	tokens   []*apiToken
	tables   []*table
	links    map[string]*link
	webhooks []*webhook
	// nextHookID is the id of the last webhook added (ids are never reused).
	nextHookID int
	// calls holds the times of the gateway calls that consumed budget,
	// oldest first, pruned beyond the longest window.
	calls []time.Time
	// exchanges holds the times of token exchanges in the last minute.
	exchanges []time.Time
	stats     baseCounters
}

// apiToken is an API token the exchange accepts.
type apiToken struct {
	token    string
	base     *base
	readOnly bool
	appName  string
}

// table is one table of a base.
type table struct {
	id   string
	name string
	// loc is the server's time zone: stored dates are wall-clock times in
	// it, reads render them with its offset.
	loc     *time.Location
	columns []*column
	rows    map[string]*row
	order   []string // row ids in insertion order
}

// column is one column of a table.
type column struct {
	key     string
	name    string
	typ     string
	options []*option // single-select and multiple-select
	// link columns
	linkID       string
	otherTableID string
	// formula columns
	formula string
	program *vm.Program
	// dateFormat is a date column's data.format, e.g. "YYYY-MM-DD HH:mm".
	dateFormat string
}

// option is one choice of a select column.
type option struct {
	ID        string
	Name      string
	Color     string
	TextColor string
}

// row is one stored row. cells holds raw stored values by column key:
// option ids for selects, "2006-01-02" or "2006-01-02 15:04" for dates.
type row struct {
	id    string
	ctime time.Time
	mtime time.Time
	// creator and lastModifier are the _creator and _last_modifier user
	// ids: the token's app name for API writes [?], EditUser for edits.
	creator      string
	lastModifier string
	cells        map[string]any
	locked       bool
	lockedBy     string
}

// link is the set of connections behind one link_id: table1 is the table
// whose column created it.
type link struct {
	id       string
	table1ID string
	table2ID string
	ab       map[string][]string // table1 row id → table2 row ids
	ba       map[string][]string // table2 row id → table1 row ids
}

var optionColors = []string{"#FFFCB5", "#FFEAB6", "#FFD9C8", "#DEFFC4", "#CFFFE4", "#C4F1FF", "#CDDCFF", "#E2D9FF", "#F4667C", "#9860E5"}

// newRowID returns a 22-character row id of [A-Za-z0-9_-].
func newRowID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newShortID returns a 4-character id of [A-Za-z0-9] not in taken.
func newShortID(taken func(string) bool) string {
	for {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = alnum[int(b[i])%len(alnum)]
		}
		if !taken(string(b)) {
			return string(b)
		}
	}
}

// newUUID returns a random version 4 UUID with dashes.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newAPIToken returns a random 40-hex-character API token.
func newAPIToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// normalizeUUID accepts a UUID with or without dashes, any case, and
// returns it lower case with dashes; ok is false when s is no UUID.
func normalizeUUID(s string) (string, bool) {
	h := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(h) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", false
	}
	if strings.Contains(s, "-") && len(s) != 36 {
		return "", false
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
}

func (b *base) table(nameOrID string) *table {
	for _, t := range b.tables {
		if t.name == nameOrID {
			return t
		}
	}
	for _, t := range b.tables {
		if t.id == nameOrID {
			return t
		}
	}
	return nil
}

func (b *base) tableByID(id string) *table {
	for _, t := range b.tables {
		if t.id == id {
			return t
		}
	}
	return nil
}

// columnByName finds a column by its name only.
func (t *table) columnByName(name string) *column {
	for _, c := range t.columns {
		if c.name == name {
			return c
		}
	}
	return nil
}

// column finds a column by name, then by key.
func (t *table) column(nameOrKey string) *column {
	for _, c := range t.columns {
		if c.name == nameOrKey {
			return c
		}
	}
	for _, c := range t.columns {
		if c.key == nameOrKey {
			return c
		}
	}
	return nil
}

func (t *table) addColumn(name, typ string) *column {
	key := "0000"
	if len(t.columns) > 0 {
		key = newShortID(func(s string) bool {
			for _, c := range t.columns {
				if c.key == s {
					return true
				}
			}
			return false
		})
	}
	c := &column{key: key, name: name, typ: typ}
	t.columns = append(t.columns, c)
	return c
}

// optionByName returns the option called name, creating it when create is
// true and it does not exist.
func (c *column) optionByName(name string, create bool) (*option, bool) {
	for _, o := range c.options {
		if o.Name == name {
			return o, true
		}
	}
	if !create {
		return nil, false
	}
	return c.addOption(name), true
}

// optionIDs turns a read select value (an option name, or a list of
// names) into option ids; names it does not know stay as they are.
func (c *column) optionIDs(v any) any {
	id := func(x any) any {
		if s, ok := x.(string); ok {
			if o, found := c.optionByName(s, false); found {
				return o.ID
			}
		}
		return x
	}
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		for i, x := range list {
			out[i] = id(x)
		}
		return out
	}
	return id(v)
}

func (c *column) optionByID(id string) *option {
	for _, o := range c.options {
		if o.ID == id {
			return o
		}
	}
	return nil
}

// addOption appends an option with a fresh 6-digit id, as SeaTable's ids
// look.
func (c *column) addOption(name string) *option {
	var id string
	for {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		n := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) % 900000
		id = fmt.Sprintf("%06d", n+100000)
		if c.optionByID(id) == nil {
			break
		}
	}
	o := &option{ID: id, Name: name, Color: optionColors[len(c.options)%len(optionColors)], TextColor: "#212529"}
	c.options = append(c.options, o)
	return o
}

// others returns the row ids linked to rowID of table t through l.
func (l *link) others(t *table, rowID string) []string {
	if t.id == l.table1ID {
		return l.ab[rowID]
	}
	return l.ba[rowID]
}

// add connects a (a row of table1) and b (a row of table2); it reports
// false when they were already linked.
func (l *link) add(a, b string) bool {
	for _, x := range l.ab[a] {
		if x == b {
			return false
		}
	}
	l.ab[a] = append(l.ab[a], b)
	l.ba[b] = append(l.ba[b], a)
	return true
}

// remove disconnects a and b; it reports whether they were linked.
func (l *link) remove(a, b string) bool {
	found := false
	l.ab[a], found = without(l.ab[a], b)
	l.ba[b], _ = without(l.ba[b], a)
	if len(l.ab[a]) == 0 {
		delete(l.ab, a)
	}
	if len(l.ba[b]) == 0 {
		delete(l.ba, b)
	}
	return found
}

// dropRow removes every connection of a row of table t.
func (l *link) dropRow(t *table, rowID string) {
	if t.id == l.table1ID {
		for _, b := range append([]string(nil), l.ab[rowID]...) {
			l.remove(rowID, b)
		}
	}
	if t.id == l.table2ID {
		for _, a := range append([]string(nil), l.ba[rowID]...) {
			l.remove(a, rowID)
		}
	}
}

func without(s []string, v string) ([]string, bool) {
	for i, x := range s {
		if x == v {
			return append(s[:i:i], s[i+1:]...), true
		}
	}
	return s, false
}
