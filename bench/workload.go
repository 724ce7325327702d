package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/seaflow/seaflow"
)

// The base and table every workload writes to, and the column each source
// of ops writes (so each cell has one writer, and its expected final value
// is the value of the last op applied to it).
const (
	BaseName      = "bench"
	TableName     = "Items"
	HookColumn    = "Hook"
	HourlyColumn  = "Hourly"
	NightlyColumn = "Nightly"
	BacklogColumn = "Backlog"
)

// Workload describes a mixed day: a Poisson trickle of urgent webhook
// updates, an hourly bulk job and a nightly bulk job, all updates of rows of
// one table. Every op writes its own sequence number into its column.
type Workload struct {
	// Start is when the day begins (the emulator's windows are empty then).
	Start time.Time
	// Length is how long ops arrive, from Start.
	Length time.Duration
	// Drain is how long the simulation runs on after Length with no new
	// arrivals; ops not applied by Start+Length+Drain are reported as
	// undone. 0 measures the day as it ends.
	Drain time.Duration
	// Rows is the number of rows of the table.
	Rows int
	// UrgentEvery is the mean time between urgent webhook updates (Poisson
	// arrivals); each updates one random row. 0 means none.
	UrgentEvery time.Duration
	// HourlyOps is the number of row updates the hourly job queues at every
	// whole hour from Start (Start included). 0 means no hourly job.
	HourlyOps int
	// NightlyAt is when, after Start, the nightly job queues NightlyOps row
	// updates spread over the first NightlyRows rows (row i%NightlyRows for
	// the ith op, so each row is updated NightlyOps/NightlyRows times).
	NightlyAt   time.Duration
	NightlyOps  int
	NightlyRows int
	// Seed makes the urgent arrivals and rows reproducible.
	Seed uint64
	// Backlog is a bulk backlog of row updates queued when the
	// simulation starts (at Start-Warmup), op i updating row i mod Rows,
	// so no 1,000 ops in a row name a row twice when Rows >= 1,000 (none
	// merge: every row op is one row of a call). 0 means none.
	Backlog int
	// Warmup runs the workload for this long before Start: results count
	// from Start on, with the windows full of the warm-up's calls (a
	// steady-state day). 0 starts with empty windows.
	Warmup time.Duration
	// CallLatency is the virtual time every SeaTable call takes: the
	// emulator answers when the call is sent, the caller has the answer
	// CallLatency later. 0 makes calls instantaneous.
	CallLatency time.Duration
}

// DefaultWorkload is the full day of bench/README.md: 24 hours, 20,000
// rows, an urgent update every 20 s on average, 2,000 hourly updates and
// 200,000 nightly updates at 02:00 over the 20,000 rows, calls taking
// 100 ms.
func DefaultWorkload() Workload {
	return Workload{
		Start:       time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Length:      24 * time.Hour,
		Rows:        20000,
		UrgentEvery: 20 * time.Second,
		HourlyOps:   2000,
		NightlyAt:   2 * time.Hour,
		NightlyOps:  200000,
		NightlyRows: 20000,
		Seed:        1,
		CallLatency: 100 * time.Millisecond,
	}
}

// SaturatedWorkload is the ceiling's day: 6,000,000 bulk row updates
// queued at 00:00, more than the ceiling (5,000 calls of 1,000 rows per
// rolling 24 hours) can carry in the day, so it never runs out of work;
// plus DefaultWorkload's urgent trickle, one update every 20 s on average.
// The day is the rolling 24 hours, so what it writes is what one window
// admits; Warmup adds a day before it (steady state).
func SaturatedWorkload() Workload {
	w := DefaultWorkload()
	w.HourlyOps, w.NightlyOps, w.NightlyRows = 0, 0, 0
	w.Backlog = 6_000_000
	return w
}

// SteadyWorkload is DefaultWorkload after a day of itself: the measured
// day starts with yesterday's calls in the windows.
func SteadyWorkload() Workload {
	w := DefaultWorkload()
	w.Warmup = 24 * time.Hour
	return w
}

