// Package loopguard tells seaflow's own writes from everybody else's when
// SeaTable's webhooks report them back, by content, and stops rule loops
// that get past that.
//
// # Echoes
//
// Before a call is sent, the dispatcher hands the guard every write it
// carries (Expect): base, table, row (for an append, the values until the
// row id is known: Appended), the kind, the cells written and the depth of
// the rule chain that wrote them. The guard keeps each as a pending echo
// in a shared store (a KV bucket of the durable spine), so a restart or
// another replica sees it. When a webhook event comes (Match), it is
// seaflow's own (event.self) only when every changed cell it carries is
// one a pending echo of its row wrote, with that value; that echo is then
// consumed, by the event's id, so the same event matched again (a
// redelivery, a replay) gets the same answer and no other event can use
// it. Any other change is the user's, however soon after seaflow's write it
// comes; event.self_columns names the cells of a mixed edit that match.
// Deletes match a pending delete of the row, link events a pending link
// of the two rows, appends a pending append of the table with the same
// cells (or, once its id is known, of that row).
//
// Pending echoes expire after a TTL (hours): a memory bound, not a
// correctness window. An echo SeaTable never sends (a write that changed
// nothing, the rows of a batch event past its first) simply expires.
//
// What is not matched: an sql op's rows are not known, so its echoes are
// not recognised (the breaker stops a loop through them); a user setting a
// cell to exactly the value seaflow is about to write, to the same row,
// before seaflow's own echo arrives, is taken for the echo.
//
// # The breaker
//
// Whatever the matching misses, a Breaker caps the writes one rule makes
// to one row in any hour (rule-caused writes from webhook events); past it
// the rule's ops for that row are dropped and the trace says why.
package loopguard
