package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// schema is the table every workload writes: a name and one number column
// per source of ops.
const schema = `
bases:
  - name: ` + BaseName + `
    tables:
      - name: ` + TableName + `
        columns:
          - { name: Name, type: text }
          - { name: ` + HookColumn + `, type: number }
          - { name: ` + HourlyColumn + `, type: number }
          - { name: ` + NightlyColumn + `, type: number }
          - { name: ` + BacklogColumn + `, type: number }
`

// sim is one strategy's world on a workload: its own virtual clock, its own
// emulator with the default limits (300 per minute, 5,000 per 24 hours),
// served in process, and the record of which op was applied when.
type sim struct {
	w     Workload
	clock *Clock
	emu   *emulator.Emulator
	base  emulator.BaseInfo
	// rowIDs are the table's rows in insertion order.
	rowIDs []string
	// appliedAt is when each op (by sequence number - 1) was applied;
	// zero when not.
	appliedAt []time.Time
	arrivals  []Arrival
}

// newSim loads the table with w.Rows rows into a fresh emulator with limits
// (nil: the default limits; empty: none) on a fresh clock at w.Start, and
// builds the workload's ops for its row ids.
func newSim(w Workload, limits []emulator.Limit) (*sim, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	clock := NewClock(w.Start.Add(-w.Warmup))
	emu := emulator.New(emulator.Options{Limits: limits, Now: clock.Now})
	f, err := emulator.ParseFixture("bench.yaml", []byte(schema))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	rows := make([]map[string]any, w.Rows)
	for i := range rows {
		rows[i] = map[string]any{"Name": "row " + strconv.Itoa(i)}
	}
	f.Bases[0].Tables[0].Rows = rows
	infos, err := emu.Load(f)
	if err != nil {
		return nil, fmt.Errorf("load table: %w", err)
	}
	got, err := emu.Rows(infos[0].UUID, TableName)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i], _ = r["_id"].(string)
	}
	s := &sim{w: w, clock: clock, emu: emu, base: infos[0], rowIDs: ids}
	s.arrivals = w.Arrivals(ids)
	total := 0
	for _, a := range s.arrivals {
		total += a.N
	}
	s.appliedAt = make([]time.Time, total)
	return s, nil
}

// client returns a SeaTable client that talks to the emulator in process on
// the virtual clock.
func (s *sim) client(observe func(seatable.Call)) *seatable.Client {
	return seatable.New(seatable.Config{
		ServerURL:  "http://emulator.invalid",
		APIToken:   s.base.APIToken,
		HTTPClient: &http.Client{Transport: handlerTransport{h: s.emu, clock: s.clock, latency: s.w.CallLatency}},
		Now:        s.clock.Now,
		Observe:    observe,
	})
}

// applied records that op landed now. It is called by actors.
func (s *sim) applied(op seaflow.Op) {
	seq, err := strconv.Atoi(strings.TrimPrefix(op.ID, "op-"))
	if err == nil && seq >= 1 && seq <= len(s.appliedAt) && s.appliedAt[seq-1].IsZero() {
		s.appliedAt[seq-1] = s.clock.Now()
	}
}

// run queues every arrival at its time through enqueue and runs the clock
// to the end of the day. It returns with every actor waiting.
func (s *sim) run(enqueue func(a Arrival)) {
	for _, a := range s.arrivals {
		s.clock.At(a.At, func() { enqueue(a) })
	}
	s.clock.Run(s.w.Start.Add(s.w.Length + s.w.Drain))
}

// updateOne updates one op's row with a one-row batch through the client.
func updateOne(ctx context.Context, c *seatable.Client, op seaflow.Op) error {
	err := c.UpdateRows(ctx, op.Table, []seatable.RowUpdate{{RowID: op.RowID, Row: seatable.Row(op.Values)}})
	if err != nil {
		return fmt.Errorf("update row: %w", err)
	}
	return nil
}
