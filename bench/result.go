package bench

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// Result is what one strategy achieved on a workload, at the end of the day.
type Result struct {
	// Strategy names the strategy.
	Strategy string
	// Calls counts the gateway calls the emulator received, 429s included.
	Calls int
	// Got429 counts the calls the emulator answered 429.
	Got429 int
	// RowsWritten counts the rows carried by accepted write calls (a row
	// that several merged ops updated counts once).
	RowsWritten int
	// Ops is the number of ops queued during the day; Applied how many of
	// them landed, Undone how many had not at the end.
	Ops, Applied, Undone int
	// GaveUp counts the undone ops the strategy dropped after its last
	// try (lost, as a failed n8n execution loses them).
	GaveUp int
	// UrgentOps and UrgentApplied count the urgent ops.
	UrgentOps, UrgentApplied int
	// UrgentP50 and UrgentP99 are the delays from queueing to landing of
	// urgent ops (nearest rank); an undone op counts as an infinite delay,
	// and a percentile that falls on one is reported as Undone (-1).
	UrgentP50, UrgentP99, UrgentMax time.Duration
	// OldestBulk is the age at the end of the day of the oldest bulk op
	// not applied; 0 when every bulk op landed.
	OldestBulk time.Duration
	// LastBulk is when, after the start of the day, the last bulk op to
	// land landed; BulkDone reports whether every bulk op did.
	LastBulk time.Duration
	BulkDone bool
	// MaxPerMinute and MaxPerDay are the most gateway calls the emulator's
	// log shows in any 1-minute and 24-hour window.
	MaxPerMinute, MaxPerDay int
	// Mismatches counts the cells whose final value in the emulator is
	// not the value of the last applied op of that cell (0: correct).
	Mismatches int
	// Dead counts ops refused as invalid (seaflow only).
	Dead int
	// UrgentCalls and BulkCalls count the calls of the urgent and bulk
	// lanes (seaflow only: the baselines have no lanes).
	UrgentCalls, BulkCalls int
	// Events is how many clock events the simulation processed, Wall the
	// real time it took.
	Events int
	Wall   time.Duration
}

// RowsPerCall returns rows written per gateway call.
func (r Result) RowsPerCall() float64 {
	if r.Calls == 0 {
		return 0
	}
	return float64(r.RowsWritten) / float64(r.Calls)
}

// Undone is the delay reported for a percentile that falls on an op that
// never landed.
const Undone time.Duration = -1

// result measures s at the end of the day (every actor waiting), from
// Start on: a warm-up's calls and the ops it applied do not count, but
// its calls fill the windows the day starts with (and MaxPerMinute and
// MaxPerDay look at the whole log).
func (s *sim) result(name string) (Result, error) {
	end, start := s.clock.Now(), s.w.Start
	r := Result{Strategy: name, Events: s.clock.Steps()}
	s.emu.EachCall(func(c emulator.CallRecord) {
		if !c.Gateway || c.Time.Before(start) {
			return
		}
		r.Calls++
		switch {
		case c.Status == http.StatusTooManyRequests:
			r.Got429++
		case c.Status == http.StatusOK && c.Method != http.MethodGet && c.Endpoint != "/sql/":
			r.RowsWritten += c.Rows
		}
	})
	r.MaxPerMinute = s.emu.MaxInWindow(BaseName, time.Minute)
	r.MaxPerDay = s.emu.MaxInWindow(BaseName, 24*time.Hour)
	var urgent []time.Duration
	r.BulkDone = true
	for _, a := range s.arrivals {
		for i := range a.N {
			at := s.appliedAt[a.First+i-1]
			if !at.IsZero() && at.Before(start) {
				continue // applied in the warm-up
			}
			r.Ops++
			if at.IsZero() {
				r.Undone++
				if a.Lane == seaflow.Bulk {
					r.OldestBulk = max(r.OldestBulk, end.Sub(a.At))
					r.BulkDone = false
				}
			} else {
				r.Applied++
				if a.Lane == seaflow.Bulk {
					r.LastBulk = max(r.LastBulk, at.Sub(start))
				}
			}
			if a.Lane == seaflow.Urgent && !a.At.Before(start) {
				r.UrgentOps++
				d := time.Duration(math.MaxInt64)
				if !at.IsZero() {
					r.UrgentApplied++
					d = at.Sub(a.At)
				}
				urgent = append(urgent, d)
			}
		}
	}
	sort.Slice(urgent, func(i, j int) bool { return urgent[i] < urgent[j] })
	r.UrgentP50, r.UrgentP99, r.UrgentMax = percentile(urgent, 50), percentile(urgent, 99), percentile(urgent, 100)
	m, err := s.mismatches()
	if err != nil {
		return r, err
	}
	r.Mismatches = m
	return r, nil
}

// percentile returns the nearest-rank pth percentile of sorted, Undone
// for an infinite delay, 0 for no values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := max((p*len(sorted)+99)/100-1, 0)
	if sorted[i] == math.MaxInt64 {
		return Undone
	}
	return sorted[i]
}

// mismatches compares every cell of the table with the value of the last
// applied op that wrote it (ops write their sequence number, so the last is
// the largest); a cell no applied op wrote must be empty.
func (s *sim) mismatches() (int, error) {
	want := map[string]map[string]float64{}
	for _, a := range s.arrivals {
		for i := range a.N {
			seq := a.First + i
			if s.appliedAt[seq-1].IsZero() {
				continue
			}
			id := s.rowIDs[a.row(i)]
			cells := want[id]
			if cells == nil {
				cells = map[string]float64{}
				want[id] = cells
			}
			cells[a.Column] = max(cells[a.Column], float64(seq))
		}
	}
	rows, err := s.emu.Rows(s.base.UUID, TableName)
	if err != nil {
		return 0, fmt.Errorf("read final rows: %w", err)
	}
	bad := 0
	for _, row := range rows {
		id, _ := row["_id"].(string)
		for _, col := range []string{HookColumn, HourlyColumn, NightlyColumn, BacklogColumn} {
			w, wrote := want[id][col]
			got, set := row[col]
			switch {
			case set && got != nil && (!wrote || toFloat(got) > w) && s.inFlight(id, col, toFloat(got)):
				// Written by a call the day ended in: the emulator
				// applied it, its answer was still on the way.
			case !wrote && set && got != nil:
				bad++
			case wrote && (!set || toFloat(got) != w):
				bad++
			}
		}
	}
	return bad, nil
}

// inFlight reports whether seq is an op of row id and column col that is
// not recorded as applied: its call was sent and not yet answered when the
// day ended.
func (s *sim) inFlight(id, col string, seq float64) bool {
	n := int(seq)
	if float64(n) != seq || n < 1 || n > len(s.appliedAt) || !s.appliedAt[n-1].IsZero() {
		return false
	}
	k := sort.Search(len(s.arrivals), func(k int) bool { return s.arrivals[k].First > n }) - 1
	if k < 0 {
		return false
	}
	a := s.arrivals[k]
	i := n - a.First
	return i < a.N && a.Column == col && s.rowIDs[a.row(i)] == id
}

// toFloat reads a number cell; NaN when it is not a number.
func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float64:
		return n
	case interface{ Float64() (float64, error) }:
		f, err := n.Float64()
		if err != nil {
			return math.NaN()
		}
		return f
	}
	return math.NaN()
}
