package seatable

import "testing"

// TestWebhookIDIsStable: ids are stored (the dedupe window, the event
// history), so the derivation must not change: a change would let a
// delivery SeaTable repeats across an upgrade be stored twice.
func TestWebhookIDIsStable(t *testing.T) {
	row := WebhookKey{BaseUUID: "650d8a0d7d4c4c4e9f2b0123456789ab", TableID: "0000", RowID: "RowA", OpType: "modify_row", OpTime: 1780000000.123456}
	link := WebhookKey{BaseUUID: "650d8a0d7d4c4c4e9f2b0123456789ab", OpType: "add_link", OpTime: 1.5}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"row event", row.ID(), "1ed8fc220f066d3767a7d6391b436316"},
		{"link event", link.id(map[string]any{"table1_id": "0000", "row1_id": "a", "table2_id": "0001", "row2_id": "b"}), "59bd70044338ff997a28b4eb40a3de5b"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: id %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}