// Validate reports the first problem with w.
func (w Workload) Validate() error {
	switch {
	case w.Length <= 0:
		return fmt.Errorf("workload length %s: must be positive", w.Length)
	case w.Drain < 0:
		return fmt.Errorf("workload drain %s: must not be negative", w.Drain)
	case w.Rows <= 0:
		return fmt.Errorf("workload rows %d: must be positive", w.Rows)
	case w.NightlyOps > 0 && (w.NightlyRows <= 0 || w.NightlyRows > w.Rows):
		return fmt.Errorf("workload nightly rows %d: must be in 1..%d", w.NightlyRows, w.Rows)
	case w.UrgentEvery < 0 || w.HourlyOps < 0 || w.NightlyOps < 0 || w.CallLatency < 0 || w.Backlog < 0 || w.Warmup < 0:
		return fmt.Errorf("workload: negative rate or size")
	}
	return nil
}

// Arrival is a group of ops queued at one time, by one source: N row
// updates of one lane writing one column, op i updating row
// (RowOffset+i) mod RowMod and numbered First+i. Its ops are made on
// demand (Op), so a backlog of millions costs nothing until it is fetched.
type Arrival struct {
	At                time.Time
	First, N          int
	Lane              seaflow.Lane
	Column            string
	RowOffset, RowMod int
	rowIDs            []string
}

// Op returns the arrival's ith op: id "op-<seq>", writing seq into its
// column, created at the arrival's time.
func (a Arrival) Op(i int) seaflow.Op {
	seq := a.First + i
	return seaflow.Op{
		ID: "op-" + strconv.Itoa(seq), Kind: seaflow.KindUpdate, Base: BaseName, Table: TableName,
		Lane: a.Lane, RowID: a.rowIDs[a.row(i)], Values: map[string]any{a.Column: seq}, CreatedAt: a.At,
	}
}

// row is the index of the ith op's row.
func (a Arrival) row(i int) int { return (a.RowOffset + i) % a.RowMod }

// Ops returns every op of the arrival.
func (a Arrival) Ops() []seaflow.Op {
	ops := make([]seaflow.Op, a.N)
	for i := range ops {
		ops[i] = a.Op(i)
	}
	return ops
}

// Arrivals returns the workload's ops, grouped as they are queued, in time
// order, from Start-Warmup to Start+Length. rowIDs are the ids of the
// table's rows (at least w.Rows). Op IDs are "op-<seq>" with seq counting
// from 1 in queue order, and every op writes seq into its column, so later
// ops of a cell carry larger values.
func (w Workload) Arrivals(rowIDs []string) []Arrival {
	rng := rand.New(rand.NewPCG(w.Seed, 0x5eaf10))
	from, end := w.Start.Add(-w.Warmup), w.Start.Add(w.Length)
	type group struct {
		order int
		a     Arrival
	}
	var groups []group
	add := func(order int, at time.Time, n int, lane seaflow.Lane, col string, offset, mod int) {
		groups = append(groups, group{order, Arrival{At: at, N: n, Lane: lane, Column: col, RowOffset: offset, RowMod: mod, rowIDs: rowIDs}})
	}
	if w.Backlog > 0 {
		add(-1, from, w.Backlog, seaflow.Bulk, BacklogColumn, 0, w.Rows)
	}
	if w.UrgentEvery > 0 {
		for t := from; ; {
			gap := time.Duration(-math.Log(1-rng.Float64()) * float64(w.UrgentEvery))
			t = t.Add(gap)
			if !t.Before(end) {
				break
			}
			add(0, t, 1, seaflow.Urgent, HookColumn, rng.IntN(w.Rows), w.Rows)
		}
	}
	if w.HourlyOps > 0 {
		for h := 0; from.Add(time.Duration(h) * time.Hour).Before(end); h++ {
			add(1, from.Add(time.Duration(h)*time.Hour), w.HourlyOps, seaflow.Bulk, HourlyColumn, h*w.HourlyOps%w.Rows, w.Rows)
		}
	}
	if w.NightlyOps > 0 {
		for day := w.Start.Add(-w.Warmup.Truncate(24 * time.Hour)); day.Before(end); day = day.Add(24 * time.Hour) {
			if at := day.Add(w.NightlyAt); !at.Before(from) && at.Before(end) && w.NightlyAt < w.Length {
				add(2, at, w.NightlyOps, seaflow.Bulk, NightlyColumn, 0, w.NightlyRows)
			}
		}
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if !groups[i].a.At.Equal(groups[j].a.At) {
			return groups[i].a.At.Before(groups[j].a.At)
		}
		return groups[i].order < groups[j].order
	})
	out := make([]Arrival, len(groups))
	seq := 1
	for i, g := range groups {
		g.a.First = seq
		seq += g.a.N
		out[i] = g.a
	}
	return out
}
