package seaflow

import (
	"encoding/json"
	"time"
)

// Source names the kind of trigger that produced an event.
type Source string

// The trigger kinds.
const (
	SourceCron    Source = "cron"
	SourceWebhook Source = "webhook"
	SourceNATS    Source = "nats"
	// SourceQuery is a page of rows a for_each read (Event.Page): seaflow's
	// own event, queued by the dispatcher.
	SourceQuery Source = "query"
)

// Event is what a trigger received, in the form rules see it. Events are
// serialized as JSON on the EVENTS stream before a trigger acknowledges
// what it received.
type Event struct {
	// ID is unique per real-world occurrence; redeliveries carry the same ID
	// so the EVENTS stream drops them (Nats-Msg-Id).
	ID string `json:"id"`
	// Source is the trigger kind.
	Source Source `json:"source"`
	// Name is the webhook name, the NATS subject, or the cron rule name.
	Name string `json:"name"`
	// Time is when the event happened (for cron: the scheduled time).
	Time time.Time `json:"time"`

	// SeaTable webhook fields (empty for other sources).
	Base   string `json:"base,omitempty"` // config name of the base the webhook belongs to
	OpType string `json:"op_type,omitempty"`
	Table  string `json:"table,omitempty"`
	RowID  string `json:"row_id,omitempty"`
	OpUser string `json:"op_user,omitempty"`
	// Row and Old hold the cells after and before the change, by column
	// name, with select options as names and dates as time values.
	Row map[string]any `json:"row,omitempty"`
	Old map[string]any `json:"old,omitempty"`
	// Self is true when seaflow itself made the change the webhook reports:
	// every changed cell is one seaflow wrote, with that value (the loop
	// guard, package loopguard).
	Self bool `json:"self,omitempty"`
	// SelfColumns are the changed cells that match a write seaflow made,
	// also when the event as a whole is a user's (a mixed edit).
	SelfColumns []string `json:"self_columns,omitempty"`
	// AutoColumns are the changed cells SeaTable fills in itself
	// (creator, ctime, last-modifier, mtime, formulas, auto-numbers): no
	// one's edit, left out when the loop guard compares.
	AutoColumns []string `json:"auto_columns,omitempty"`
	// BatchOpType is the op type SeaTable sent when it reported a batch
	// (modify_rows, append_rows, …): OpType is then the single-row one
	// (modify_row, …), for the row the event carries.
	BatchOpType string `json:"batch_op_type,omitempty"`
	// CaughtUp is true for a change the catch-up poll found that the
	// webhook never delivered: Row then holds every cell of the row as it
	// is now, and Old is empty (a poll cannot see old values).
	CaughtUp bool `json:"caught_up,omitempty"`
	// Depth counts rule-caused events in a chain (loop guard).
	Depth int `json:"depth,omitempty"`

	// Body is the decoded JSON body of a webhook; Msg the decoded JSON
	// payload of a NATS message.
	Body any `json:"body,omitempty"`
	Msg  any `json:"msg,omitempty"`
	// Rule is set for cron events: the rule whose schedule fired.
	Rule string `json:"rule,omitempty"`
	// Error is set when the trigger stored what it received but could not
	// decode it (a correctly signed SeaTable body of a shape seaflow does
	// not know): no rule runs, and the event shows as failed with this
	// reason. A signed SeaTable delivery is never refused for its content,
	// because SeaTable disables a webhook after five refusals.
	Error string `json:"error,omitempty"`
	// Page, when set, makes the event a page of rows a for_each read: the
	// rows are evaluated one by one as item by the page's rule only, against
	// the page's event. Its ID is the query op's plus the part.
	Page *Page `json:"page,omitempty"`
	// Raw is a SeaTable webhook body stored as it came, undecoded, so that
	// intake does no more than it must: whoever reads the event from the
	// EVENTS stream (package queue) decodes it into the fields above
	// (seatable.DecodeWebhookEvent) and clears it, so rules never see it.
	// It must be valid JSON (intake's decode of the id checked it): the
	// queue stores it without scanning it again.
	Raw json.RawMessage `json:"raw,omitempty"`
	// Redelivered is set by the queue when the event was handed out before
	// (a crash before its ack): its ops may have been queued and sent
	// already. Not stored.
	Redelivered bool `json:"-"`
}

// Page is rows a for_each query read, for its rule to evaluate.
type Page struct {
	// Event is the event the rule's for_each runs for (a cron tick): ops
	// are derived from its id, as if all rows had been read at once.
	Event Event `json:"event"`
	// Rule is the name of the rule whose for_each read the rows.
	Rule string `json:"rule"`
	// OpPrefix is put before the id of every op the page produces (a
	// replay's prefix; empty otherwise).
	OpPrefix string `json:"op_prefix,omitempty"`
	// Offset is the index of the first of Rows among all the query's rows.
	Offset int `json:"offset"`
	// Rows are the rows read, cells by column name.
	Rows []map[string]any `json:"rows"`
}
