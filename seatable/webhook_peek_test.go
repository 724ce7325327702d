package seatable

import "testing"

// TestPeekReadsKeysAsTheFullDecodeDoes: the peek takes a body only where
// it reads the key ParseWebhook reads; elsewhere it leaves the body to it.
func TestPeekReadsKeysAsTheFullDecodeDoes(t *testing.T) {
	const row = `"dtable_uuid":"u","table_id":"t","row_id":"r","op_type":"modify_row","op_time":1.5`
	for _, tc := range []struct {
		name   string
		body   string
		peeked bool
	}{
		{"plain", `{"event":"update","data":{` + row + `}}`, true},
		{"spaces", " {\n \"event\" : \"update\" ,\t\"data\" : { " + row + " , \"row_data\" : [ {\"value\": \"}]\\\"\"} ] } } ", true},
		{"keys are exact", `{"event":"update","Data":{"row_id":"x"},"data":{` + row + `}}`, true},
		{"the last data wins whole", `{"event":"update","data":{"row_id":"x","extra":1},"data":{` + row + `}}`, true},
		{"the last field wins", `{"event":"update","data":{` + row + `,"row_id":"r2"}}`, true},
		{"op_time null", `{"event":"update","data":{"dtable_uuid":"u","table_id":"t","row_id":"r","op_type":"modify_row","op_time":null}}`, true},
		{"escaped key", `{"event":"update","data":{` + row + `,"row\u005fid":"r2"}}`, false},
		{"escaped value", `{"event":"update","data":{` + row + `,"row_id":"r\"2"}}`, false},
		{"invalid UTF-8", "{\"event\":\"update\",\"data\":{" + row + ",\"row_id\":\"r\xff\"}}", false},
		{"op_time a string", `{"event":"update","data":{"dtable_uuid":"u","table_id":"t","row_id":"r","op_type":"modify_row","op_time":"1.5"}}`, false},
		{"row id a number", `{"event":"update","data":{"dtable_uuid":"u","table_id":"t","row_id":7,"op_type":"modify_row"}}`, false},
		{"a link event", `{"event":"update","data":{"dtable_uuid":"u","op_type":"add_link","op_time":1}}`, false},
		{"data not an object", `{"event":"update","data":[1]}`, false},
		{"no event", `{"data":{` + row + `}}`, false},
		{"not JSON", `{"event":"update","data":{` + row + `}`, false},
		{"empty object", `{}`, false},
		{"an array", `[{"event":"update"}]`, false},
	} {
		key, ok := PeekWebhook([]byte(tc.body))
		if ok != tc.peeked {
			t.Errorf("%s: peeked %v, want %v (%+v)", tc.name, ok, tc.peeked, key)
			continue
		}
		if !ok {
			continue
		}
		w, err := ParseWebhook([]byte(tc.body))
		if err != nil {
			t.Errorf("%s: ParseWebhook: %v", tc.name, err)
			continue
		}
		if key.ID() != w.ID() || key.RowID != w.RowID || key.OpTime != w.OpTime {
			t.Errorf("%s: peeked %+v (id %s), decoded row %s op_time %v (id %s)", tc.name, key, key.ID(), w.RowID, w.OpTime, w.ID())
		}
	}
}
