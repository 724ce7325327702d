// Package budget keeps every base inside its SeaTable API limits. It is
// pure logic with an injected clock and no I/O of its own; replicas share
// a base's budget through a small Store interface (a KV bucket with
// compare-and-set).
//
// # The log
//
// A base's State is the exact log of its call times. A call is admitted
// only if every window allows it at once, and it is then recorded in all
// of them (one log answers every window). A rolling window of span S and
// C calls admits at t when fewer than C calls fall in (t-S, t]; when n >= C
// do, the next free slot is exactly the (n-C)th of those calls (oldest
// first) plus S. There is no token bucket: a bucket of C tokens refilled
// at C per S lets 2C calls through in one rolling S. A month window counts
// the calls of the calendar month in UTC and frees them all at the first
// instant of the next month. Every constraint below only gets easier while
// no call is added, so the exact next time for a lane is the latest of the
// constraints' own next times.
//
// # Lanes
//
// Let W be the longest window (a month window counts as the longest), C
// its calls, R = Limits.UrgentReserve and A = C-R.
//
//   - Urgent may spend every window in full, the reserve included.
//   - Normal sees W's limit as A; the other windows in full.
//   - Bulk sees what Normal sees and is also paced along a spend curve, so
//     that a backlog cannot drain W early. With N = Limits.BulkSegments
//     steps (default 24), for every k in 1..N, a bulk call is admitted only
//     while fewer than ceil(A*k/N) calls, of every lane, fall in the
//     trailing floor(S*k/N) of time. For a month window the curve runs over
//     the calendar month instead: in its kth of N equal parts, fewer than
//     ceil(A*k/N) calls of the month.
//
// At the default limits (300 per minute and 5,000 per rolling 24 hours,
// reserve 500, 24 steps) that is: urgent 5,000 a day; normal 4,500 a day;
// bulk at most 188 calls in any trailing hour, 375 in any 2 hours, 563 in
// any 3, 1,125 in any 6, 2,250 in any 12, 4,313 in any 23 and 4,500 in any
// 24, and 300 in any minute like everyone else.
//
// The rule gives (a) bulk alone the whole non-reserved budget over a full
// window: paced at the curve it reaches A at the end of W; (b) room for
// urgent and normal all window long: however large the bulk backlog, after
// k steps of a quiet window it has spent at most ceil(A*k/N), leaving
// A-ceil(A*k/N) for normal and A-ceil(A*k/N)+R for urgent; and (c) an
// exact next, because each step is a rolling window of its own. Because
// the curve counts the calls of every lane, whatever urgent and normal
// spend comes out of bulk's allowance first: bulk never starves normal,
// it only takes what the others leave under the curve. The one place
// normal and bulk compete is a slot freeing up when the window is full;
// the dispatcher should ask for normal before bulk.
//
// # What SeaTable says
//
// SeaTable's own numbers win. A 429 freezes the base for every lane until
// its reset (State.Freeze). The x-ratelimit headers set a cap: until the
// reset, at most x-ratelimit-remaining more calls, on top of our windows,
// so the model can only get stricter (State.ObserveHeaders).
//
// # Sharing
//
// Keeper holds every base's State behind a Store: each operation loads the
// encoded state, applies itself and saves by compare-and-set, retrying
// from a fresh load when another replica saved first. Two replicas thus
// never admit more calls together than the windows allow.
package budget
