package seatable

import (
	"encoding/json"
	"testing"
)

// loadBody is a body like the intake benchmark's (e2e/loadgen).
var loadBody = []byte(`{"data":{"dtable_uuid":"30315634822f4f438c058f3e3c0d8175","op_time":1796200000.123456,"op_type":"modify_row","op_user":"loadgen@auth.local","row_data":[{"column_data":null,"column_key":"0001","column_name":"Note","column_type":"text","old_value":null,"value":"n123456"}],"row_id":"-hE1Tdp_EY94MzuSl0crGw","row_name":"load 123456","table_id":"0000","table_name":"Deals"},"event":"update"}`)

// BenchmarkPeekWebhook is what intake reads of a SeaTable body, beside
// the full decode its reader does (BenchmarkParseWebhook) and a bare
// validity scan (BenchmarkValidJSON), the least any reading costs.
func BenchmarkPeekWebhook(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := PeekWebhook(loadBody); !ok {
			b.Fatal("not peeked")
		}
	}
}

// BenchmarkParseWebhook is the full decode of the same body.
func BenchmarkParseWebhook(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseWebhook(loadBody); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidJSON is json.Valid of the same body.
func BenchmarkValidJSON(b *testing.B) {
	for b.Loop() {
		if !json.Valid(loadBody) {
			b.Fatal("invalid")
		}
	}
}
