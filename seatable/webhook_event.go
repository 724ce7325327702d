package seatable

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/seaflow/seaflow"
)

// WebhookKey is what identifies a SeaTable webhook delivery: the fields
// WebhookEvent.ID derives the event's id from.
type WebhookKey struct {
	BaseUUID string
	TableID  string
	RowID    string
	OpType   string
	// OpTime is data.op_time in Unix seconds with fractions (0 when absent).
	OpTime float64
}

// ID is the id of the delivery k identifies (see WebhookEvent.ID): equal
// to its WebhookEvent's for a body PeekWebhook accepts.
func (k WebhookKey) ID() string { return k.id(nil) }

// Time returns OpTime as a time.Time.
func (k WebhookKey) Time() time.Time {
	sec := int64(k.OpTime)
	return time.Unix(sec, int64((k.OpTime-float64(sec))*1e9)).UTC()
}

// id hashes the key, and data too when the key names no table or no row
// (a link event).
func (k WebhookKey) id(data map[string]any) string {
	b := make([]byte, 0, 128)
	for _, s := range [...]string{k.BaseUUID, k.TableID, k.RowID, k.OpType} {
		b = append(append(b, s...), 0)
	}
	b = append(strconv.AppendFloat(b, k.OpTime, 'f', -1, 64), 0)
	if k.TableID == "" || k.RowID == "" {
		// encoding/json sorts map keys, so this is canonical.
		d, _ := json.Marshal(data)
		b = append(b, d...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// DecodeWebhookEvent fills ev, a SeaTable webhook's event, from its body:
// OpType, Table, RowID, OpUser, Row and Old (the changed cells by column
// name, select options as names, dates as times), AutoColumns,
// BatchOpType, Body (the body without the cells), and Time when the body
// carries op_time. It returns the body's id (WebhookEvent.ID). A body
// ParseWebhook refuses sets only ev.Error, to the reason, and returns
// ok false. ev's Source, Name and Base are the caller's.
func DecodeWebhookEvent(ev *seaflow.Event, body []byte) (id string, ok bool) {
	st, err := ParseWebhook(body)
	if err != nil {
		ev.Error = "SeaTable body not understood: " + err.Error()
		return "", false
	}
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
	return st.ID(), true
}

// ExpandWebhookEvent decodes an event stored with its SeaTable body
// undecoded (ev.Raw) into the event rules see, keeping the id it was
// stored under, and clears Raw; other events are left as they are. A body
// that does not decode makes ev a failed event (Error set).
func ExpandWebhookEvent(ev *seaflow.Event) {
	if len(ev.Raw) == 0 {
		return
	}
	raw := ev.Raw
	ev.Raw = nil
	DecodeWebhookEvent(ev, raw)
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
