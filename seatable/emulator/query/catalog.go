package query

// Column describes a table column, or a column of a SELECT result.
type Column struct {
	// Name is the display name; result rows are keyed by it.
	Name string
	// Key is SeaTable's 4-character column key ("0000"); for a computed
	// result column (aggregate, expression) it equals Name.
	Key string
	// Type is SeaTable's column type string: "text", "number", "date",
	// "single-select", "multiple-select", "checkbox", ...
	Type string
	// Options are the option names of a select column, nil otherwise.
	Options []string
}

// Table is one table of a base as the engine sees it.
type Table interface {
	// Name returns the table name.
	Name() string
	// Columns returns the user columns in display order. The system columns
	// (SystemColumns) may be omitted; the engine adds them.
	Columns() []Column
	// Scan calls fn for every row in insertion order until fn returns false.
	// cells are keyed by column name: select values are option names,
	// multiple-select values []any of names, dates ISO strings
	// ("2030-06-20T00:00:00+02:00" or date-only), numbers float64, checkbox
	// bool, missing or empty cells nil. The system cells (SystemColumns)
	// are present. The engine never modifies cells and never keeps
	// the map after fn returns (it keeps cell values, which it does not
	// modify either), so a Table may reuse the map between rows.
	// Scan must not be re-entered from fn: the engine calls Update and Delete
	// only after Scan has returned.
	Scan(fn func(rowID string, cells map[string]any) bool)
	// Update sets the cells in set (keyed by column name) on one row. The
	// Table validates and converts the values; a *Error it returns reaches
	// the API caller as a 400.
	Update(rowID string, set map[string]any) error
	// Delete removes one row.
	Delete(rowID string) error
}

// Catalog looks tables up by name. The name is passed as written in the
// statement, backticks removed. SeaTable treats identifiers as
// case-insensitive, so a Catalog should match exactly first and then
// ignoring case; the engine leaves that choice to the Catalog.
type Catalog interface {
	Table(name string) (Table, bool)
}

// System column names every row carries.
const (
	ColumnID           = "_id"
	ColumnCtime        = "_ctime"
	ColumnMtime        = "_mtime"
	ColumnCreator      = "_creator"
	ColumnLastModifier = "_last_modifier"
	ColumnLocked       = "_locked"
	ColumnLockedBy     = "_locked_by"
	ColumnArchived     = "_archived"
)

// SystemColumns are the columns every row carries besides its user
// columns, as SeaTable 6.0 returns them from SELECT * (OAT querySQL
// snapshot). They are added to a table's columns when Columns omits them,
// and UPDATE cannot set them. The types of _locked, _locked_by and
// _archived in SQL metadata are [I].
var SystemColumns = []Column{
	{Name: ColumnID, Key: ColumnID, Type: "text"},
	{Name: ColumnCtime, Key: ColumnCtime, Type: "ctime"},
	{Name: ColumnMtime, Key: ColumnMtime, Type: "mtime"},
	{Name: ColumnCreator, Key: ColumnCreator, Type: "creator"},
	{Name: ColumnLastModifier, Key: ColumnLastModifier, Type: "last-modifier"},
	{Name: ColumnLocked, Key: ColumnLocked, Type: "checkbox"},
	{Name: ColumnLockedBy, Key: ColumnLockedBy, Type: "text"},
	{Name: ColumnArchived, Key: ColumnArchived, Type: "checkbox"},
}

// isSystem reports whether name is a system column.
func isSystem(name string) bool {
	for _, c := range SystemColumns {
		if c.Name == name {
			return true
		}
	}
	return false
}
