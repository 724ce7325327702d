package seatable

import "context"

// Metadata describes the tables of a base.
type Metadata struct {
	Tables []Table
}

// Table is one table of a base.
type Table struct {
	ID      string
	Name    string
	Columns []Column
	Views   []View
}

// Column is one column of a table. Data holds the type's settings (select
// options, link_id and table ids of a link, number format, ...); it is nil
// when the column has none.
type Column struct {
	Key  string
	Name string
	Type string
	Data map[string]any
}

// View is one view of a table.
type View struct {
	ID   string
	Name string
}

// Table returns the table with the given name or id, or nil.
func (m *Metadata) Table(nameOrID string) *Table {
	for i := range m.Tables {
		if m.Tables[i].Name == nameOrID {
			return &m.Tables[i]
		}
	}
	for i := range m.Tables {
		if m.Tables[i].ID == nameOrID {
			return &m.Tables[i]
		}
	}
	return nil
}

// Column returns the column with the given name or key, or nil.
func (t *Table) Column(nameOrKey string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == nameOrKey {
			return &t.Columns[i]
		}
	}
	for i := range t.Columns {
		if t.Columns[i].Key == nameOrKey {
			return &t.Columns[i]
		}
	}
	return nil
}

type columnJ struct {
	Key  string         `json:"key"`
	Name string         `json:"name"`
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func (c columnJ) column() Column {
	return Column(c)
}

type metadataResponse struct {
	Metadata *struct {
		Tables *[]struct {
			ID      string    `json:"_id"`
			Name    string    `json:"name"`
			Columns []columnJ `json:"columns"`
			Views   []struct {
				ID   string `json:"_id"`
				Name string `json:"name"`
			} `json:"views"`
		} `json:"tables"`
	} `json:"metadata"`
}

func (r *metadataResponse) validate() error {
	if r.Metadata == nil || r.Metadata.Tables == nil {
		return errString("response has no metadata.tables")
	}
	for _, t := range *r.Metadata.Tables {
		if t.ID == "" || t.Name == "" {
			return errString("a table has no _id or name")
		}
		for _, col := range t.Columns {
			if col.Key == "" || col.Name == "" || col.Type == "" {
				return errString("table " + t.Name + ": a column has no key, name or type")
			}
		}
	}
	return nil
}

// Metadata returns the tables, columns and views of the base.
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) {
	var out metadataResponse
	if err := c.do(ctx, request{op: "metadata", method: "GET", endpoint: "/metadata/"}, &out); err != nil {
		return nil, err
	}
	md := &Metadata{Tables: make([]Table, 0, len(*out.Metadata.Tables))}
	for _, t := range *out.Metadata.Tables {
		tb := Table{ID: t.ID, Name: t.Name}
		for _, col := range t.Columns {
			tb.Columns = append(tb.Columns, col.column())
		}
		for _, v := range t.Views {
			tb.Views = append(tb.Views, View{ID: v.ID, Name: v.Name})
		}
		md.Tables = append(md.Tables, tb)
	}
	return md, nil
}
