package triggers

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

// decodeWebhook turns a verified webhook body into the event rules see.
//
// For a SeaTable webhook the body is SeaTable's payload: the id is derived
// from it (base, table, row, op type, op time), Base is the webhook's
// config base, and row/old hold the changed cells by column name with
// select options as names and dates as times; id is ignored. A SeaTable
// body seaflow cannot read is still an event, with Error set, never a
// refusal.
//
// For other webhooks the body must be a JSON object or array (an error is
// the sender's to fix, answered 400); id is the caller's (an
// Idempotency-Key, a signature digest or a random id), scoped to the hook.
func decodeWebhook(h *rules.WebhookConfig, id string, body []byte, received time.Time) (seaflow.Event, error) {
	ev := seaflow.Event{Source: seaflow.SourceWebhook, Name: h.Name, Time: received.UTC()}
	if h.SeaTable == nil {
		if id == "" {
			return seaflow.Event{}, errors.New("empty event id")
		}
		var decoded any
		if err := json.Unmarshal(body, &decoded); err != nil {
			return seaflow.Event{}, fmt.Errorf("body is not JSON: %w", err)
		}
		switch decoded.(type) {
		case map[string]any, []any:
		default:
			return seaflow.Event{}, errors.New("body must be a JSON object or array")
		}
		ev.ID, ev.Body = "webhook/"+h.Name+"/"+id, decoded
		return ev, nil
	}
	ev.Base = h.SeaTable.Base
	st, err := seatable.ParseWebhook(body)
	if err != nil {
		// Stored as a failed event under an id derived from the bytes, so a
		// redelivery of the same bytes is the same event.
		ev.ID = "webhook/" + h.Name + "/unreadable/" + digest(h.Name, body)
		ev.Error = "SeaTable body not understood: " + err.Error()
		return ev, nil
	}
	ev.ID = st.ID()
	ev.Body = st.Envelope()
	ev.OpType = st.OpType
	ev.Table = st.TableName
	ev.RowID = st.RowID
	ev.OpUser = st.OpUser
	if single, ok := batchOps[st.OpType]; ok {
		// A batch reports its first row the way a single edit does, so a
		// rule on modify_row sees it; batch_op_type keeps what was sent.
		ev.OpType, ev.BatchOpType = single, st.OpType
	}
	if ev.Table == "" && ev.RowID == "" {
		// A link event: its first side names the table and row.
		ev.Table, _ = st.Raw["table1_name"].(string)
		ev.RowID, _ = st.Raw["table1_row_id"].(string)
	}
	if st.OpTime > 0 {
		ev.Time = st.Time()
	}
	ev.Row = make(map[string]any, len(st.Cells))
	ev.Old = make(map[string]any, len(st.Cells))
	for _, cell := range st.Cells {
		v, old := cell.Display()
		ev.Row[cell.ColumnName] = v
		ev.Old[cell.ColumnName] = old
		if autoColumnTypes[cell.ColumnType] {
			ev.AutoColumns = append(ev.AutoColumns, cell.ColumnName)
		}
	}
	return ev, nil
}

// batchOps maps SeaTable's batch op types to the single-row ones.
var batchOps = map[string]string{
	"insert_rows": "insert_row", "append_rows": "insert_row",
	"modify_rows": "modify_row", "delete_rows": "delete_row",
}

// autoColumnTypes are the column types SeaTable fills in itself: a change
// of such a cell is nobody's edit.
var autoColumnTypes = map[string]bool{
	"creator": true, "ctime": true, "last-modifier": true, "mtime": true,
	"formula": true, "link-formula": true, "auto-number": true,
}

// NATSEvent turns a NATS message into an event. data is decoded as JSON
// into msg; data that is not JSON becomes msg as a string. id is the
// message's id (its Nats-Msg-Id, or stream sequence), scoped to the subject.
func NATSEvent(subject, id string, data []byte, received time.Time) (seaflow.Event, error) {
	if subject == "" || id == "" {
		return seaflow.Event{}, errors.New("nats event: empty subject or id")
	}
	var msg any
	if err := json.Unmarshal(data, &msg); err != nil {
		msg = string(data)
	}
	return seaflow.Event{ID: "nats/" + subject + "/" + id, Source: seaflow.SourceNATS, Name: subject, Time: received.UTC(), Msg: msg}, nil
}

// CronEvent is the event of a cron rule's scheduled run. Its id is
// "cron/RULE/TIME" with the scheduled time in UTC RFC 3339, so every
// replica computes the same id for the same tick.
func CronEvent(rule string, scheduled time.Time) seaflow.Event {
	t := scheduled.UTC()
	return seaflow.Event{
		ID:     "cron/" + rule + "/" + t.Format(time.RFC3339),
		Source: seaflow.SourceCron,
		Name:   rule,
		Rule:   rule,
		Time:   t,
	}
}
