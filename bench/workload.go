package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
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
	case w.UrgentEvery < 0 || w.HourlyOps < 0 || w.NightlyOps < 0 || w.CallLatency < 0:
		return fmt.Errorf("workload: negative rate or size")
	}
	return nil
}

// Arrival is a group of ops queued at one time, by one source.
type Arrival struct {
	At  time.Time
	Ops []seaflow.Op
}

// Arrivals returns the workload's ops, grouped as they are queued, in time
// order. rowIDs are the ids of the table's rows (at least w.Rows). Op IDs
// are "op-<seq>" with seq counting from 1 in queue order, and every op
// writes seq into its column, so later ops of a cell carry larger values.
func (w Workload) Arrivals(rowIDs []string) []Arrival {
	rng := rand.New(rand.NewPCG(w.Seed, 0x5eaf10))
	end := w.Start.Add(w.Length)
	type pending struct {
		at    time.Time
		order int
		make  func(first int) []seaflow.Op
	}
	var groups []pending
	op := func(seq int, at time.Time, lane seaflow.Lane, row int, col string) seaflow.Op {
		return seaflow.Op{
			ID: fmt.Sprintf("op-%d", seq), Kind: seaflow.KindUpdate, Base: BaseName, Table: TableName,
			Lane: lane, RowID: rowIDs[row], Values: map[string]any{col: seq}, CreatedAt: at,
		}
	}
	if w.UrgentEvery > 0 {
		for t := w.Start; ; {
			gap := time.Duration(-math.Log(1-rng.Float64()) * float64(w.UrgentEvery))
			t = t.Add(gap)
			if !t.Before(end) {
				break
			}
			at, row := t, rng.IntN(w.Rows)
			groups = append(groups, pending{at: at, order: 0, make: func(first int) []seaflow.Op {
				return []seaflow.Op{op(first, at, seaflow.Urgent, row, HookColumn)}
			}})
		}
	}
	if w.HourlyOps > 0 {
		for h := 0; w.Start.Add(time.Duration(h) * time.Hour).Before(end); h++ {
			at, base := w.Start.Add(time.Duration(h)*time.Hour), h*w.HourlyOps
			groups = append(groups, pending{at: at, order: 1, make: func(first int) []seaflow.Op {
				ops := make([]seaflow.Op, w.HourlyOps)
				for i := range ops {
					ops[i] = op(first+i, at, seaflow.Bulk, (base+i)%w.Rows, HourlyColumn)
				}
				return ops
			}})
		}
	}
	if w.NightlyOps > 0 && w.NightlyAt < w.Length {
		at := w.Start.Add(w.NightlyAt)
		groups = append(groups, pending{at: at, order: 2, make: func(first int) []seaflow.Op {
			ops := make([]seaflow.Op, w.NightlyOps)
			for i := range ops {
				ops[i] = op(first+i, at, seaflow.Bulk, i%w.NightlyRows, NightlyColumn)
			}
			return ops
		}})
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if !groups[i].at.Equal(groups[j].at) {
			return groups[i].at.Before(groups[j].at)
		}
		return groups[i].order < groups[j].order
	})
	out := make([]Arrival, len(groups))
	seq := 1
	for i, g := range groups {
		ops := g.make(seq)
		seq += len(ops)
		out[i] = Arrival{At: g.at, Ops: ops}
	}
	return out
}
